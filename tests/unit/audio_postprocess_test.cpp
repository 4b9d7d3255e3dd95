// Output post-processing of decoded audio (acestep-model.md 13.6): clip
// protection, peak normalisation per item, non-finite audio and bad targets.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include "models/vae/audio_postprocess.h"

namespace acefit {
namespace {

using models::HostAudio;

double peak(std::span<const float> samples) {
  double p = 0.0;
  for (const float v : samples) p = std::max(p, std::fabs(static_cast<double>(v)));
  return p;
}

TEST(AudioPostprocess, ClipsAndNormalises) {
  const double target = std::pow(10.0, -1.0 / 20.0);
  // Peak 2: divided by 2, then normalised to -1 dBFS.
  std::vector<float> loud = {0.5f, -2.0f, 1.0f, 0.25f};
  ASSERT_TRUE(models::postprocess_audio_item(loud).ok());
  EXPECT_NEAR(peak(loud), target, 1e-6);
  EXPECT_NEAR(loud[0], 0.25 * target, 1e-6);
  EXPECT_NEAR(loud[1], -target, 1e-6);

  // Without normalisation: only the clipping protection.
  std::vector<float> clip = {0.5f, -4.0f, 1.0f};
  ASSERT_TRUE(models::postprocess_audio_item(clip, {.normalize = false}).ok());
  EXPECT_FLOAT_EQ(clip[0], 0.125f);
  EXPECT_FLOAT_EQ(clip[1], -1.0f);
  EXPECT_FLOAT_EQ(clip[2], 0.25f);
  std::vector<float> quiet = {0.1f, -0.3f};
  ASSERT_TRUE(models::postprocess_audio_item(quiet, {.normalize = false}).ok());
  EXPECT_EQ(quiet, (std::vector<float>{0.1f, -0.3f}));

  // A quiet item is raised to the target; another target level.
  ASSERT_TRUE(models::postprocess_audio_item(quiet, {.target_dbfs = -6.0}).ok());
  EXPECT_NEAR(peak(quiet), std::pow(10.0, -6.0 / 20.0), 1e-6);
  EXPECT_NEAR(quiet[0] / quiet[1], 0.1 / -0.3, 1e-6);

  // Near-silence (peak < 1e-6) is left alone; exact silence too.
  std::vector<float> silence = {5e-7f, -1e-7f};
  ASSERT_TRUE(models::postprocess_audio_item(silence).ok());
  EXPECT_EQ(silence, (std::vector<float>{5e-7f, -1e-7f}));
  std::vector<float> zeros(8, 0.0f);
  ASSERT_TRUE(models::postprocess_audio_item(zeros).ok());
  EXPECT_EQ(zeros, std::vector<float>(8, 0.0f));
  std::vector<float> empty;
  EXPECT_TRUE(models::postprocess_audio_item(empty).ok());
}

TEST(AudioPostprocess, TreatsEachItemOnItsOwn) {
  HostAudio audio;
  audio.batch = 2;
  audio.channels = 2;
  audio.samples = 2;
  audio.data = {0.1f, 0.2f, -0.4f, 0.0f,     // item 0: peak 0.4
                3.0f, 0.0f, 1.5f,  -0.75f};  // item 1: peak 3
  ASSERT_TRUE(models::postprocess_audio(audio, {.normalize = false}).ok());
  EXPECT_EQ(std::vector<float>(audio.data.begin(), audio.data.begin() + 4),
            (std::vector<float>{0.1f, 0.2f, -0.4f, 0.0f}));
  EXPECT_FLOAT_EQ(audio.data[4], 1.0f);
  EXPECT_FLOAT_EQ(audio.data[6], 0.5f);
  EXPECT_FLOAT_EQ(audio.data[7], -0.25f);
  ASSERT_TRUE(models::postprocess_audio(audio).ok());
  const double target = std::pow(10.0, -1.0 / 20.0);
  EXPECT_NEAR(peak(audio.item(0)), target, 1e-6);
  EXPECT_NEAR(peak(audio.item(1)), target, 1e-6);
  EXPECT_NEAR(audio.data[0], 0.25 * target, 1e-6);

  HostAudio short_buffer = audio;
  short_buffer.data.pop_back();
  EXPECT_EQ(models::postprocess_audio(short_buffer).code(), ErrorCode::invalid_argument);
}

TEST(AudioPostprocess, RejectsNonFiniteAudioAndBadTargets) {
  std::vector<float> nan = {0.1f, std::numeric_limits<float>::quiet_NaN(), 0.3f};
  const Status status = models::postprocess_audio_item(nan);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("NaN"), std::string::npos) << status.to_string();
  EXPECT_NE(status.message().find("index 1"), std::string::npos) << status.to_string();
  EXPECT_FLOAT_EQ(nan[0], 0.1f);  // untouched

  const std::vector<float> inf = {std::numeric_limits<float>::infinity(), 0.0f,
                                  -std::numeric_limits<float>::infinity()};
  const Status inf_status = models::check_finite_audio(inf, "item 3");
  ASSERT_FALSE(inf_status.ok());
  EXPECT_NE(inf_status.message().find("item 3: 2 of 3"), std::string::npos)
      << inf_status.to_string();
  EXPECT_TRUE(models::check_finite_audio(std::vector<float>{0.0f, -1.0f, 7.0f}, "ok").ok());

  HostAudio audio;
  audio.batch = 2;
  audio.channels = 1;
  audio.samples = 2;
  audio.data = {0.1f, 0.2f, 0.3f, std::numeric_limits<float>::infinity()};
  const Status batch_status = models::postprocess_audio(audio);
  ASSERT_FALSE(batch_status.ok());
  EXPECT_NE(batch_status.message().find("item 1"), std::string::npos) << batch_status.to_string();

  std::vector<float> fine = {0.5f};
  EXPECT_EQ(models::postprocess_audio_item(fine, {.target_dbfs = 3.0}).code(),
            ErrorCode::invalid_argument);
  EXPECT_EQ(models::postprocess_audio_item(fine, {.target_dbfs = std::nan("")}).code(),
            ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace acefit
