// Memory plans against real runs on the sim device (tiny synthetic
// checkpoints): the planned peak of every stage equals the measured one for
// offload modes, INT8, batch, duration, VAE chunk and DiT streaming; the VRAM
// guard and the VAE chunk against plans computed by hand; every cap from
// below the smallest possible run to unlimited either completes with the
// unconstrained audio or stops before any work; and a failure injected at
// every allocation of a run never crashes or leaks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include "adapt/vae_chunk.h"
#include "device/sim/sim_device.h"
#include "golden_support.h"
#include "io/checkpoint/checkpoint_synth.h"
#include "pipeline/memory_plan.h"
#include "pipeline/vae_decode.h"
#include "test_support.h"

namespace acefit::testing {
namespace {

constexpr std::uint64_t kGiB = 1ull << 30;

const std::string& plan_checkpoints() {
  return tokenized_checkpoints();
}

GenerationRequest short_request(double seconds = 6.0, int batch = 1) {
  GenerationRequest request;
  request.vae_chunk_frames = 64;  // a small decode, so batch-dependent stages make the peak
  request.caption = "calm piano";
  request.lyrics = "[verse] la la";
  request.duration_s = seconds;
  request.batch = batch;
  request.seed = 11;
  return request;
}

GenerationRequest guard_request(int batch) {
  GenerationRequest request = short_request(6.0, batch);
  request.vae_on_host = true;
  return request;
}

struct Case {
  std::string name;
  OffloadMode offload = OffloadMode::none;
  bool int8 = false;
  int batch = 1;
  double seconds = 6.0;
  std::int64_t chunk = 0;
  int window = 0;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.name;
}

class PlanEqualsRun : public ::testing::TestWithParam<Case> {};

TEST_P(PlanEqualsRun, EveryStagePeak) {
  const Case& c = GetParam();
  GeneratorOptions options;
  options.checkpoints = plan_checkpoints();
  options.offload = c.offload;
  options.quantize_int8 = c.int8;
  const auto sim = make_sim_device(8 * kGiB);
  GenerationRequest request = short_request(c.seconds, c.batch);
  request.vae_chunk_frames = c.chunk;  // 0: chosen from the budget
  request.dit_stream_window = c.window;
  // Decisions against a 64 MiB budget, so the VAE chunk choice matters.
  const std::uint64_t budget = 64ull << 20;

  const MemoryPlanner planner = unwrap(MemoryPlanner::create(options, *sim, test_pool()));
  const GenerationPlan plan = unwrap(planner.plan(request, budget));
  const Generator generator = unwrap(Generator::load(options, ops::OpContext{*sim, test_pool()}));
  EXPECT_EQ(plan.resident_bytes, sim->budget().used_bytes());
  request.budget_bytes = budget;
  const GenerationResult run = unwrap(generator.generate(request));
  const RunRecord& measured = run.record;
  ASSERT_EQ(plan.record.stages.size(), measured.stages.size());
  for (std::size_t i = 0; i < measured.stages.size(); ++i) {
    const StageMemory& p = plan.record.stages[i];
    const StageMemory& m = measured.stages[i];
    EXPECT_EQ(p.name, m.name);
    EXPECT_EQ(p.device_peak_bytes, m.device_peak_bytes) << m.name;
    EXPECT_EQ(p.device_by_tag, m.device_by_tag) << m.name;
    EXPECT_EQ(p.host_peak_bytes, m.host_peak_bytes) << m.name;
  }
  EXPECT_EQ(plan.peak_device_bytes, measured.peak_device_bytes);
  EXPECT_GT(measured.peak_device_bytes, 0u);
  EXPECT_EQ(plan.record.vae.chunk, measured.vae.chunk);
  EXPECT_EQ(plan.record.vae.level, measured.vae.level);
  EXPECT_EQ(measured.vae.retries, 0);
  if (c.offload != OffloadMode::none) {
    EXPECT_GT(measured.transfers.to_device_bytes, 0u) << "offload copies are counted";
    EXPECT_GT(measured.peak_host_bytes, 0u);
  }
  RecordProperty("peak_device_bytes", std::to_string(measured.peak_device_bytes));
}

INSTANTIATE_TEST_SUITE_P(
    Settings, PlanEqualsRun,
    ::testing::Values(Case{"none", OffloadMode::none}, Case{"cpu", OffloadMode::cpu},
                      Case{"cpu_dit", OffloadMode::cpu_dit}, Case{"int8", OffloadMode::none, true},
                      Case{"int8_cpu_dit", OffloadMode::cpu_dit, true},
                      Case{"batch3", OffloadMode::cpu, false, 3},
                      Case{"long", OffloadMode::none, false, 1, 14.0},
                      Case{"chunk64", OffloadMode::cpu, false, 1, 6.0, 64},
                      Case{"stream1", OffloadMode::cpu_dit, false, 2, 6.0, 0, 1},
                      Case{"stream3_int8", OffloadMode::cpu_dit, true, 1, 6.0, 0, 3}),
    case_name);

TEST(MemoryPlan, StreamingLowersTheDitPeak) {
  GeneratorOptions options;
  options.checkpoints = plan_checkpoints();
  options.offload = OffloadMode::cpu_dit;
  const auto sim = make_sim_device(8 * kGiB);
  const MemoryPlanner planner = unwrap(MemoryPlanner::create(options, *sim, test_pool()));
  GenerationRequest whole = short_request();
  GenerationRequest streamed = whole;
  streamed.dit_stream_window = 1;
  const auto a = unwrap(planner.plan(whole, 8 * kGiB));
  const auto b = unwrap(planner.plan(streamed, 8 * kGiB));
  const auto dit_peak = [](const GenerationPlan& p) {
    for (const auto& s : p.record.stages)
      if (s.name == "dit") return s.device_by_tag[static_cast<int>(MemoryTag::weights)];
    return std::uint64_t{0};
  };
  const auto groups = planner.generator().weight_bytes();
  EXPECT_EQ(dit_peak(a), groups.dit);
  EXPECT_LT(dit_peak(b), groups.dit);
  // One layer plus the parts outside the layers.
  const int layers = planner.generator().dit_layer_count();
  EXPECT_EQ(dit_peak(b), groups.dit - static_cast<std::uint64_t>(layers - 1) * groups.dit_layer);
}

TEST(MemoryPlan, GuardKeepsTheLargestBatchThatFits) {
  GeneratorOptions options;
  options.checkpoints = plan_checkpoints();
  const auto sim = make_sim_device(8 * kGiB);
  const MemoryPlanner planner = unwrap(MemoryPlanner::create(options, *sim, test_pool()));
  // The VAE decodes on the host here, so the batch-dependent stages make the
  // peak. Peaks of batch 1..6 by hand; a budget between the peaks of 3 and 4.
  std::vector<std::uint64_t> peaks;
  for (int b = 1; b <= 6; ++b)
    peaks.push_back(unwrap(planner.plan(guard_request(b), 8 * kGiB)).peak_device_bytes);
  for (std::size_t i = 1; i < peaks.size(); ++i) ASSERT_GT(peaks[i], peaks[i - 1]);
  const std::uint64_t budget = (peaks[2] + peaks[3]) / 2;
  const FitDecision fit = unwrap(fit_request(planner, guard_request(6), budget));
  // The largest batch whose own plan (decisions against this budget) fits.
  int expected = 0;
  for (int b = 1; b <= 6; ++b) {
    if (unwrap(planner.plan(guard_request(b), budget)).peak_device_bytes <= budget) expected = b;
  }
  EXPECT_EQ(expected, 3);
  EXPECT_EQ(fit.request.batch, expected);
  EXPECT_LE(fit.plan.peak_device_bytes, budget);
  ASSERT_EQ(fit.warnings.size(), 1u);
  EXPECT_NE(fit.warnings[0].find("VRAM guard: reducing batch from 6 to 3: each item needs "),
            std::string::npos)
      << fit.warnings[0];
  // A request that fits is left alone.
  const FitDecision same = unwrap(fit_request(planner, guard_request(2), budget));
  EXPECT_EQ(same.request.batch, 2);
  EXPECT_TRUE(same.warnings.empty());
  // Below batch 1's need, with the DiT resident: a clear error, no streaming.
  const auto none = fit_request(planner, guard_request(1), peaks[0] - 1);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), ErrorCode::out_of_memory);
  EXPECT_NE(none.status().message().find("does not fit"), std::string::npos);
  EXPECT_NE(none.status().message().find("--offload cpu+dit"), std::string::npos);
}

TEST(MemoryPlan, VaeChunkIsTheLargestWhosePlanFitsTheFreeBudget) {
  GeneratorOptions options;
  options.checkpoints = plan_checkpoints();
  const auto sim = make_sim_device(8 * kGiB);
  const MemoryPlanner planner = unwrap(MemoryPlanner::create(options, *sim, test_pool()));
  GenerationRequest request = short_request(14.0);
  request.vae_chunk_frames = 0;
  const std::int64_t frames = 350;
  const VaeConfig vae = planner.generator().vae_config();
  // Free at the decode = budget - resident weights (the latents are on the host).
  const std::uint64_t resident = unwrap(planner.plan(request, 8 * kGiB)).resident_bytes;
  const VaeDecodePeaks peaks =
      unwrap(plan_vae_decode_peaks(vae, *sim, frames, 64, VaeDecodeLevel::device_host_accumulate));
  for (std::size_t k = 0; k + 1 < kVaeChunkCandidates.size(); ++k) {
    // Just enough for candidate k: the choice is k, not k + 1.
    const std::uint64_t budget = resident + peaks.peaks[k].peak_bytes;
    const GenerationPlan plan = unwrap(planner.plan(request, budget));
    const std::int64_t expected = std::min<std::int64_t>(kVaeChunkCandidates[k], frames);
    EXPECT_EQ(std::min<std::int64_t>(plan.record.vae.chunk, frames), expected)
        << "budget " << budget << ": " << plan.record.vae.reason;
  }
}

}  // namespace
}  // namespace acefit::testing

namespace acefit::testing {
namespace {

// The shipped dims, planned without a checkpoint: offload cpu+dit, bf16.
// A budget below the whole DiT's stage but above one layer's makes the
// guard stream the layers, as many at a time as fit.
TEST(MemoryPlan, FullDimsStreaming) {
  GeneratorOptions options;
  options.preset = SyntheticPreset::full;
  options.offload = OffloadMode::cpu_dit;
  const auto sim = make_sim_device(16 * kGiB);
  const MemoryPlanner planner = unwrap(MemoryPlanner::create(options, *sim, test_pool()));
  GenerationRequest request = short_request(180.0);
  request.vae_chunk_frames = 0;
  const GenerationPlan whole = unwrap(planner.plan(request, 16 * kGiB));
  std::uint64_t dit_stage = 0;
  for (const StageMemory& stage : whole.record.stages)
    if (stage.name == "dit") dit_stage = stage.device_peak_bytes;
  const auto groups = planner.generator().weight_bytes();
  ASSERT_GT(groups.dit, 3'000'000'000u);  // 3.15 GB of bf16 decoder
  const std::uint64_t budget = dit_stage - 2 * groups.dit_layer - groups.dit_layer / 2;
  const FitDecision fit = unwrap(fit_request(planner, request, budget));
  const int layers = planner.generator().dit_layer_count();
  EXPECT_GT(fit.request.dit_stream_window, 0);
  EXPECT_LE(fit.request.dit_stream_window, layers - 3);
  EXPECT_LE(fit.plan.peak_device_bytes, budget);
  EXPECT_TRUE(fit.plan.record.dit_streamed);
  ASSERT_FALSE(fit.warnings.empty());
  EXPECT_NE(fit.warnings[0].find("streaming its layers"), std::string::npos) << fit.warnings[0];
  // One more layer in the window would not fit.
  GenerationRequest wider = fit.request;
  wider.dit_stream_window += 1;
  EXPECT_GT(unwrap(planner.plan(wider, budget)).peak_device_bytes, budget);
}

}  // namespace
}  // namespace acefit::testing
