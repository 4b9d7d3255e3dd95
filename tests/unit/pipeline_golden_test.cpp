// The whole sampling pipeline against the PyTorch reference's goldens: ids
// -> encoder states -> turbo ODE / turbo SDE / base (CFG + APG, and without
// guidance) latents after every step -> decoded, normalised audio. The
// reference's noise is an input, since seeds are not bit-compatible.
#include <gtest/gtest.h>

#include "golden_support.h"
#include "models/vae/audio_postprocess.h"
#include "pipeline/generator.h"
#include "pipeline/noise.h"
#include "test_support.h"

namespace acefit::testing {
namespace {

class PipelineGoldenTest : public DeviceTest {
 protected:
  Generator load() { return golden_generator(ctx(), GetParam()); }

  // Runs the plan from the golden's noise and checks the state after each step.
  void check_steps(const Generator& generator, const GoldenFile& golden,
                   const Generator::SamplingPlan& plan, const std::string& prefix,
                   std::vector<float>* final_latents = nullptr) {
    const auto states =
        unwrap(generator.encode_ids(golden["caption_ids"].i64, golden["lyric_ids"].i64, 1));
    expect_matches_golden(states.states, golden["encoder_states"], "encoder_states");
    const std::vector<float> latents =
        sample_and_check_steps(generator, states, golden, plan, prefix);
    if (final_latents != nullptr) *final_latents = latents;
  }
};

TEST_P(PipelineGoldenTest, TurboOdeStepsAndAudio) {
  const GoldenFile golden("turbo_e2e");
  const Generator generator = load();
  ASSERT_TRUE(generator.turbo());
  Generator::SamplingPlan plan;
  plan.schedule = unwrap(turbo_schedule(3.0));
  plan.guidance.scale = 1.0;
  std::vector<float> latents;
  check_steps(generator, golden, plan, "latents_step_", &latents);
  const std::int64_t frames = golden["noise"].shape.at(1);
  // One tile (chunk >= T), then the reference's post-processing.
  auto audio = unwrap(generator.decode(latents, 1, frames, 1024, 64));
  ASSERT_TRUE(models::postprocess_audio(audio).ok());
  // The latents differ from the reference's by ~3e-6 of their peak; the
  // synthetic VAE's f32 rounding (see ModelGoldenTest.VaeDecodeWholeAndTiled)
  // and the peak normalisation then give ~7e-4 of the audio peak.
  expect_matches_golden(audio.data, golden["audio"], "audio", 0.99999, 2e-3);
}

TEST_P(PipelineGoldenTest, TurboSdeStepsWithReferenceNoise) {
  const GoldenFile golden("turbo_e2e");
  const Generator generator = load();
  Generator::SamplingPlan plan;
  plan.schedule = unwrap(turbo_schedule(3.0));
  plan.guidance.scale = 1.0;
  plan.method = InferMethod::sde;
  plan.sde_noise = [&](int step) -> Expected<std::vector<float>> {
    return golden["sde_noise_" + std::to_string(step)].f32;
  };
  check_steps(generator, golden, plan, "sde_latents_step_");
}

TEST_P(PipelineGoldenTest, BaseWithApgGuidance) {
  const GoldenFile golden("base_e2e");
  const Generator generator = load();
  Generator::SamplingPlan plan;
  plan.schedule = unwrap(base_schedule(4, 2.0));
  plan.guidance.scale = 7.0;
  check_steps(generator, golden, plan, "latents_step_");
}

TEST_P(PipelineGoldenTest, BaseWithoutGuidance) {
  const GoldenFile golden("base_e2e");
  const Generator generator = load();
  Generator::SamplingPlan plan;
  plan.schedule = unwrap(base_schedule(4, 2.0));
  plan.guidance.scale = 1.0;
  check_steps(generator, golden, plan, "base_plain_latents_step_");
}

ACEFIT_DEVICE_TEST_SUITE(PipelineGoldenTest);

TEST(LatentFrames, DurationRules) {
  EXPECT_EQ(latent_frames_for_duration(10.0, 1920, 48000), 250);
  EXPECT_EQ(latent_frames_for_duration(30.04, 1920, 48000), 750);  // rounded to 30.0 s
  EXPECT_EQ(latent_frames_for_duration(600.0, 1920, 48000), 15000);
  EXPECT_EQ(latent_frames_for_duration(1.0, 1920, 48000), 128);  // never below 128 frames
}

}  // namespace
}  // namespace acefit::testing
