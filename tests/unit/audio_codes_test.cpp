// Audio codes into the DiT (acestep-model.md 8, 9): parsing what users pass
// (parse_audio_codes), the code-hints stage against the detokenizer run by
// hand, the length rule (5 frames a code, at least 128), the cover context
// changing the audio, and plan == measured for a run with codes.
#include <gtest/gtest.h>

#include "golden_support.h"
#include "models/fsq/detokenizer.h"
#include "models/host_tensor.h"
#include "models/weight_loader.h"
#include "pipeline/audio_codes.h"
#include "pipeline/generator.h"
#include "pipeline/memory_plan.h"
#include "test_support.h"

namespace acefit::testing {
namespace {

TEST(AudioCodesParse, TakesTokensInOrderAndIgnoresTheTextAround) {
  const auto codes = parse_audio_codes("x<|audio_code_5|> <|audio_code_0|>\n<|audio_code_63999|>y");
  ASSERT_TRUE(codes.ok()) << codes.status().to_string();
  EXPECT_EQ(*codes, (std::vector<std::int64_t>{5, 0, 63999}));
}

TEST(AudioCodesParse, TakesIntegersSeparatedByCommasOrSpace) {
  const auto codes = parse_audio_codes(" 1,2 ,\t3\n63999 ");
  ASSERT_TRUE(codes.ok()) << codes.status().to_string();
  EXPECT_EQ(*codes, (std::vector<std::int64_t>{1, 2, 3, 63999}));
  EXPECT_EQ(audio_code_string({7, 63999}), "<|audio_code_7|><|audio_code_63999|>");
}

TEST(AudioCodesParse, RefusesBadInputNamingIt) {
  const auto expect_error = [](std::string_view text, std::string_view needle) {
    const auto codes = parse_audio_codes(text);
    ASSERT_FALSE(codes.ok()) << text;
    EXPECT_EQ(codes.status().code(), ErrorCode::invalid_argument);
    EXPECT_NE(codes.status().message().find(needle), std::string::npos) << codes.status().message();
  };
  expect_error("", "none given");
  expect_error(" , ", "none given");
  expect_error("1,64000", "64000");
  expect_error("1,-2", "'-'");
  expect_error("1.5", "'.'");
  expect_error("99999999999999999999999", "outside 0..63999");
  expect_error("<|audio_code_12", "malformed");
  expect_error("<|audio_code_|>", "malformed");
  expect_error("<|audio_code_64000|>", "64000");
}

class AudioCodesGenerateTest : public ::testing::Test {
 protected:
  Generator load() {
    GeneratorOptions options;
    options.checkpoints = tokenized_checkpoints();
    return unwrap(Generator::load(options, ops::OpContext{*device_, test_pool()}));
  }
  std::shared_ptr<Device> device_ = make_test_device("cpu");
};

std::vector<std::int64_t> some_codes(std::size_t n, std::int64_t salt) {
  std::vector<std::int64_t> codes(n);
  for (std::size_t i = 0; i < n; ++i)
    codes[i] = (static_cast<std::int64_t>(i) * 7919 + salt) % 64000;
  return codes;
}

TEST_F(AudioCodesGenerateTest, HintsAreTheDetokenizerOutputPaddedWithSilence) {
  const Generator generator = load();
  const std::vector<std::int64_t> codes = some_codes(20, 3);  // 100 frames
  const std::int64_t frames = 128;
  const std::vector<float> hints = unwrap(generator.code_hints({codes}, frames));
  ASSERT_EQ(hints.size(), static_cast<std::size_t>(frames * 64));

  const ops::OpContext ctx{*device_, test_pool()};
  const models::WeightLoader loader =
      unwrap(models::WeightLoader::open(tokenized_checkpoints() + "/acestep-v15-turbo"));
  const models::Detokenizer detokenizer =
      unwrap(models::Detokenizer::load(loader, ctx, generator.dit_config(), DType::bf16));
  const Tensor quantized = unwrap(detokenizer.dequantize(ctx, codes));
  const std::vector<float> expected =
      unwrap(models::tensor_to_host(unwrap(detokenizer.detokenize(ctx, quantized))));
  ASSERT_EQ(expected.size(), 100u * 64u);
  for (std::size_t i = 0; i < expected.size(); ++i) ASSERT_EQ(hints[i], expected[i]) << i;
  // Frames 100..127 are silence frames 100..127 (not zeros).
  bool any_nonzero = false;
  for (std::size_t i = expected.size(); i < hints.size(); ++i) any_nonzero |= hints[i] != 0.0f;
  EXPECT_TRUE(any_nonzero);
}

TEST_F(AudioCodesGenerateTest, CodesSetTheLengthAndSteerTheAudio) {
  const Generator generator = load();
  GenerationRequest request;
  request.caption = "slow strings";
  request.duration_s = 60;  // ignored: the codes set the length
  request.seed = 5;
  request.audio_codes = {some_codes(30, 1)};  // 150 frames = 6 s
  const GenerationResult a = unwrap(generator.generate(request));
  EXPECT_EQ(a.latent_frames, 150);
  EXPECT_DOUBLE_EQ(a.duration_s, 6.0);
  bool saw_stage = false;
  for (const auto& stage : a.record.stages) saw_stage |= stage.name == "detokenizer";
  EXPECT_TRUE(saw_stage);

  request.audio_codes.clear();
  request.duration_s = 6.0;
  const GenerationResult plain = unwrap(generator.generate(request));
  EXPECT_EQ(plain.latent_frames, 150);
  EXPECT_NE(a.audio.data, plain.audio.data);
}

TEST_F(AudioCodesGenerateTest, RefusesCodeListsThatDoNotFitTheBatch) {
  const Generator generator = load();
  GenerationRequest request;
  request.caption = "x";
  request.batch = 3;
  request.audio_codes = {some_codes(4, 1), some_codes(4, 2)};
  const auto result = generator.generate(request);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("2 lists for a batch of 3"), std::string::npos);
  request.audio_codes = {{1, 2, 64000}};
  const auto bad = generator.generate(request);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("64000"), std::string::npos);
}

TEST_F(AudioCodesGenerateTest, PlanEqualsMeasuredWithCodes) {
  std::shared_ptr<Device> sim = make_test_device("sim");
  GeneratorOptions options;
  options.checkpoints = tokenized_checkpoints();
  options.offload = OffloadMode::cpu;
  const Generator generator = unwrap(Generator::load(options, ops::OpContext{*sim, test_pool()}));
  const MemoryPlanner planner = unwrap(MemoryPlanner::create(options, *sim, test_pool()));
  GenerationRequest request;
  request.caption = "x";
  request.batch = 2;
  request.audio_codes = {some_codes(40, 1), some_codes(40, 9)};
  const GenerationPlan plan = unwrap(planner.plan(request, device_budget_bytes(*sim)));
  const GenerationResult run = unwrap(generator.generate(request));
  ASSERT_EQ(plan.record.stages.size(), run.record.stages.size());
  for (std::size_t i = 0; i < run.record.stages.size(); ++i) {
    EXPECT_EQ(plan.record.stages[i].name, run.record.stages[i].name);
    EXPECT_EQ(plan.record.stages[i].device_peak_bytes, run.record.stages[i].device_peak_bytes)
        << run.record.stages[i].name;
  }
  EXPECT_EQ(plan.peak_device_bytes, run.record.peak_device_bytes);
}

}  // namespace
}  // namespace acefit::testing
