// The whole pipeline on the vulkan device (lavapipe in CI): generate gives
// the CPU's audio and the planned peaks (f32 at batch 2; INT8 with DiT
// offload and layer streaming); every cap of a
// sweep completes with the unconstrained audio or is refused before any work;
// a failure injected at a sample of allocations is absorbed (VAE ladder) or
// reported; and out of device memory in the VAE decode is absorbed by the
// ladder. The same checks as memory_plan_test and memory_caps_test on sim.
#include <cmath>
#include <map>

#include "device/vulkan/vulkan_device.h"
#include "golden_support.h"
#include "pipeline/memory_plan.h"
#include "test_support.h"

namespace acefit::testing {
namespace {

// Lavapipe runs the tiny VAE about 15 times slower than the CPU device, so
// these runs are the shortest latent (5 s, 128 frames) and few.
GenerationRequest vulkan_request(int batch = 1) {
  GenerationRequest r;
  r.caption = "slow strings";
  r.lyrics = "[verse] oh";
  r.duration_s = 5.0;
  r.batch = batch;
  r.seed = 5;
  r.vae_chunk_frames = 64;
  return r;
}

double largest_difference(const models::HostAudio& a, const models::HostAudio& b) {
  if (a.data.size() != b.data.size()) return INFINITY;
  double worst = 0;
  for (std::size_t i = 0; i < a.data.size(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(a.data[i]) - b.data[i]));
  return worst;
}

double largest_value(const models::HostAudio& a) {
  double worst = 0;
  for (float v : a.data) worst = std::max(worst, std::fabs(static_cast<double>(v)));
  return worst;
}

class VulkanPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    device_ = device_or_skip("vulkan");
    if (!device_) GTEST_SKIP() << "no vulkan device";
    cap_ = device_->budget().cap_bytes();
  }
  void TearDown() override {
    if (device_) {
      device_->budget().set_cap_bytes(cap_);
      device_->budget().fail_nth_reservation(0);
    }
  }
  GeneratorOptions options(OffloadMode offload = OffloadMode::none, bool int8 = false) const {
    GeneratorOptions o;
    o.checkpoints = tokenized_checkpoints();
    o.offload = offload;
    o.quantize_int8 = int8;
    return o;
  }
  // The reference: the same run on the CPU.
  static const GenerationResult& cpu_reference(const GeneratorOptions& options,
                                               const GenerationRequest& request) {
    static std::map<std::string, GenerationResult> cache;
    const std::string key = std::to_string(static_cast<int>(options.offload)) +
                            (options.quantize_int8 ? "i" : "f") + std::to_string(request.batch) +
                            "c" + std::to_string(request.vae_chunk_frames);
    auto it = cache.find(key);
    if (it == cache.end()) {
      auto cpu = make_test_device("cpu");
      const Generator generator =
          unwrap(Generator::load(options, ops::OpContext{*cpu, test_pool()}));
      it = cache.emplace(key, unwrap(generator.generate(request))).first;
    }
    return it->second;
  }
  std::shared_ptr<Device> device_;
  std::uint64_t cap_ = 0;
};

struct VulkanPlanCase {
  std::string name;
  OffloadMode offload;
  bool int8;
  int batch;
  int window;
};

std::string vulkan_plan_case_name(const ::testing::TestParamInfo<VulkanPlanCase>& param) {
  return param.param.name;
}

class VulkanPlanEqualsRun : public VulkanPipelineTest,
                            public ::testing::WithParamInterface<VulkanPlanCase> {};

TEST_P(VulkanPlanEqualsRun, EveryStagePeak) {
  const VulkanPlanCase& c = GetParam();
  const GeneratorOptions o = options(c.offload, c.int8);
  GenerationRequest request = vulkan_request(c.batch);
  request.vae_chunk_frames = 0;  // chosen from the budget
  request.dit_stream_window = c.window;
  const std::uint64_t budget = 64ull << 20;
  const MemoryPlanner planner = unwrap(MemoryPlanner::create(o, *device_, test_pool()));
  const GenerationPlan plan = unwrap(planner.plan(request, budget));
  const std::uint64_t used_before = device_->budget().used_bytes();
  const Generator generator = unwrap(Generator::load(o, ops::OpContext{*device_, test_pool()}));
  EXPECT_EQ(plan.resident_bytes, device_->budget().used_bytes() - used_before);
  request.budget_bytes = budget;
  const GenerationResult run = unwrap(generator.generate(request));
  const RunRecord& measured = run.record;
  ASSERT_EQ(plan.record.stages.size(), measured.stages.size());
  for (std::size_t i = 0; i < measured.stages.size(); ++i) {
    EXPECT_EQ(plan.record.stages[i].device_peak_bytes, measured.stages[i].device_peak_bytes)
        << measured.stages[i].name;
    EXPECT_EQ(plan.record.stages[i].device_by_tag, measured.stages[i].device_by_tag)
        << measured.stages[i].name;
  }
  EXPECT_EQ(plan.peak_device_bytes, measured.peak_device_bytes);
  EXPECT_EQ(plan.record.vae.chunk, measured.vae.chunk);
  if (c.offload != OffloadMode::none) {
    EXPECT_GT(measured.transfers.to_device_bytes, 0u);
  }
  // The audio is the CPU's (the same request and options on the cpu device;
  // streaming, a device-side choice, changes no value).
  GenerationRequest on_cpu = request;
  on_cpu.dit_stream_window = 0;
  const GenerationResult& reference = cpu_reference(o, on_cpu);
  const double diff = largest_difference(run.audio, reference.audio);
  const double scale = largest_value(reference.audio);
  std::cout << "[ accuracy ] " << c.name << ": vulkan vs cpu max abs difference " << diff
            << " (max |audio| " << scale << ")\n";
  EXPECT_GT(scale, 0.0);
  EXPECT_LE(diff, 2e-3 * std::max(1.0, scale));
  // The driver holds what the Budget counts plus the free room of its blocks.
  const VulkanStats stats = as_vulkan(*device_)->stats();
  EXPECT_GE(stats.peak_driver_bytes, measured.peak_device_bytes);
  RecordProperty("peak_device_bytes", std::to_string(measured.peak_device_bytes));
  RecordProperty("peak_driver_bytes", std::to_string(stats.peak_driver_bytes));
}

INSTANTIATE_TEST_SUITE_P(Settings, VulkanPlanEqualsRun,
                         ::testing::Values(VulkanPlanCase{"batch2", OffloadMode::none, false, 2, 0},
                                           VulkanPlanCase{"int8_cpu_dit_stream1",
                                                          OffloadMode::cpu_dit, true, 1, 1}),
                         vulkan_plan_case_name);

// Caps from below any run to one with room for all: each run completes
// within its cap with the plan's peak and the unconstrained audio, or is
// refused before the device is touched. (memory_caps_test sweeps every cap
// on sim; three here: one refused, one that needs a smaller batch or VAE
// chunk, one with room.)
TEST_F(VulkanPipelineTest, EveryCapCompletesOrStopsBeforeAnyWork) {
  const GeneratorOptions o = options(OffloadMode::cpu_dit);
  GenerationRequest request = vulkan_request(1);
  request.vae_chunk_frames = 0;  // chosen from the budget
  const GenerationResult& reference = cpu_reference(o, request);
  int completed = 0, refused = 0;
  int reduced = 0;
  // The unconstrained plan's peak P (the VAE decode at its largest chunk):
  // caps of 256 KiB, 0.9 P (a smaller chunk fits) and 4 P.
  std::uint64_t peak = 0;
  {
    const MemoryPlanner planner = unwrap(MemoryPlanner::create(o, *device_, test_pool()));
    peak = unwrap(planner.plan(request, kUnlimitedBytes / 2)).peak_device_bytes;
  }
  for (const std::uint64_t cap : {std::uint64_t{256} << 10, peak / 10 * 9, peak * 4}) {
    SCOPED_TRACE("cap " + format_bytes(cap));
    ASSERT_EQ(device_->budget().used_bytes(), 0u);
    device_->budget().set_cap_bytes(cap);
    device_->budget().reset_peaks();
    const std::uint64_t reservations = device_->budget().stats().reservations;
    const MemoryPlanner planner = unwrap(MemoryPlanner::create(o, *device_, test_pool()));
    const std::uint64_t budget = device_budget_bytes(*device_);
    ASSERT_EQ(budget, cap);
    const auto fit = fit_request(planner, request, budget);
    if (!fit.ok()) {
      EXPECT_EQ(fit.status().code(), ErrorCode::out_of_memory) << fit.status().to_string();
      EXPECT_EQ(device_->budget().stats().reservations, reservations);
      std::cout << "[ refused  ] cap " << format_bytes(cap) << ": " << fit.status().message()
                << "\n";
      ++refused;
      continue;
    }
    const Generator generator = unwrap(Generator::load(o, ops::OpContext{*device_, test_pool()}));
    GenerationRequest run = fit->request;
    run.budget_bytes = budget;
    const auto result = generator.generate(run);
    ASSERT_TRUE(result.ok()) << result.status().to_string();
    EXPECT_LE(result->record.peak_device_bytes, cap);
    EXPECT_EQ(result->record.peak_device_bytes, fit->plan.peak_device_bytes);
    EXPECT_LE(largest_difference(result->audio, reference.audio),
              2e-3 * std::max(1.0, largest_value(reference.audio)));
    if (result->record.vae.chunk < 128) ++reduced;
    ++completed;
  }
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(completed, 2);
  EXPECT_EQ(reduced, 1) << "the middle cap should need a smaller VAE chunk";
}

// A failure at a sample of the run's allocations: absorbed by the VAE
// ladder, or reported as out_of_memory; never a crash, and nothing leaks.
TEST_F(VulkanPipelineTest, InjectedFailuresAreAbsorbedOrReported) {
  const GeneratorOptions o = options(OffloadMode::cpu);
  const Generator generator = unwrap(Generator::load(o, ops::OpContext{*device_, test_pool()}));
  GenerationRequest r = vulkan_request(1);
  r.duration_s = 5.0;
  const std::uint64_t before = device_->budget().stats().reservations;
  const GenerationResult reference = unwrap(generator.generate(r));
  const std::uint64_t count = device_->budget().stats().reservations - before;
  ASSERT_GT(count, 100u);
  const std::uint64_t resident = device_->budget().used_bytes();
  int absorbed = 0, reported = 0;
  // Four allocations spread over the run, the last one included: the early
  // ones fail in the encoders (reported), the late ones in the VAE decode
  // (absorbed). memory_caps_test injects at every allocation on sim.
  std::vector<std::uint64_t> sample;
  for (const std::uint64_t i : {1, 2, 3, 5}) sample.push_back(1 + (count - 1) * i * i / 25);
  for (const std::uint64_t n : sample) {
    const std::uint64_t failures = device_->budget().stats().failures;
    device_->budget().fail_nth_reservation(n);
    const auto result = generator.generate(r);
    device_->budget().fail_nth_reservation(0);
    ASSERT_EQ(device_->budget().used_bytes(), resident) << "leak after allocation " << n;
    const bool injected = device_->budget().stats().failures > failures;
    if (result.ok()) {
      ASSERT_LE(largest_difference(result->audio, reference.audio),
                2e-3 * std::max(1.0, largest_value(reference.audio)))
          << "allocation " << n;
      if (injected) ++absorbed;
    } else {
      ++reported;
      ASSERT_EQ(result.status().code(), ErrorCode::out_of_memory) << result.status().to_string();
    }
  }
  EXPECT_GT(reported, 0);
  EXPECT_GT(absorbed, 0) << "the VAE ladder should absorb failures in the decode";
  // The device still runs after all of that.
  EXPECT_TRUE(device_->synchronize().ok());
}

}  // namespace
}  // namespace acefit::testing
