// Devices: allocation through the budget, transfers, the planning device,
// device selection from the environment, and CUDA absent without a crash.
#include <cstring>
#include <map>

#include "device/cpu/cpu_device.h"
#include "device/cuda/cuda_device.h"
#include "device/device_selection.h"
#include "device/planning/planning_device.h"
#include "device/sim/sim_device.h"
#include "test_support.h"

namespace acefit {
namespace {

constexpr std::uint64_t kMiB = 1 << 20;

EnvLookup env_of(std::map<std::string, std::string> values) {
  return [values](std::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(Device, AllocationsGoThroughTheBudgetAndComeBack) {
  auto sim = make_sim_device(8 * kMiB);
  EXPECT_EQ(sim->kind(), DeviceKind::sim);
  EXPECT_EQ(sim->budget().cap_bytes(), 8 * kMiB);
  {
    Tensor a = testing::unwrap(sim->empty(DType::f32, Shape{1024, 1024}, MemoryTag::weights));
    EXPECT_EQ(sim->budget().current_bytes(MemoryTag::weights), 4 * kMiB);
    EXPECT_EQ(sim->memory().free_bytes, 4 * kMiB);
    Tensor view = testing::unwrap(a.reshape(Shape{-1}));
    a = Tensor();
    EXPECT_EQ(sim->budget().used_bytes(), 4 * kMiB);  // the view keeps the storage
    auto too_big = sim->empty(DType::f32, Shape{1024, 1025}, MemoryTag::activations);
    ASSERT_FALSE(too_big.ok());
    EXPECT_EQ(too_big.status().code(), ErrorCode::out_of_memory);
    EXPECT_EQ(too_big.status().oom()->requested_bytes, 1024u * 1025u * 4u);
  }
  EXPECT_EQ(sim->budget().used_bytes(), 0u);
  EXPECT_EQ(sim->budget().peak_bytes(), 4 * kMiB);
}

TEST(Device, InvalidShapesAreRefusedBeforeAllocating) {
  auto cpu = make_cpu_device();
  EXPECT_EQ(cpu->empty(DType::f32, Shape{-1}, MemoryTag::io).status().code(),
            ErrorCode::invalid_argument);
  EXPECT_EQ(cpu->empty(DType::i64, Shape{std::int64_t{1} << 61, 4}, MemoryTag::io).status().code(),
            ErrorCode::invalid_argument);
  EXPECT_EQ(cpu->empty(DType::f32, Shape{std::int64_t{1} << 50}, MemoryTag::io).status().code(),
            ErrorCode::out_of_memory);
  EXPECT_EQ(cpu->budget().used_bytes(), 0u);
}

TEST(Device, SimCopiesAreCountedTransfers) {
  auto cpu = make_cpu_device();
  auto sim = make_sim_device(16 * kMiB);
  const std::vector<float> values = testing::random_floats(1000, 1);
  Tensor host = testing::upload(*cpu, values, Shape{10, 100});
  EXPECT_EQ(cpu->transfer_stats().to_device_count, 0u);  // the host is not a transfer
  Tensor on_sim = testing::unwrap(copy_to_device(host, *sim, MemoryTag::activations));
  Tensor back = testing::unwrap(copy_to_device(on_sim, *cpu, MemoryTag::io));
  EXPECT_EQ(testing::download(back), values);
  const TransferStats stats = sim->transfer_stats();
  EXPECT_EQ(stats.to_device_bytes, 4000u);
  EXPECT_EQ(stats.to_device_count, 1u);
  EXPECT_EQ(stats.to_host_bytes, 4000u);
  EXPECT_EQ(stats.to_host_count, 1u);
  sim->reset_transfer_stats();
  EXPECT_EQ(sim->transfer_stats().to_device_bytes, 0u);
  Tensor strided = testing::unwrap(host.transpose(0, 1));
  EXPECT_EQ(copy_to_device(strided, *sim, MemoryTag::io).status().code(),
            ErrorCode::invalid_argument);
  Tensor wrong = testing::unwrap(cpu->empty(DType::f32, Shape{7}, MemoryTag::io));
  EXPECT_EQ(copy_into(host, wrong).code(), ErrorCode::invalid_argument);
}

TEST(Device, PlanningDeviceMirrorsButTouchesNothing) {
  auto sim = make_sim_device(4 * kMiB, 3 * kMiB);
  auto planner = make_planning_device(*sim);
  EXPECT_TRUE(planner->planning());
  EXPECT_EQ(planner->kind(), DeviceKind::sim);
  EXPECT_EQ(planner->name(), sim->name());
  EXPECT_EQ(planner->budget().cap_bytes(), 3 * kMiB);
  {
    Tensor a = testing::unwrap(planner->empty(DType::f32, Shape{512, 1024}, MemoryTag::weights));
    EXPECT_TRUE(a.planned());
    EXPECT_EQ(a.raw_data(), nullptr);
    Tensor b =
        testing::unwrap(planner->empty(DType::f32, Shape{256, 1024}, MemoryTag::activations));
    EXPECT_EQ(planner->empty(DType::f32, Shape{1}, MemoryTag::io).status().code(),
              ErrorCode::out_of_memory);
    std::vector<float> host(4);
    EXPECT_TRUE(planner->copy_from_host(a.raw_data(), host.data(), 16).ok());
  }
  const PlanReport report = plan_report(*planner);
  EXPECT_EQ(report.peak_bytes, 3 * kMiB);
  EXPECT_EQ(report.peak_by_tag[static_cast<int>(MemoryTag::weights)], 2 * kMiB);
  EXPECT_EQ(report.allocations, 2u);
  EXPECT_EQ(sim->budget().used_bytes(), 0u);
}

TEST(DeviceSelection, ParsesDeviceNames) {
  EXPECT_EQ(testing::unwrap(device_request_from(env_of({}))).choice,
            DeviceRequest::Choice::automatic);
  EXPECT_EQ(testing::unwrap(device_request_from(env_of({{"ACEFIT_DEVICE", "sim"}}))).choice,
            DeviceRequest::Choice::sim);
  auto cuda3 = testing::unwrap(device_request_from(env_of({{"ACEFIT_DEVICE", "cuda:3"}})));
  EXPECT_EQ(cuda3.choice, DeviceRequest::Choice::cuda);
  EXPECT_EQ(cuda3.ordinal, 3);
  // The command line wins over the environment.
  EXPECT_EQ(testing::unwrap(device_request_from(env_of({{"ACEFIT_DEVICE", "sim"}}), "cpu")).choice,
            DeviceRequest::Choice::cpu);
  // ACESTEP_DEVICE, the reference's name, wins over ACEFIT_DEVICE.
  EXPECT_EQ(testing::unwrap(
                device_request_from(env_of({{"ACEFIT_DEVICE", "sim"}, {"ACESTEP_DEVICE", "cpu"}})))
                .choice,
            DeviceRequest::Choice::cpu);
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CPU"}) {
    // On the command line a bad name is an error naming it ...
    auto r = device_request_from(env_of({}), bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), ErrorCode::invalid_argument);
    EXPECT_NE(r.status().message().find(bad), std::string::npos);
    // ... in the environment it is ignored with a warning naming it.
    auto e = testing::unwrap(device_request_from(env_of({{"ACESTEP_DEVICE", bad}})));
    EXPECT_EQ(e.choice, DeviceRequest::Choice::automatic) << bad;
    ASSERT_EQ(e.warnings.size(), 1u);
    EXPECT_NE(e.warnings[0].find(std::string("ACESTEP_DEVICE value: ") + bad), std::string::npos);
  }
}

TEST(DeviceSelection, MaxCudaVramSizesTheSimDeviceWithTheContextReserve) {
  std::vector<std::string> warnings;
  for (const auto& [gib, cap_gib] : std::vector<std::pair<double, double>>{
           {4, 3.5}, {6, 5.5}, {8, 7.5}, {12, 11.5}, {16, 15.5}, {0.75, 0.5}, {0.25, 0.5}}) {
    auto request = testing::unwrap(device_request_from(
        env_of({{"ACEFIT_DEVICE", "sim"}, {"MAX_CUDA_VRAM", std::to_string(gib)}})));
    auto device = testing::unwrap(open_device(request, warnings));
    EXPECT_EQ(device->kind(), DeviceKind::sim);
    EXPECT_EQ(device->memory().total_bytes, static_cast<std::uint64_t>(gib * (1ull << 30)));
    EXPECT_EQ(device->budget().cap_bytes(), static_cast<std::uint64_t>(cap_gib * (1ull << 30)))
        << gib;
  }
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings[0].find("Simulating GPU memory as 4.0 GiB"), std::string::npos);
}

TEST(DeviceSelection, SimVramGbIsTheCapWithNothingSubtracted) {
  std::vector<std::string> warnings;
  auto request = testing::unwrap(
      device_request_from(env_of({{"ACEFIT_DEVICE", "sim"}, {"ACEFIT_SIM_VRAM_GB", "0.125"}})));
  auto device = testing::unwrap(open_device(request, warnings));
  EXPECT_EQ(device->budget().cap_bytes(), 128 * kMiB);
  EXPECT_TRUE(warnings.empty());
  // Neither set: the default size.
  auto plain = testing::unwrap(open_device(
      testing::unwrap(device_request_from(env_of({{"ACEFIT_DEVICE", "sim"}}))), warnings));
  EXPECT_EQ(plain->budget().cap_bytes(),
            static_cast<std::uint64_t>(kDefaultSimVramGib * (1ull << 30)));
}

TEST(DeviceSelection, InvalidSizesWarnAndAreIgnored) {
  for (const char* bad : {"", "abc", "-4", "0", "nan", "inf", "4GB", "1e9"}) {
    auto request = testing::unwrap(
        device_request_from(env_of({{"ACEFIT_DEVICE", "sim"}, {"MAX_CUDA_VRAM", bad}})));
    EXPECT_FALSE(request.simulated_vram_gib.has_value()) << bad;
    ASSERT_EQ(request.warnings.size(), 1u) << bad;
    EXPECT_EQ(request.warnings[0],
              "Invalid MAX_CUDA_VRAM value: " + std::string(bad) + ", ignoring");
  }
  auto request = testing::unwrap(device_request_from(env_of({{"ACEFIT_SIM_VRAM_GB", "x"}})));
  EXPECT_FALSE(request.sim_vram_gib.has_value());
  EXPECT_EQ(request.warnings.size(), 1u);
}

// The sim device never reports more free memory than its cap allows.
TEST(DeviceSelection, SimFreeMemoryStaysUnderTheCap) {
  std::vector<std::string> warnings;
  auto request = testing::unwrap(
      device_request_from(env_of({{"ACEFIT_DEVICE", "sim"}, {"MAX_CUDA_VRAM", "4"}})));
  auto device = testing::unwrap(open_device(request, warnings));
  const std::uint64_t cap = device->budget().cap_bytes();
  EXPECT_LE(device->memory().free_bytes, cap);
  EXPECT_EQ(device->memory().free_bytes, cap);
  {
    auto held = testing::unwrap(device->allocate(64 * kMiB, MemoryTag::activations));
    EXPECT_EQ(device->memory().free_bytes, cap - device->budget().used_bytes());
  }
  // ACEFIT_SIM_VRAM_GB: the cap is the whole size.
  auto plain = testing::unwrap(open_device(
      testing::unwrap(
          device_request_from(env_of({{"ACEFIT_DEVICE", "sim"}, {"ACEFIT_SIM_VRAM_GB", "2"}}))),
      warnings));
  EXPECT_EQ(plain->memory().free_bytes, plain->budget().cap_bytes());
}

// Without a driver the fallback says so in words, not as a CUDA error code.
TEST(DeviceSelection, NoDriverIsSaidInWords) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA GPU is present";
  std::vector<std::string> warnings;
  testing::unwrap(open_device(testing::unwrap(device_request_from(env_of({}))), warnings));
  for (const auto& warning : warnings) {
    EXPECT_EQ(warning.find("cudaError"), std::string::npos) << warning;
    EXPECT_EQ(warning.find("insufficient for CUDA runtime"), std::string::npos) << warning;
  }
}

TEST(DeviceSelection, AutomaticFallsBackToTheCpuWithoutAGpu) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA GPU is present";
  std::vector<std::string> warnings;
  auto device =
      testing::unwrap(open_device(testing::unwrap(device_request_from(env_of({}))), warnings));
  EXPECT_EQ(device->kind(), DeviceKind::cpu);
  auto cuda = open_device(testing::unwrap(device_request_from(env_of({{"ACEFIT_DEVICE", "cuda"}}))),
                          warnings);
  ASSERT_FALSE(cuda.ok());
  EXPECT_TRUE(cuda.status().code() == ErrorCode::not_found ||
              cuda.status().code() == ErrorCode::unsupported)
      << cuda.status().to_string();
  EXPECT_EQ(make_cuda_device(0).ok(), false);
}

TEST(DeviceSelection, ParseGib) {
  EXPECT_EQ(parse_gib("8"), 8.0);
  EXPECT_EQ(parse_gib("0.5"), 0.5);
  EXPECT_FALSE(parse_gib(" 8").has_value());
  EXPECT_FALSE(parse_gib("8 ").has_value());
  EXPECT_EQ(simulated_vram_cap_bytes(4), 3584 * kMiB);
  EXPECT_EQ(simulated_vram_cap_bytes(0.5), 512 * kMiB);
}

}  // namespace
}  // namespace acefit
