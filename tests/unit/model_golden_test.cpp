// The model components against the PyTorch reference's goldens
// (tests/reference, docs/GOLDENS.md), on the cpu device with f32 weights and
// on the sim device with bf16 projection matrices (the checkpoint's own
// values, so both must agree with the golden equally).
#include <gtest/gtest.h>

#include "golden_support.h"
#include "models/dit/condition_encoder.h"
#include "models/dit/dit_decoder.h"
#include "models/fsq/detokenizer.h"
#include "models/host_tensor.h"
#include "models/qwen3/text_encoder.h"
#include "models/vae/oobleck_decoder.h"
#include "models/vae/tiled_decode.h"
#include "test_support.h"

namespace acefit::testing {
namespace {

using models::WeightLoader;

class ModelGoldenTest : public DeviceTest {
 protected:
  DType matrix_dtype() const { return GetParam() == "cpu" ? DType::f32 : DType::bf16; }
  std::string dit_dir() const { return golden_checkpoints() + "/acestep-v15-turbo"; }
  DitConfig dit_config() const { return unwrap(load_dit_config(dit_dir())); }
  WeightLoader dit_loader() const { return unwrap(WeightLoader::open(dit_dir())); }
  Tensor ids(const GoldenArray& array) {
    return unwrap(models::tensor_from_host(*device_, *Shape::from(array.shape), array.i64));
  }
};

TEST_P(ModelGoldenTest, TextEncoderHiddenStatesAndLyricEmbeddings) {
  const GoldenFile golden("text_encoder");
  const auto encoder = unwrap(models::TextEncoder::load(
      golden_checkpoints() + "/Qwen3-Embedding-0.6B", *device_, matrix_dtype()));
  expect_matches_golden(unwrap(encoder.encode(ctx(), ids(golden["input_ids"]))),
                        golden["hidden_states"], "hidden_states");
  // A table lookup: exact.
  expect_matches_golden(unwrap(encoder.embed(ctx(), ids(golden["lyric_ids"]))),
                        golden["lyric_embeddings"], "lyric_embeddings", 1.0 - 1e-12, 0.0);
}

TEST_P(ModelGoldenTest, ConditionEncoderPartsAndPacking) {
  const GoldenFile golden("condition_encoder");
  const auto loader = dit_loader();
  const auto encoder =
      unwrap(models::ConditionEncoder::load(loader, ctx(), dit_config(), matrix_dtype()));
  const models::ConditionInputs inputs = golden_condition_inputs(golden, *device_);
  ASSERT_NE(inputs.lyric_lengths[0], inputs.lyric_lengths[1]) << "the golden must pad one row";
  const auto out = unwrap(encoder.encode(ctx(), inputs));
  expect_matches_golden(out.text_projected, golden["text_projected"], "text_projected");
  expect_matches_golden(out.lyric_encoded, golden["lyric_encoded"], "lyric_encoded");
  expect_matches_golden(out.timbre_encoded, golden["timbre_encoded"], "timbre_encoded");
  expect_matches_golden(out.states, golden["encoder_states"], "encoder_states");
  EXPECT_EQ(out.lengths, mask_lengths(golden["encoder_mask"]));
}

TEST_P(ModelGoldenTest, DitStepVelocity) {
  const GoldenFile golden("dit_step");
  const auto loader = dit_loader();
  const auto dit = unwrap(models::DitDecoder::load(loader, ctx(), dit_config(), matrix_dtype()));
  const auto cache = unwrap(dit.prepare(ctx(), golden.upload(*device_, "encoder_states")));
  const std::vector<float> t = golden["timestep"].f32;
  const auto velocity = unwrap(dit.forward(ctx(), golden.upload(*device_, "x_t"),
                                           golden.upload(*device_, "context"), t, t, cache));
  expect_matches_golden(velocity, golden["velocity"], "velocity");
}

TEST_P(ModelGoldenTest, DetokenizerHints) {
  const GoldenFile golden("detokenizer");
  const auto loader = dit_loader();
  const auto detokenizer =
      unwrap(models::Detokenizer::load(loader, ctx(), dit_config(), matrix_dtype()));
  const auto quantized = unwrap(detokenizer.dequantize(ctx(), golden["codes"].i64));
  expect_matches_golden(quantized, golden["quantized"], "quantized");
  expect_matches_golden(unwrap(detokenizer.detokenize(ctx(), quantized)), golden["hints"], "hints");
}

// The synthetic VAE grows activations to ~150 through its residual units
// (weight_g near 1, 36 snakes), so f32 accumulation order alone moves the
// audio by ~1e-4 of its peak (a naive f32 loop against a double one differs
// by 1.0-1.7e-4 on these weights, tests/unit/vae_decoder_test.cpp); 1e-3
// leaves room for that and still fails on any structural error (those move
// the output by O(1) of its peak).
constexpr double kVaeMaxAbsRatio = 1e-3;

TEST_P(ModelGoldenTest, VaeDecodeWholeAndTiled) {
  const GoldenFile golden("vae_decode");
  const auto vae =
      unwrap(models::OobleckDecoder::load(golden_checkpoints() + "/vae", *device_, &test_pool()));
  expect_matches_golden(unwrap(vae.decode(ctx(), golden.upload(*device_, "latents"))),
                        golden["audio"], "audio", 0.99999, kVaeMaxAbsRatio);
  models::TiledDecodeOptions options;
  options.chunk = golden["tile_chunk"].i64.at(0);
  options.overlap = golden["tile_overlap"].i64.at(0);
  const auto tiled =
      unwrap(models::tiled_decode(vae, ctx(), golden.upload(*device_, "latents_long"), options));
  expect_matches_golden(tiled.data, golden["audio_tiled"], "audio_tiled", 0.99999, kVaeMaxAbsRatio);
}

ACEFIT_DEVICE_TEST_SUITE(ModelGoldenTest);

TEST(FsqCodebook, SymmetricValuesAndRange) {
  const std::vector<std::int64_t> levels = {8, 8, 8, 5, 5, 5};
  EXPECT_EQ(unwrap(models::fsq_code_values(0, levels)),
            (std::vector<float>{-1, -1, -1, -1, -1, -1}));
  EXPECT_EQ(unwrap(models::fsq_code_values(63999, levels)), (std::vector<float>{1, 1, 1, 1, 1, 1}));
  // 1 + 8 * 2 + 64 * 3 + 512 * 4 + 2560 * 2: digits 1, 2, 3, 4, 2, 0.
  const auto v = unwrap(models::fsq_code_values(1 + 16 + 192 + 2048 + 5120, levels));
  const std::vector<float> expected = {-5.0f / 7, -3.0f / 7, -1.0f / 7, 1.0f, 0.0f, -1.0f};
  for (std::size_t i = 0; i < v.size(); ++i) EXPECT_FLOAT_EQ(v[i], expected[i]) << i;
  EXPECT_FALSE(models::fsq_code_values(64000, levels).ok());
  EXPECT_FALSE(models::fsq_code_values(-1, levels).ok());
}

// The XL layout (spec 18.5) on the xl-tiny checkpoint: the condition
// encoder at the encoder width with the prepended timbre special token, one
// DiT step at the decoder width (condition_embedder bridging the two), and
// the detokenizer at the encoder width.
class XlModelGoldenTest : public DeviceTest {
 protected:
  DType matrix_dtype() const { return GetParam() == "cpu" ? DType::f32 : DType::bf16; }
  std::string dit_dir() const { return xl_golden_checkpoints() + "/acestep-v15-xl-turbo"; }
  DitConfig dit_config() const { return unwrap(load_dit_config(dit_dir())); }
  WeightLoader dit_loader() const { return unwrap(WeightLoader::open(dit_dir())); }
};

TEST_P(XlModelGoldenTest, ConditionEncoderWithTimbreToken) {
  const GoldenFile golden("xl_tiny");
  const auto encoder =
      unwrap(models::ConditionEncoder::load(dit_loader(), ctx(), dit_config(), matrix_dtype()));
  const models::ConditionInputs inputs = golden_condition_inputs(golden, *device_);
  const auto out = unwrap(encoder.encode(ctx(), inputs));
  expect_matches_golden(out.text_projected, golden["text_projected"], "text_projected");
  expect_matches_golden(out.lyric_encoded, golden["lyric_encoded"], "lyric_encoded");
  expect_matches_golden(out.timbre_encoded, golden["timbre_encoded"], "timbre_encoded");
  expect_matches_golden(out.states, golden["encoder_states"], "encoder_states");
  EXPECT_EQ(out.lengths, mask_lengths(golden["encoder_mask"]));
}

TEST_P(XlModelGoldenTest, DitStepVelocity) {
  const GoldenFile golden("xl_tiny");
  const auto dit =
      unwrap(models::DitDecoder::load(dit_loader(), ctx(), dit_config(), matrix_dtype()));
  const auto cache = unwrap(dit.prepare(ctx(), golden.upload(*device_, "encoder_states")));
  const std::vector<float> t = golden["timestep"].f32;
  const auto velocity = unwrap(dit.forward(ctx(), golden.upload(*device_, "x_t"),
                                           golden.upload(*device_, "context"), t, t, cache));
  expect_matches_golden(velocity, golden["velocity"], "velocity");
}

TEST_P(XlModelGoldenTest, DetokenizerHints) {
  const GoldenFile golden("xl_tiny");
  const auto detokenizer =
      unwrap(models::Detokenizer::load(dit_loader(), ctx(), dit_config(), matrix_dtype()));
  const auto quantized = unwrap(detokenizer.dequantize(ctx(), golden["codes"].i64));
  expect_matches_golden(quantized, golden["quantized"], "quantized");
  expect_matches_golden(unwrap(detokenizer.detokenize(ctx(), quantized)), golden["hints"], "hints");
}

ACEFIT_DEVICE_TEST_SUITE(XlModelGoldenTest);

}  // namespace
}  // namespace acefit::testing
