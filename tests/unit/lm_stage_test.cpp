// The LM stage in the Generator (docs/LM.md): generate --thinking on the
// tiny checkpoints gives CoT metadata and exactly duration x 5 codes that
// drive the DiT; plan == measured for both KV backends where the token
// counts are known (the metadata given: no CoT phase), a run with the CoT
// phase stays within its plan; running out of memory anywhere in the LM
// stage is a status with nothing leaked.
#include <gtest/gtest.h>

#include "device/sim/sim_device.h"
#include "golden_support.h"
#include "models/lm/lm_tokens.h"
#include "pipeline/generator.h"
#include "pipeline/memory_plan.h"
#include "test_support.h"

namespace acefit::testing {
namespace {

constexpr const char* kLm = "acestep-5Hz-lm-0.6B";

GeneratorOptions lm_options(LmBackend backend, OffloadMode offload = OffloadMode::none) {
  GeneratorOptions options;
  options.checkpoints = lm_checkpoints();
  options.lm_model = kLm;
  options.lm_backend = backend;
  options.offload = offload;
  return options;
}

// 10 s: 50 codes. top_p 1 and top_k 0 keep the sampler's work small.
GenerationRequest thinking_request(bool metadata_given) {
  GenerationRequest r;
  r.caption = "slow strings";
  r.lyrics = "[Instrumental]";
  r.duration_s = 10.0;
  r.seed = 3;
  r.lm.thinking = true;
  r.lm.max_duration_s = 480;
  r.lm.sampling.top_p = 1.0f;
  if (metadata_given) {
    r.bpm = 90;
    r.keyscale = "D minor";
    r.time_signature = "3/4";
  }
  return r;
}

const StageMemory* stage_named(const RunRecord& record, const std::string& name) {
  for (const StageMemory& stage : record.stages)
    if (stage.name == name) return &stage;
  return nullptr;
}

class LmStageTest : public DeviceTest {};

TEST_P(LmStageTest, ThinkingWritesTheCotAndExactlyDurationTimesFiveCodes) {
  const Generator generator = unwrap(Generator::load(lm_options(LmBackend::pt), ctx()));
  ASSERT_TRUE(generator.has_lm());
  const bool on_vulkan = GetParam() == "vulkan";
  GenerationRequest request = thinking_request(false);
  // lavapipe decodes the VAE slowly: one item there (still a CFG pair).
  request.batch = on_vulkan ? 1 : 2;
  request.bpm = 120;  // kept: the CoT writes the rest
  // lavapipe runs the 151669-row head of each CoT value token in about a
  // second: its free-text caption (up to 512 tokens) is left to the cpu case.
  if (on_vulkan) request.lm.use_cot_caption = false;
  const GenerationResult result = unwrap(generator.generate(request));
  ASSERT_TRUE(result.lm.cot_ran);
  ASSERT_EQ(result.lm.codes.size(), static_cast<std::size_t>(request.batch));
  for (const auto& codes : result.lm.codes) {
    ASSERT_EQ(codes.size(), 50u);
    for (const std::int64_t code : codes) {
      ASSERT_GE(code, 0);
      ASSERT_LT(code, 64000);
    }
  }
  if (request.batch == 2) {
    EXPECT_NE(result.lm.codes[0], result.lm.codes[1]) << "each item samples with its own seed";
  }
  EXPECT_EQ(result.latent_frames, 250);  // 5 frames a code
  EXPECT_EQ(result.bpm, 120);
  EXPECT_EQ(result.lm.cot.bpm, 120) << "the user's bpm is forced into the CoT";
  ASSERT_TRUE(result.lm.cot.duration_s);
  EXPECT_EQ(*result.lm.cot.duration_s, 10);
  ASSERT_TRUE(result.keyscale) << "the CoT fills the key";
  EXPECT_EQ(result.keyscale, result.lm.cot.keyscale);
  ASSERT_TRUE(result.time_signature);
  EXPECT_NE(result.language, "unknown");
  ASSERT_NE(stage_named(result.record, "lm"), nullptr);
  ASSERT_NE(stage_named(result.record, "detokenizer"), nullptr);
  ASSERT_EQ(result.record.lm.phases.size(), 2u);
  EXPECT_EQ(result.record.lm.phases[1].new_tokens, 51);                // the codes and EOS
  EXPECT_EQ(result.record.lm.phases[1].sequences, 2 * request.batch);  // CFG twins

  // The same seed gives the same CoT and codes.
  RunRecord record;
  const LmOutcome again = unwrap(generator.run_lm(request, record));
  EXPECT_EQ(again.codes, result.lm.codes);
  EXPECT_EQ(again.cot_text, result.lm.cot_text);
}

INSTANTIATE_TEST_SUITE_P(Devices, LmStageTest, ::testing::Values("cpu", "vulkan"));

struct BackendCase {
  LmBackend backend;
  OffloadMode offload;
};

class LmPlanTest : public ::testing::TestWithParam<BackendCase> {};

TEST_P(LmPlanTest, PlanEqualsMeasuredWhenTheMetadataIsGiven) {
  const BackendCase c = GetParam();
  std::shared_ptr<Device> sim = make_test_device("sim");
  const GeneratorOptions options = lm_options(c.backend, c.offload);
  const Generator generator = unwrap(Generator::load(options, ops::OpContext{*sim, test_pool()}));
  const MemoryPlanner planner = unwrap(MemoryPlanner::create(options, *sim, test_pool()));
  GenerationRequest request = thinking_request(true);
  request.batch = 2;
  const GenerationPlan plan = unwrap(planner.plan(request, device_budget_bytes(*sim)));
  const GenerationResult run = unwrap(generator.generate(request));
  EXPECT_FALSE(run.lm.cot_ran) << "bpm, key, time signature and duration given: no CoT phase";
  ASSERT_EQ(plan.record.stages.size(), run.record.stages.size());
  for (std::size_t i = 0; i < run.record.stages.size(); ++i) {
    const StageMemory& p = plan.record.stages[i];
    const StageMemory& m = run.record.stages[i];
    EXPECT_EQ(p.name, m.name);
    EXPECT_EQ(p.device_peak_bytes, m.device_peak_bytes) << m.name;
    EXPECT_EQ(p.device_by_tag, m.device_by_tag) << m.name;
  }
  EXPECT_EQ(plan.peak_device_bytes, run.record.peak_device_bytes);
  EXPECT_EQ(plan.record.lm.kv_reserved_bytes, run.record.lm.kv_reserved_bytes);
  const StageMemory* lm = stage_named(run.record, "lm");
  ASSERT_NE(lm, nullptr);
  EXPECT_GT(lm->device_by_tag[static_cast<std::size_t>(MemoryTag::kv_cache)], 0u);
}

TEST_P(LmPlanTest, ARunWithTheCotPhaseStaysWithinItsPlan) {
  const BackendCase c = GetParam();
  std::shared_ptr<Device> sim = make_test_device("sim");
  const GeneratorOptions options = lm_options(c.backend, c.offload);
  const Generator generator = unwrap(Generator::load(options, ops::OpContext{*sim, test_pool()}));
  const MemoryPlanner planner = unwrap(MemoryPlanner::create(options, *sim, test_pool()));
  GenerationRequest request = thinking_request(false);
  const GenerationPlan plan = unwrap(planner.plan(request, device_budget_bytes(*sim)));
  const GenerationResult run = unwrap(generator.generate(request));
  ASSERT_TRUE(run.lm.cot_ran);
  const StageMemory* planned = stage_named(plan.record, "lm");
  const StageMemory* measured = stage_named(run.record, "lm");
  ASSERT_NE(planned, nullptr);
  ASSERT_NE(measured, nullptr);
  EXPECT_LE(measured->device_peak_bytes, planned->device_peak_bytes);
  EXPECT_LE(run.record.peak_device_bytes, plan.peak_device_bytes);
  if (c.backend == LmBackend::vllm) {
    // The pool is sized from the request alone: the same in both.
    EXPECT_EQ(plan.record.lm.kv_reserved_bytes, run.record.lm.kv_reserved_bytes);
  } else {
    EXPECT_LE(run.record.lm.kv_reserved_bytes, plan.record.lm.kv_reserved_bytes);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, LmPlanTest,
                         ::testing::Values(BackendCase{LmBackend::vllm, OffloadMode::cpu},
                                           BackendCase{LmBackend::pt, OffloadMode::cpu},
                                           BackendCase{LmBackend::pt, OffloadMode::none}),
                         [](const ::testing::TestParamInfo<BackendCase>& param_info) {
                           return std::string(lm_backend_name(param_info.param.backend)) +
                                  (param_info.param.offload == OffloadMode::none ? "_resident"
                                                                                 : "_offload");
                         });

TEST(LmStageFaults, AFailureAtEveryLmAllocationIsAnOutOfMemoryStatus) {
  const auto sim = make_sim_device(8ull << 30);
  for (const LmBackend backend : {LmBackend::vllm, LmBackend::pt}) {
    const Generator generator = unwrap(
        Generator::load(lm_options(backend, OffloadMode::cpu), ops::OpContext{*sim, test_pool()}));
    GenerationRequest request = thinking_request(false);
    request.lm.use_cot_caption = false;  // a short CoT: the runs stay quick
    const std::uint64_t resident = sim->budget().used_bytes();
    const std::uint64_t before = sim->budget().stats().reservations;
    RunRecord record;
    const LmOutcome reference = unwrap(generator.run_lm(request, record));
    const std::uint64_t count = sim->budget().stats().reservations - before;
    ASSERT_GT(count, 50u);
    int reported = 0;
    // The stage makes thousands of reservations (every op of every token):
    // 16 spread over all of them (8 in the sanitizer pass), the first and
    // the last included.
    const std::uint64_t points = sweeps_sampled() ? 8 : 16;
    const std::uint64_t stride = std::max<std::uint64_t>(1, (count - 1) / (points - 1));
    for (std::uint64_t n = 1; n <= count;
         n = (n == count || n + stride <= count) ? n + stride : count) {
      sim->budget().fail_nth_reservation(n);
      RunRecord failed_record;
      const auto result = generator.run_lm(request, failed_record);
      sim->budget().fail_nth_reservation(0);
      ASSERT_EQ(sim->budget().used_bytes(), resident) << "leak after a failure at allocation " << n;
      ASSERT_FALSE(result.ok()) << "allocation " << n;
      ASSERT_EQ(result.status().code(), ErrorCode::out_of_memory) << result.status().to_string();
      ++reported;
    }
    EXPECT_GT(reported, 0);
    // Afterwards the same request runs as before.
    RunRecord again_record;
    const LmOutcome again = unwrap(generator.run_lm(request, again_record));
    EXPECT_EQ(again.codes, reference.codes);
  }
}

TEST(LmStageFaults, ACapBelowTheLmStageStopsBeforeAnyToken) {
  const auto sim = make_sim_device(8ull << 30);
  const GeneratorOptions options = lm_options(LmBackend::vllm, OffloadMode::cpu);
  const Generator generator = unwrap(Generator::load(options, ops::OpContext{*sim, test_pool()}));
  const MemoryPlanner planner = unwrap(MemoryPlanner::create(options, *sim, test_pool()));
  GenerationRequest request = thinking_request(true);
  const GenerationPlan plan = unwrap(planner.plan(request, device_budget_bytes(*sim)));
  const StageMemory* lm = stage_named(plan.record, "lm");
  ASSERT_NE(lm, nullptr);
  // A budget just below the LM stage's peak: the guard refuses before any work.
  const std::uint64_t cap = lm->device_peak_bytes - 1;
  const auto fit = fit_request(planner, request, cap);
  ASSERT_FALSE(fit.ok());
  EXPECT_EQ(fit.status().code(), ErrorCode::out_of_memory);
  // And a run under that cap reports out_of_memory, nothing leaked.
  const std::uint64_t resident = sim->budget().used_bytes();
  sim->budget().set_cap_bytes(cap);
  const auto run = generator.generate(request);
  sim->budget().set_cap_bytes(8ull << 30);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), ErrorCode::out_of_memory) << run.status().to_string();
  EXPECT_EQ(sim->budget().used_bytes(), resident);
}

TEST(LmStageOnHost, AForcedLmThatDoesNotFitRunsOnTheHost) {
  std::shared_ptr<Device> sim = make_test_device("sim");
  GeneratorOptions options = lm_options(LmBackend::pt, OffloadMode::cpu);
  options.lm_on_host = true;
  const Generator generator = unwrap(Generator::load(options, ops::OpContext{*sim, test_pool()}));
  const GeneratorOptions on_device_options = lm_options(LmBackend::pt, OffloadMode::cpu);
  const Generator on_device =
      unwrap(Generator::load(on_device_options, ops::OpContext{*sim, test_pool()}));
  const GenerationRequest request = thinking_request(true);
  RunRecord host_record, device_record;
  const LmOutcome host = unwrap(generator.run_lm(request, host_record));
  const LmOutcome device = unwrap(on_device.run_lm(request, device_record));
  ASSERT_EQ(host.codes.size(), 1u);
  EXPECT_EQ(host.codes.front().size(), 50u);
  // Nothing of the LM on the device: its stage peak is what the device held before.
  const StageMemory* host_stage = stage_named(host_record, "lm");
  const StageMemory* device_stage = stage_named(device_record, "lm");
  ASSERT_NE(host_stage, nullptr);
  ASSERT_NE(device_stage, nullptr);
  EXPECT_EQ(host_stage->device_by_tag[static_cast<std::size_t>(MemoryTag::kv_cache)], 0u);
  EXPECT_GT(device_stage->device_by_tag[static_cast<std::size_t>(MemoryTag::kv_cache)], 0u);
  EXPECT_LT(host_stage->device_peak_bytes, device_stage->device_peak_bytes);
  EXPECT_GT(host_stage->host_by_tag[static_cast<std::size_t>(MemoryTag::kv_cache)], 0u);
}

TEST(LmStageRequests, RefusesTheLmWithoutOneAndBadSamplerOptions) {
  const auto cpu = make_test_device("cpu");
  GeneratorOptions options;
  options.checkpoints = lm_checkpoints();
  const Generator without = unwrap(Generator::load(options, ops::OpContext{*cpu, test_pool()}));
  const auto none = without.generate(thinking_request(true));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no LM is loaded"), std::string::npos);

  const Generator with =
      unwrap(Generator::load(lm_options(LmBackend::pt), ops::OpContext{*cpu, test_pool()}));
  GenerationRequest bad = thinking_request(true);
  bad.lm.sampling.top_p = 0.0f;
  const auto refused = with.generate(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("top_p"), std::string::npos);

  options.lm_model = "acestep-5Hz-lm-4B";
  const auto missing = Generator::load(options, ops::OpContext{*cpu, test_pool()});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("acestep-5Hz-lm-0.6B"), std::string::npos)
      << missing.status().message();
}

}  // namespace
}  // namespace acefit::testing
