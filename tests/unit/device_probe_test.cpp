// Device probes against fake vendor libraries (tests/fakes/, configured
// through ACEFIT_FAKE_* environment variables: fake_config.h) and fake
// /proc files: every API's outcomes, every field, odd answers, fallback
// from NVML to the CUDA driver and de-duplication of Vulkan devices.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "adapt/probe/device_probe.h"
#include "adapt/probe/probe_internal.h"

namespace acefit {
namespace {

using State = ProbeOutcome::State;

constexpr const char* kNvml = ACEFIT_FAKE_NVML_PATH;
constexpr const char* kNvmlIncomplete = ACEFIT_FAKE_NVML_INCOMPLETE_PATH;
constexpr const char* kCuda = ACEFIT_FAKE_CUDA_DRIVER_PATH;
constexpr const char* kCudaIncomplete = ACEFIT_FAKE_CUDA_DRIVER_INCOMPLETE_PATH;
constexpr const char* kRocm = ACEFIT_FAKE_ROCM_SMI_PATH;
constexpr const char* kRocmIncomplete = ACEFIT_FAKE_ROCM_SMI_INCOMPLETE_PATH;
constexpr const char* kLevelZero = ACEFIT_FAKE_LEVEL_ZERO_PATH;
constexpr const char* kLevelZeroIncomplete = ACEFIT_FAKE_LEVEL_ZERO_INCOMPLETE_PATH;
constexpr const char* kVulkan = ACEFIT_FAKE_VULKAN_PATH;
constexpr const char* kMissing = "/nonexistent/acefit-probe-test/libmissing.so.1";

// Sets environment variables for the fakes and restores them afterwards.
class FakeEnvironment {
 public:
  FakeEnvironment() = default;
  FakeEnvironment(const FakeEnvironment&) = delete;
  FakeEnvironment& operator=(const FakeEnvironment&) = delete;
  ~FakeEnvironment() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        setenv(name.c_str(), value->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }
  void set(const std::string& name, const std::string& value) {
    remember(name);
    setenv(name.c_str(), value.c_str(), 1);
  }
  void unset(const std::string& name) {
    remember(name);
    unsetenv(name.c_str());
  }
  bool is_set(const std::string& name) const { return std::getenv(name.c_str()) != nullptr; }

 private:
  void remember(const std::string& name) {
    if (saved_.count(name) != 0) return;
    const char* old = std::getenv(name.c_str());
    saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

// Every GPU probe off unless named in `overrides`; the host reads /proc.
EnvLookup env_with(const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> values = {
      {"ACEFIT_NVML_LIBRARY", "none"},     {"ACEFIT_CUDA_DRIVER_LIBRARY", "none"},
      {"ACEFIT_ROCM_SMI_LIBRARY", "none"}, {"ACEFIT_LEVEL_ZERO_LIBRARY", "none"},
      {"ACEFIT_VULKAN_LIBRARY", "none"},
  };
  for (const auto& [name, value] : overrides) values[name] = value;
  return [values](std::string_view name) -> std::optional<std::string> {
    const auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

const ProbeOutcome* outcome_of(const ProbeReport& report, const std::string& api) {
  for (const ProbeOutcome& outcome : report.outcomes) {
    if (outcome.api == api) return &outcome;
  }
  return nullptr;
}

std::vector<std::string> outcome_apis(const ProbeReport& report) {
  std::vector<std::string> apis;
  for (const ProbeOutcome& outcome : report.outcomes) apis.push_back(outcome.api);
  return apis;
}

// One API's probe with its fake configured: what most tests below do.
struct ApiCase {
  std::string api;            // outcome name
  std::string variable;       // ACEFIT_*_LIBRARY
  std::string fake_config;    // ACEFIT_FAKE_*
  const char* fake;           // the fake library
  const char* incomplete;     // the fake lacking a symbol, or nullptr
  std::string missing;        // the symbol it lacks
  std::string init_failure;   // fail= entry for the init call
  std::string init_message;   // what the outcome must then say
  std::size_t name_capacity;  // the name buffer size
};

const std::vector<ApiCase>& api_cases() {
  static const std::vector<ApiCase> cases = {
      {"nvml", "ACEFIT_NVML_LIBRARY", "ACEFIT_FAKE_NVML", kNvml, kNvmlIncomplete,
       "nvmlDeviceGetMemoryInfo", "nvmlInit_v2:9", "nvmlInit_v2 returned 9", 96},
      {"cuda-driver", "ACEFIT_CUDA_DRIVER_LIBRARY", "ACEFIT_FAKE_CUDA", kCuda, kCudaIncomplete,
       "cuDeviceTotalMem_v2", "cuInit:100", "cuInit returned 100", 256},
      {"rocm-smi", "ACEFIT_ROCM_SMI_LIBRARY", "ACEFIT_FAKE_ROCM_SMI", kRocm, kRocmIncomplete,
       "rsmi_dev_memory_usage_get", "rsmi_init:8", "rsmi_init returned 8", 256},
      {"level-zero", "ACEFIT_LEVEL_ZERO_LIBRARY", "ACEFIT_FAKE_LEVEL_ZERO", kLevelZero,
       kLevelZeroIncomplete, "zeDeviceGetMemoryProperties", "zeInit:0x78000001",
       "zeInit returned 0x78000001", 256},
      {"vulkan", "ACEFIT_VULKAN_LIBRARY", "ACEFIT_FAKE_VULKAN", kVulkan, nullptr,
       "vkEnumeratePhysicalDevices", "vkCreateInstance:-9", "vkCreateInstance returned -9", 256},
  };
  return cases;
}

ProbeReport run_case(const ApiCase& c, const std::string& config, const char* library = nullptr) {
  FakeEnvironment environment;
  environment.set(c.fake_config, config);
  return probe_devices(env_with({{c.variable, library != nullptr ? library : c.fake}}));
}

TEST(DeviceProbe, StateNames) {
  EXPECT_EQ(probe_state_name(State::ok), "ok");
  EXPECT_EQ(probe_state_name(State::disabled), "disabled");
  EXPECT_EQ(probe_state_name(State::library_missing), "library_missing");
  EXPECT_EQ(probe_state_name(State::failed), "failed");
}

TEST(DeviceProbe, LibraryMissingNamesThePath) {
  for (const ApiCase& c : api_cases()) {
    SCOPED_TRACE(c.api);
    const ProbeReport report = run_case(c, "devices=1", kMissing);
    const ProbeOutcome* outcome = outcome_of(report, c.api);
    ASSERT_NE(outcome, nullptr);
    EXPECT_EQ(outcome->state, State::library_missing);
    EXPECT_EQ(outcome->library, kMissing);
    EXPECT_NE(outcome->detail.find(kMissing), std::string::npos) << outcome->detail;
    EXPECT_EQ(outcome->device_count, 0);
    EXPECT_TRUE(report.gpus.empty());
  }
}

TEST(DeviceProbe, NoneDisablesAProbe) {
  for (const ApiCase& c : api_cases()) {
    SCOPED_TRACE(c.api);
    const ProbeReport report = run_case(c, "devices=1", "none");
    const ProbeOutcome* outcome = outcome_of(report, c.api);
    ASSERT_NE(outcome, nullptr);
    EXPECT_EQ(outcome->state, State::disabled);
    EXPECT_NE(outcome->detail.find(c.variable), std::string::npos) << outcome->detail;
    EXPECT_TRUE(report.gpus.empty());
  }
}

TEST(DeviceProbe, LibraryPathsComeFromTheLookupNotTheProcessEnvironment) {
  FakeEnvironment environment;
  environment.set("ACEFIT_NVML_LIBRARY", kMissing);
  environment.set("ACEFIT_FAKE_NVML", "devices=1");
  const ProbeReport report = probe_devices(env_with({{"ACEFIT_NVML_LIBRARY", kNvml}}));
  const ProbeOutcome* outcome = outcome_of(report, "nvml");
  ASSERT_NE(outcome, nullptr);
  EXPECT_EQ(outcome->state, State::ok);
  EXPECT_EQ(outcome->library, kNvml);
}

TEST(DeviceProbe, InitFailureNamesTheFunctionAndCode) {
  for (const ApiCase& c : api_cases()) {
    SCOPED_TRACE(c.api);
    const ProbeReport report = run_case(c, "devices=2;fail=" + c.init_failure);
    const ProbeOutcome* outcome = outcome_of(report, c.api);
    ASSERT_NE(outcome, nullptr);
    EXPECT_EQ(outcome->state, State::failed);
    EXPECT_EQ(outcome->detail, c.init_message);
    EXPECT_EQ(outcome->device_count, 0);
    EXPECT_TRUE(report.gpus.empty());
  }
}

TEST(DeviceProbe, ZeroDevicesIsOk) {
  for (const ApiCase& c : api_cases()) {
    SCOPED_TRACE(c.api);
    const ProbeReport report = run_case(c, "devices=0");
    const ProbeOutcome* outcome = outcome_of(report, c.api);
    ASSERT_NE(outcome, nullptr);
    EXPECT_EQ(outcome->state, State::ok) << outcome->detail;
    EXPECT_EQ(outcome->library, c.fake);
    EXPECT_EQ(outcome->device_count, 0);
    EXPECT_TRUE(report.gpus.empty());
  }
}

TEST(DeviceProbe, ZeroByZeroDeviceIsListedWithUnknownMemory) {
  for (const ApiCase& c : api_cases()) {
    SCOPED_TRACE(c.api);
    const ProbeReport report = run_case(c, "devices=1;name0=Zero Card;total0=0;free0=0");
    ASSERT_EQ(report.gpus.size(), 1u);
    const ProbedDevice& device = report.gpus[0];
    EXPECT_EQ(device.api, c.api);
    EXPECT_EQ(device.name, "Zero Card");
    EXPECT_EQ(device.total_bytes, 0u);
    EXPECT_FALSE(device.free_bytes.has_value());
    EXPECT_FALSE(device.memory_known());
    EXPECT_EQ(outcome_of(report, c.api)->device_count, 1);
  }
}

TEST(DeviceProbe, UnterminatedNameIsBounded) {
  const std::string long_name(300, 'A');
  for (const ApiCase& c : api_cases()) {
    SCOPED_TRACE(c.api);
    const ProbeReport report =
        run_case(c, "devices=1;name0=" + long_name + ";noterm0=1;total0=1000;free0=10");
    ASSERT_EQ(report.gpus.size(), 1u);
    EXPECT_EQ(report.gpus[0].name, std::string(c.name_capacity, 'A'));
  }
}

TEST(DeviceProbe, MissingSymbolIsNamed) {
  for (const ApiCase& c : api_cases()) {
    SCOPED_TRACE(c.api);
    // Vulkan: the fake's vkGetInstanceProcAddr answers NULL for the name.
    const ProbeReport report = c.incomplete != nullptr ? run_case(c, "devices=1", c.incomplete)
                                                       : run_case(c, "devices=1;omit=" + c.missing);
    const ProbeOutcome* outcome = outcome_of(report, c.api);
    ASSERT_NE(outcome, nullptr);
    EXPECT_EQ(outcome->state, State::failed);
    EXPECT_EQ(outcome->detail, "missing symbol " + c.missing);
    EXPECT_TRUE(report.gpus.empty());
  }
}

TEST(DeviceProbe, VulkanLibraryWithoutGetInstanceProcAddr) {
  // Any library lacking the entry point: the NVML fake.
  const ProbeReport report = probe_devices(env_with({{"ACEFIT_VULKAN_LIBRARY", kNvml}}));
  const ProbeOutcome* outcome = outcome_of(report, "vulkan");
  ASSERT_NE(outcome, nullptr);
  EXPECT_EQ(outcome->state, State::failed);
  EXPECT_EQ(outcome->detail, "missing symbol vkGetInstanceProcAddr");
}

TEST(DeviceProbe, NvmlTwoDevicesEveryField) {
  FakeEnvironment environment;
  environment.unset("ACEFIT_FAKE_NVML_SHUTDOWN");
  environment.set("ACEFIT_FAKE_NVML",
                  "devices=2;name0=NVIDIA GeForce RTX 4090;total0=25757220864;free0=24000000000;"
                  "cc0=8.9;name1=NVIDIA A100-SXM4-80GB;total1=85899345920;free1=80000000000;"
                  "cc1=8.0;driver=550.54.14;cuda=12040");
  const ProbeReport report = probe_devices(env_with({{"ACEFIT_NVML_LIBRARY", kNvml}}));
  ASSERT_EQ(report.gpus.size(), 2u);
  const ProbedDevice& first = report.gpus[0];
  EXPECT_EQ(first.api, "nvml");
  EXPECT_EQ(first.vendor, "NVIDIA");
  EXPECT_EQ(first.index, 0);
  EXPECT_EQ(first.name, "NVIDIA GeForce RTX 4090");
  EXPECT_EQ(first.total_bytes, 25757220864u);
  EXPECT_EQ(first.free_bytes, std::optional<std::uint64_t>(24000000000u));
  EXPECT_EQ(first.compute_capability, "8.9");
  EXPECT_EQ(first.driver_version, "550.54.14");
  EXPECT_EQ(first.runtime_version, "CUDA 12.4");
  EXPECT_TRUE(first.memory_known());
  const ProbedDevice& second = report.gpus[1];
  EXPECT_EQ(second.index, 1);
  EXPECT_EQ(second.name, "NVIDIA A100-SXM4-80GB");
  EXPECT_EQ(second.total_bytes, 85899345920u);
  EXPECT_EQ(second.free_bytes, std::optional<std::uint64_t>(80000000000u));
  EXPECT_EQ(second.compute_capability, "8.0");
  EXPECT_EQ(second.driver_version, "550.54.14");

  const ProbeOutcome* outcome = outcome_of(report, "nvml");
  ASSERT_NE(outcome, nullptr);
  EXPECT_EQ(outcome->state, State::ok);
  EXPECT_EQ(outcome->device_count, 2);
  EXPECT_EQ(outcome->detail, "");
  // NVML answered: the CUDA driver is not asked.
  EXPECT_EQ(outcome_of(report, "cuda-driver"), nullptr);
  // nvmlShutdown was called, and the library was closed after it.
  EXPECT_TRUE(environment.is_set("ACEFIT_FAKE_NVML_SHUTDOWN"));
  void* still_loaded = dlopen(kNvml, RTLD_NOW | RTLD_NOLOAD);
  EXPECT_EQ(still_loaded, nullptr);
  if (still_loaded != nullptr) dlclose(still_loaded);
}

TEST(DeviceProbe, CudaDriverTwoDevicesEveryField) {
  FakeEnvironment environment;
  environment.set("ACEFIT_FAKE_CUDA",
                  "devices=2;name0=NVIDIA GeForce RTX 3090;total0=25438126080;free0=25000000000;"
                  "cc0=8.6;name1=Tesla T4;total1=15843721216;free1=15000000000;cc1=7.5;"
                  "version=12020");
  const ProbeReport report = probe_devices(env_with({{"ACEFIT_CUDA_DRIVER_LIBRARY", kCuda}}));
  ASSERT_EQ(report.gpus.size(), 2u);
  const ProbedDevice& first = report.gpus[0];
  EXPECT_EQ(first.api, "cuda-driver");
  EXPECT_EQ(first.vendor, "NVIDIA");
  EXPECT_EQ(first.index, 0);
  EXPECT_EQ(first.name, "NVIDIA GeForce RTX 3090");
  EXPECT_EQ(first.total_bytes, 25438126080u);
  EXPECT_EQ(first.free_bytes, std::optional<std::uint64_t>(25000000000u));
  EXPECT_EQ(first.compute_capability, "8.6");
  EXPECT_EQ(first.driver_version, "");  // the driver API does not tell
  EXPECT_EQ(first.runtime_version, "CUDA 12.2");
  const ProbedDevice& second = report.gpus[1];
  EXPECT_EQ(second.index, 1);
  EXPECT_EQ(second.name, "Tesla T4");
  EXPECT_EQ(second.total_bytes, 15843721216u);
  EXPECT_EQ(second.free_bytes, std::optional<std::uint64_t>(15000000000u));
  EXPECT_EQ(second.compute_capability, "7.5");
  EXPECT_EQ(outcome_of(report, "cuda-driver")->device_count, 2);
}

TEST(DeviceProbe, CudaDriverFreeMemoryFailureIsNotAnError) {
  FakeEnvironment environment;
  environment.set("ACEFIT_FAKE_CUDA",
                  "devices=2;total0=1000;free0=500;total1=2000;free1=1500;"
                  "fail=cuMemGetInfo_v2@0:2,cuDevicePrimaryCtxRetain@1:2");
  const ProbeReport report = probe_devices(env_with({{"ACEFIT_CUDA_DRIVER_LIBRARY", kCuda}}));
  ASSERT_EQ(report.gpus.size(), 2u);
  EXPECT_EQ(report.gpus[0].total_bytes, 1000u);
  EXPECT_FALSE(report.gpus[0].free_bytes.has_value());
  EXPECT_EQ(report.gpus[1].total_bytes, 2000u);
  EXPECT_FALSE(report.gpus[1].free_bytes.has_value());
  EXPECT_EQ(outcome_of(report, "cuda-driver")->state, State::ok);
}

TEST(DeviceProbe, RocmSmiTwoDevicesEveryField) {
  FakeEnvironment environment;
  environment.unset("ACEFIT_FAKE_ROCM_SMI_SHUTDOWN");
  environment.set("ACEFIT_FAKE_ROCM_SMI",
                  "devices=2;name0=AMD Radeon RX 7900 XTX;total0=25753026560;free0=25000000000;"
                  "name1=AMD Instinct MI300X;total1=206141652992;free1=200000000000;"
                  "version=6.1.2;driver=6.7.0");
  const ProbeReport report = probe_devices(env_with({{"ACEFIT_ROCM_SMI_LIBRARY", kRocm}}));
  ASSERT_EQ(report.gpus.size(), 2u);
  const ProbedDevice& first = report.gpus[0];
  EXPECT_EQ(first.api, "rocm-smi");
  EXPECT_EQ(first.vendor, "AMD");
  EXPECT_EQ(first.index, 0);
  EXPECT_EQ(first.name, "AMD Radeon RX 7900 XTX");
  EXPECT_EQ(first.total_bytes, 25753026560u);
  EXPECT_EQ(first.free_bytes, std::optional<std::uint64_t>(25000000000u));
  EXPECT_EQ(first.compute_capability, "");
  EXPECT_EQ(first.driver_version, "6.7.0");
  EXPECT_EQ(first.runtime_version, "ROCm SMI 6.1.2");
  const ProbedDevice& second = report.gpus[1];
  EXPECT_EQ(second.index, 1);
  EXPECT_EQ(second.name, "AMD Instinct MI300X");
  EXPECT_EQ(second.total_bytes, 206141652992u);
  EXPECT_EQ(second.free_bytes, std::optional<std::uint64_t>(200000000000u));
  EXPECT_EQ(outcome_of(report, "rocm-smi")->device_count, 2);
  EXPECT_TRUE(environment.is_set("ACEFIT_FAKE_ROCM_SMI_SHUTDOWN"));
}

TEST(DeviceProbe, RocmSmiTriesEachNameInTurn) {
  FakeEnvironment environment;
  environment.set("ACEFIT_FAKE_ROCM_SMI", "devices=1;total0=100;free0=40");
  const probe::ApiProbe found = probe::probe_rocm_smi({kMissing, kRocm});
  EXPECT_EQ(found.outcome.state, State::ok);
  EXPECT_EQ(found.outcome.library, kRocm);
  ASSERT_EQ(found.devices.size(), 1u);
  EXPECT_EQ(found.devices[0].free_bytes, std::optional<std::uint64_t>(40));

  const std::string other = "/nonexistent/acefit-probe-test/librocm_smi64.so";
  const probe::ApiProbe neither = probe::probe_rocm_smi({kMissing, other});
  EXPECT_EQ(neither.outcome.state, State::library_missing);
  EXPECT_NE(neither.outcome.detail.find(kMissing), std::string::npos);
  EXPECT_NE(neither.outcome.detail.find(other), std::string::npos);
}

TEST(DeviceProbe, LevelZeroTwoDevicesEveryField) {
  FakeEnvironment environment;
  // Sysman hands out its devices in reverse order: free memory must follow
  // the UUID, not the position.
  environment.set("ACEFIT_FAKE_LEVEL_ZERO",
                  "devices=2;name0=Intel(R) Arc(TM) A770 Graphics;total0=16225243136;"
                  "free0=15000000000;name1=Intel(R) Data Center GPU Max 1100;"
                  "total1=34359738368,34359738368;free1=30000000000,31000000000;"
                  "driver=0x01036A26;api=0x00010005");
  const ProbeReport report = probe_devices(env_with({{"ACEFIT_LEVEL_ZERO_LIBRARY", kLevelZero}}));
  ASSERT_EQ(report.gpus.size(), 2u);
  const ProbedDevice& first = report.gpus[0];
  EXPECT_EQ(first.api, "level-zero");
  EXPECT_EQ(first.vendor, "Intel");
  EXPECT_EQ(first.index, 0);
  EXPECT_EQ(first.name, "Intel(R) Arc(TM) A770 Graphics");
  EXPECT_EQ(first.total_bytes, 16225243136u);
  EXPECT_EQ(first.free_bytes, std::optional<std::uint64_t>(15000000000u));
  EXPECT_EQ(first.compute_capability, "");
  EXPECT_EQ(first.driver_version, "1.3.27174");
  EXPECT_EQ(first.runtime_version, "Level Zero 1.5");
  const ProbedDevice& second = report.gpus[1];
  EXPECT_EQ(second.index, 1);
  EXPECT_EQ(second.name, "Intel(R) Data Center GPU Max 1100");
  EXPECT_EQ(second.total_bytes, 68719476736u);
  EXPECT_EQ(second.free_bytes, std::optional<std::uint64_t>(61000000000u));
  EXPECT_EQ(outcome_of(report, "level-zero")->device_count, 2);
}

TEST(DeviceProbe, LevelZeroSysmanThroughTheCoreHandleOrNotAtAll) {
  FakeEnvironment environment;
  const EnvLookup env = env_with({{"ACEFIT_LEVEL_ZERO_LIBRARY", kLevelZero}});
  // zesInit fails: the core handle serves sysman (ZES_ENABLE_SYSMAN style).
  environment.set("ACEFIT_FAKE_LEVEL_ZERO",
                  "devices=2;total0=1000;free0=300;total1=2000;free1=700;fail=zesInit:1");
  ProbeReport report = probe_devices(env);
  ASSERT_EQ(report.gpus.size(), 2u);
  EXPECT_EQ(report.gpus[0].free_bytes, std::optional<std::uint64_t>(300));
  EXPECT_EQ(report.gpus[1].free_bytes, std::optional<std::uint64_t>(700));
  // No sysman: totals still known, free unknown, not an error.
  environment.set("ACEFIT_FAKE_LEVEL_ZERO", "devices=1;total0=1000;free0=300;sysman=0");
  report = probe_devices(env);
  ASSERT_EQ(report.gpus.size(), 1u);
  EXPECT_EQ(report.gpus[0].total_bytes, 1000u);
  EXPECT_FALSE(report.gpus[0].free_bytes.has_value());
  EXPECT_EQ(outcome_of(report, "level-zero")->state, State::ok);
}

TEST(DeviceProbe, LevelZeroListsGpusOnly) {
  FakeEnvironment environment;
  environment.set("ACEFIT_FAKE_LEVEL_ZERO",
                  "devices=2;type0=cpu;name0=Intel CPU;total0=100;name1=Intel GPU;total1=200");
  const ProbeReport report = probe_devices(env_with({{"ACEFIT_LEVEL_ZERO_LIBRARY", kLevelZero}}));
  ASSERT_EQ(report.gpus.size(), 1u);
  EXPECT_EQ(report.gpus[0].name, "Intel GPU");
  EXPECT_EQ(report.gpus[0].total_bytes, 200u);
}

constexpr std::uint32_t nvidia_driver_version(std::uint32_t a, std::uint32_t b, std::uint32_t c) {
  return (a << 22) | (b << 14) | (c << 6);
}
constexpr std::uint32_t vulkan_version(std::uint32_t a, std::uint32_t b, std::uint32_t c) {
  return (a << 22) | (b << 12) | c;
}

TEST(DeviceProbe, VulkanTwoDevicesEveryField) {
  FakeEnvironment environment;
  environment.unset("ACEFIT_FAKE_VULKAN_SHUTDOWN");
  environment.set(
      "ACEFIT_FAKE_VULKAN",
      "devices=2;name0=AMD Radeon RX 7800 XT (RADV NAVI32);vendor0=0x1002;total0=17163091968;"
      "budget0=16000000000;usage0=1000000000;driver0=" +
          std::to_string(vulkan_version(24, 0, 5)) +
          ";api0=" + std::to_string(vulkan_version(1, 3, 274)) +
          ";name1=NVIDIA GeForce RTX 3060;vendor1=0x10de;total1=12884901888;budget1=12000000000;"
          "usage1=500000000;driver1=" +
          std::to_string(nvidia_driver_version(550, 54, 14)));
  const ProbeReport report = probe_devices(env_with({{"ACEFIT_VULKAN_LIBRARY", kVulkan}}));
  ASSERT_EQ(report.gpus.size(), 2u);
  const ProbedDevice& first = report.gpus[0];
  EXPECT_EQ(first.api, "vulkan");
  EXPECT_EQ(first.vendor, "AMD");
  EXPECT_EQ(first.index, 0);
  EXPECT_EQ(first.name, "AMD Radeon RX 7800 XT (RADV NAVI32)");
  EXPECT_EQ(first.total_bytes, 17163091968u);  // the host heap is not counted
  EXPECT_EQ(first.free_bytes, std::optional<std::uint64_t>(15000000000u));
  EXPECT_EQ(first.compute_capability, "");
  EXPECT_EQ(first.driver_version, "24.0.5");
  EXPECT_EQ(first.runtime_version, "Vulkan 1.3.274");
  const ProbedDevice& second = report.gpus[1];
  EXPECT_EQ(second.vendor, "NVIDIA");
  EXPECT_EQ(second.index, 1);
  EXPECT_EQ(second.name, "NVIDIA GeForce RTX 3060");
  EXPECT_EQ(second.total_bytes, 12884901888u);
  EXPECT_EQ(second.free_bytes, std::optional<std::uint64_t>(11500000000u));
  EXPECT_EQ(second.driver_version, "550.54.14");
  EXPECT_EQ(second.runtime_version, "Vulkan 1.3.250");
  EXPECT_EQ(outcome_of(report, "vulkan")->device_count, 2);
  EXPECT_TRUE(environment.is_set("ACEFIT_FAKE_VULKAN_SHUTDOWN"));  // vkDestroyInstance
}

TEST(DeviceProbe, VulkanSkipsCpuDevicesAndNamesUnknownVendors) {
  FakeEnvironment environment;
  environment.set("ACEFIT_FAKE_VULKAN",
                  "devices=3;type0=cpu;name0=llvmpipe (LLVM 15.0.6, 256 bits);vendor0=0x10005;"
                  "total0=1000;name1=Mystery GPU;vendor1=0x1234;total1=2000;type2=integrated;"
                  "name2=Apple M2;vendor2=0x106b;total2=3000");
  const ProbeReport report = probe_devices(env_with({{"ACEFIT_VULKAN_LIBRARY", kVulkan}}));
  ASSERT_EQ(report.gpus.size(), 2u);
  EXPECT_EQ(report.gpus[0].name, "Mystery GPU");
  EXPECT_EQ(report.gpus[0].vendor, "vendor 0x1234");
  EXPECT_EQ(report.gpus[0].index, 1);
  EXPECT_EQ(report.gpus[1].vendor, "Apple");
  EXPECT_EQ(report.gpus[1].index, 2);
}

TEST(DeviceProbe, VulkanWithoutMemoryBudgetHasNoFreeFigure) {
  FakeEnvironment environment;
  const EnvLookup env = env_with({{"ACEFIT_VULKAN_LIBRARY", kVulkan}});
  environment.set("ACEFIT_FAKE_VULKAN",
                  "devices=1;total0=4000,1000;budget0=3000,900;usage0=1000,100;membudget0=0");
  ProbeReport report = probe_devices(env);
  ASSERT_EQ(report.gpus.size(), 1u);
  EXPECT_EQ(report.gpus[0].total_bytes, 5000u);
  EXPECT_FALSE(report.gpus[0].free_bytes.has_value());
  // The same device with the extension: both heaps' budget less usage.
  environment.set("ACEFIT_FAKE_VULKAN",
                  "devices=1;total0=4000,1000;budget0=3000,900;"
                  "usage0=1000,100");
  report = probe_devices(env);
  ASSERT_EQ(report.gpus.size(), 1u);
  EXPECT_EQ(report.gpus[0].free_bytes, std::optional<std::uint64_t>(2800));
  // Without vkGetPhysicalDeviceMemoryProperties2 the budget cannot be asked.
  environment.set("ACEFIT_FAKE_VULKAN",
                  "devices=1;total0=4000;budget0=3000;usage0=1000;"
                  "omit=vkGetPhysicalDeviceMemoryProperties2");
  report = probe_devices(env);
  ASSERT_EQ(report.gpus.size(), 1u);
  EXPECT_EQ(report.gpus[0].total_bytes, 4000u);
  EXPECT_FALSE(report.gpus[0].free_bytes.has_value());
}

TEST(DeviceProbe, AbsurdCountsAreCapped) {
  for (const ApiCase& c : api_cases()) {
    SCOPED_TRACE(c.api);
    const ProbeReport report = run_case(c, "devices=4294967295");
    const ProbeOutcome* outcome = outcome_of(report, c.api);
    ASSERT_NE(outcome, nullptr);
    EXPECT_EQ(outcome->state, State::ok) << outcome->detail;
    EXPECT_LE(report.gpus.size(), std::size_t{probe::kMaxDevices});
    EXPECT_GT(report.gpus.size(), 0u);
  }
  // NVML says so in the outcome.
  const ProbeReport report = run_case(api_cases()[0], "devices=4294967295");
  EXPECT_EQ(report.gpus.size(), 64u);
  EXPECT_NE(outcome_of(report, "nvml")->detail.find("nvmlDeviceGetCount_v2 reported 4294967295"),
            std::string::npos);
}

TEST(DeviceProbe, FailingPerDeviceCallKeepsTheOthers) {
  FakeEnvironment environment;
  const EnvLookup env = env_with({{"ACEFIT_NVML_LIBRARY", kNvml}});
  environment.set("ACEFIT_FAKE_NVML",
                  "devices=2;name0=A;total0=100;free0=50;name1=B;total1=200;"
                  "free1=20;fail=nvmlDeviceGetMemoryInfo@1:999");
  ProbeReport report = probe_devices(env);
  ASSERT_EQ(report.gpus.size(), 2u);
  EXPECT_EQ(report.gpus[0].total_bytes, 100u);
  EXPECT_EQ(report.gpus[0].free_bytes, std::optional<std::uint64_t>(50));
  EXPECT_EQ(report.gpus[1].name, "B");
  EXPECT_FALSE(report.gpus[1].memory_known());
  const ProbeOutcome* outcome = outcome_of(report, "nvml");
  EXPECT_EQ(outcome->state, State::ok);
  EXPECT_EQ(outcome->detail, "device 1: nvmlDeviceGetMemoryInfo returned 999");

  // A device whose handle cannot be had is left out; the index stays its own.
  environment.set("ACEFIT_FAKE_NVML",
                  "devices=2;name0=A;name1=B;fail=nvmlDeviceGetHandleByIndex_v2@0:2");
  report = probe_devices(env);
  ASSERT_EQ(report.gpus.size(), 1u);
  EXPECT_EQ(report.gpus[0].name, "B");
  EXPECT_EQ(report.gpus[0].index, 1);
  EXPECT_EQ(outcome_of(report, "nvml")->device_count, 1);
}

TEST(DeviceProbe, NvmlFailingFallsBackToTheCudaDriver) {
  FakeEnvironment environment;
  environment.set("ACEFIT_FAKE_NVML", "devices=1;fail=nvmlInit_v2:9");
  environment.set("ACEFIT_FAKE_CUDA",
                  "devices=1;name0=NVIDIA L4;total0=24152899584;free0=23000000000;cc0=8.9;"
                  "version=12040");
  for (const char* nvml : {kNvml, kMissing, kNvmlIncomplete}) {
    SCOPED_TRACE(nvml);
    const ProbeReport report = probe_devices(
        env_with({{"ACEFIT_NVML_LIBRARY", nvml}, {"ACEFIT_CUDA_DRIVER_LIBRARY", kCuda}}));
    EXPECT_EQ((outcome_apis(report)), (std::vector<std::string>{"nvml", "cuda-driver", "rocm-smi",
                                                                "level-zero", "vulkan", "host"}));
    EXPECT_NE(outcome_of(report, "nvml")->state, State::ok);
    ASSERT_EQ(report.gpus.size(), 1u);
    EXPECT_EQ(report.gpus[0].api, "cuda-driver");
    EXPECT_EQ(report.gpus[0].name, "NVIDIA L4");
    EXPECT_EQ(report.gpus[0].compute_capability, "8.9");
    EXPECT_EQ(report.gpus[0].runtime_version, "CUDA 12.4");
  }
}

TEST(DeviceProbe, VulkanListsOnlyVendorsNoVendorApiReported) {
  FakeEnvironment environment;
  environment.set("ACEFIT_FAKE_NVML",
                  "devices=1;name0=NVIDIA GeForce RTX 4090;total0=25757220864;free0=24000000000");
  environment.set("ACEFIT_FAKE_CUDA", "devices=1;name0=NVIDIA GeForce RTX 4090;total0=25757220864");
  environment.set("ACEFIT_FAKE_VULKAN",
                  "devices=2;name0=NVIDIA GeForce RTX 4090;vendor0=0x10de;total0=25757220864;"
                  "name1=AMD Radeon RX 6600;vendor1=0x1002;total1=8573157376;budget1=8000000000;"
                  "usage1=0");
  // NVML sees the NVIDIA card: Vulkan adds only the AMD one.
  ProbeReport report =
      probe_devices(env_with({{"ACEFIT_NVML_LIBRARY", kNvml}, {"ACEFIT_VULKAN_LIBRARY", kVulkan}}));
  ASSERT_EQ(report.gpus.size(), 2u);
  EXPECT_EQ(report.gpus[0].api, "nvml");
  EXPECT_EQ(report.gpus[0].vendor, "NVIDIA");
  EXPECT_EQ(report.gpus[1].api, "vulkan");
  EXPECT_EQ(report.gpus[1].vendor, "AMD");
  EXPECT_EQ(report.gpus[1].name, "AMD Radeon RX 6600");
  EXPECT_EQ(report.gpus[1].free_bytes, std::optional<std::uint64_t>(8000000000u));
  EXPECT_EQ(outcome_of(report, "vulkan")->device_count, 2);  // what Vulkan itself saw

  // The same through the CUDA driver when NVML fails.
  environment.set("ACEFIT_FAKE_NVML", "fail=nvmlInit_v2:9");
  report = probe_devices(env_with({{"ACEFIT_NVML_LIBRARY", kNvml},
                                   {"ACEFIT_CUDA_DRIVER_LIBRARY", kCuda},
                                   {"ACEFIT_VULKAN_LIBRARY", kVulkan}}));
  ASSERT_EQ(report.gpus.size(), 2u);
  EXPECT_EQ(report.gpus[0].api, "cuda-driver");
  EXPECT_EQ(report.gpus[1].vendor, "AMD");

  // No NVIDIA library answers: Vulkan lists both.
  report = probe_devices(env_with({{"ACEFIT_VULKAN_LIBRARY", kVulkan}}));
  ASSERT_EQ(report.gpus.size(), 2u);
  EXPECT_EQ(report.gpus[0].api, "vulkan");
  EXPECT_EQ(report.gpus[0].vendor, "NVIDIA");
}

TEST(DeviceProbe, GpusComeInVendorOrder) {
  FakeEnvironment environment;
  environment.set("ACEFIT_FAKE_NVML", "devices=1;name0=N");
  environment.set("ACEFIT_FAKE_ROCM_SMI", "devices=1;name0=R");
  environment.set("ACEFIT_FAKE_LEVEL_ZERO", "devices=1;name0=L");
  environment.set("ACEFIT_FAKE_VULKAN",
                  "devices=4;name0=VR;vendor0=0x1002;name1=VN;vendor1=0x10de;name2=VL;"
                  "vendor2=0x8086;name3=VA;vendor3=0x106b");
  const ProbeReport report = probe_devices(env_with({{"ACEFIT_NVML_LIBRARY", kNvml},
                                                     {"ACEFIT_ROCM_SMI_LIBRARY", kRocm},
                                                     {"ACEFIT_LEVEL_ZERO_LIBRARY", kLevelZero},
                                                     {"ACEFIT_VULKAN_LIBRARY", kVulkan}}));
  std::vector<std::string> names;
  for (const ProbedDevice& device : report.gpus) names.push_back(device.name);
  EXPECT_EQ(names, (std::vector<std::string>{"N", "R", "L", "VA"}));
  EXPECT_EQ((outcome_apis(report)),
            (std::vector<std::string>{"nvml", "rocm-smi", "level-zero", "vulkan", "host"}));
}

// A temporary folder holding fake /proc files.
class ProcFiles {
 public:
  ProcFiles() {
    std::string pattern = (std::filesystem::temp_directory_path() / "acefit-probe-XXXXXX").string();
    const char* made = mkdtemp(pattern.data());
    if (made != nullptr) folder_ = made;
  }
  ~ProcFiles() {
    std::error_code ignored;
    if (!folder_.empty()) std::filesystem::remove_all(folder_, ignored);
  }
  ProcFiles(const ProcFiles&) = delete;
  ProcFiles& operator=(const ProcFiles&) = delete;
  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = (folder_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::string path(const std::string& name) const { return (folder_ / name).string(); }
  bool ok() const { return !folder_.empty(); }

 private:
  std::filesystem::path folder_;
};

ProbeReport probe_host_files(const std::string& meminfo, const std::string& cpuinfo) {
  return probe_devices(
      env_with({{"ACEFIT_MEMINFO_PATH", meminfo}, {"ACEFIT_CPUINFO_PATH", cpuinfo}}));
}

TEST(DeviceProbe, HostFromMeminfoAndCpuinfo) {
  ProcFiles files;
  ASSERT_TRUE(files.ok());
  const std::string meminfo =
      files.write("meminfo",
                  "MemTotal:       65740112 kB\nMemFree:         1234567 kB\n"
                  "MemAvailable:   40000000 kB\nBuffers:          100000 kB\n");
  const std::string cpuinfo = files.write("cpuinfo",
                                          "processor\t: 0\nvendor_id\t: AuthenticAMD\n"
                                          "model name\t: AMD Ryzen 9 7950X 16-Core Processor\n\n"
                                          "processor\t: 1\nmodel name\t: Something Else\n");
  const ProbeReport report = probe_host_files(meminfo, cpuinfo);
  EXPECT_EQ(report.host.api, "host");
  EXPECT_EQ(report.host.vendor, "CPU");
  EXPECT_EQ(report.host.name, "AMD Ryzen 9 7950X 16-Core Processor");
  EXPECT_EQ(report.host.total_bytes, 65740112ull * 1024);
  EXPECT_EQ(report.host.free_bytes, std::optional<std::uint64_t>(40000000ull * 1024));
  const ProbeOutcome* outcome = outcome_of(report, "host");
  ASSERT_NE(outcome, nullptr);
  EXPECT_EQ(outcome->state, State::ok);
  EXPECT_EQ(outcome->library, meminfo);
  EXPECT_TRUE(report.gpus.empty());
}

TEST(DeviceProbe, HostWithoutMemAvailableKnowsOnlyTheTotal) {
  ProcFiles files;
  ASSERT_TRUE(files.ok());
  const ProbeReport report = probe_host_files(
      files.write("meminfo", "MemTotal: 2048 kB\nMemFree: 1024 kB\n"), files.path("no-cpuinfo"));
  EXPECT_EQ(report.host.total_bytes, 2048u * 1024);
  EXPECT_FALSE(report.host.free_bytes.has_value());
  EXPECT_EQ(report.host.name, "");
  EXPECT_EQ(outcome_of(report, "host")->state, State::ok);
}

constexpr char kBinary[] = "\0\xff\x01MemTotal\n:::\n";

TEST(DeviceProbe, HostMissingOrGarbledMeminfoGivesZero) {
  ProcFiles files;
  ASSERT_TRUE(files.ok());
  const std::string cpuinfo = files.write("cpuinfo", "model name : Test CPU\n");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"missing", ""},
      {"empty", ""},
      {"words", "MemTotal: lots kB\nMemAvailable: 12 kB\n"},
      {"unit", "MemTotal: 1000 MB\n"},
      {"overflow", "MemTotal: 99999999999999999999 kB\n"},
      {"huge", "MemTotal: 18446744073709551615 kB\n"},
      {"binary", std::string(kBinary, sizeof(kBinary) - 1)},
      {"prefix", "MemTotalX: 1000 kB\nXMemTotal: 1000 kB\n"},
  };
  for (const auto& [name, text] : cases) {
    SCOPED_TRACE(name);
    const std::string path = name == "missing" ? files.path("missing") : files.write(name, text);
    const ProbeReport report = probe_host_files(path, cpuinfo);
    EXPECT_EQ(report.host.total_bytes, 0u);
    EXPECT_FALSE(report.host.free_bytes.has_value());
    EXPECT_FALSE(report.host.memory_known());
    EXPECT_EQ(report.host.name, "Test CPU");
    const ProbeOutcome* outcome = outcome_of(report, "host");
    ASSERT_NE(outcome, nullptr);
    EXPECT_EQ(outcome->state, State::failed);
    EXPECT_NE(outcome->detail.find(path), std::string::npos) << outcome->detail;
  }
}

TEST(DeviceProbe, HostMeminfoNoneDisablesIt) {
  const ProbeReport report = probe_host_files("none", "none");
  EXPECT_EQ(report.host.api, "host");
  EXPECT_EQ(report.host.total_bytes, 0u);
  EXPECT_EQ(report.host.name, "");
  EXPECT_EQ(outcome_of(report, "host")->state, State::disabled);
}

// Real Vulkan and Level Zero stacks (Mesa's drivers among them) leak a little
// of their own, which LeakSanitizer would blame on this test.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kLeakChecked = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kLeakChecked = true;
#else
constexpr bool kLeakChecked = false;
#endif
#else
constexpr bool kLeakChecked = false;
#endif

TEST(DeviceProbe, RealMachineAnswersWithoutCrashing) {
  // Whatever this machine has (often nothing): every probe reports, the
  // host's RAM is known on Linux.
  const ProbeReport report = probe_devices([](std::string_view name) -> std::optional<std::string> {
    if (kLeakChecked && (name == "ACEFIT_VULKAN_LIBRARY" || name == "ACEFIT_LEVEL_ZERO_LIBRARY")) {
      return "none";
    }
    return std::nullopt;
  });
  EXPECT_GE(report.outcomes.size(), 5u);
  EXPECT_EQ(report.outcomes.front().api, "nvml");
  EXPECT_EQ(report.outcomes.back().api, "host");
  EXPECT_GT(report.host.total_bytes, 0u);
  for (const ProbedDevice& gpu : report.gpus) {
    EXPECT_FALSE(gpu.api.empty());
    EXPECT_FALSE(gpu.vendor.empty());
  }
}

}  // namespace
}  // namespace acefit
