// A fake NVML (libnvidia-ml) for the probe tests; configured by
// ACEFIT_FAKE_NVML (fake_config.h). Built twice: fake_nvml, and
// fake_nvml_incomplete (ACEFIT_FAKE_INCOMPLETE) without nvmlDeviceGetMemoryInfo.
#include <cstdlib>

#include "fake_config.h"

namespace {

constexpr const char* kVariable = "ACEFIT_FAKE_NVML";
constexpr int kSuccess = 0;
constexpr int kUninitialized = 1;    // NVML_ERROR_UNINITIALIZED
constexpr int kInvalidArgument = 2;  // NVML_ERROR_INVALID_ARGUMENT
constexpr unsigned kHandles = 128;

struct FakeDevice {
  unsigned index;
};
struct FakeMemory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

acefit::fake::Config config;
bool initialised = false;
FakeDevice devices[kHandles];

unsigned device_count() {
  return static_cast<unsigned>(config.number("devices"));
}

bool valid(const FakeDevice* device) {
  return initialised && device != nullptr && device >= devices && device < devices + kHandles &&
         device->index < device_count();
}

}  // namespace

ACEFIT_FAKE_EXPORT int nvmlInit_v2() {
  config.load(kVariable);
  initialised = false;
  if (auto code = config.failure("nvmlInit_v2")) return static_cast<int>(*code);
  for (unsigned i = 0; i < kHandles; ++i) devices[i].index = i;
  initialised = true;
  return kSuccess;
}

ACEFIT_FAKE_EXPORT int nvmlShutdown() {
  initialised = false;
  acefit::fake::mark_shutdown(kVariable);
  return kSuccess;
}

ACEFIT_FAKE_EXPORT int nvmlDeviceGetCount_v2(unsigned* count) {
  if (!initialised) return kUninitialized;
  if (auto code = config.failure("nvmlDeviceGetCount_v2")) return static_cast<int>(*code);
  if (count == nullptr) return kInvalidArgument;
  *count = device_count();
  return kSuccess;
}

ACEFIT_FAKE_EXPORT int nvmlDeviceGetHandleByIndex_v2(unsigned index, FakeDevice** device) {
  if (!initialised) return kUninitialized;
  if (auto code = config.failure("nvmlDeviceGetHandleByIndex_v2", index)) {
    return static_cast<int>(*code);
  }
  if (device == nullptr || index >= device_count() || index >= kHandles) return kInvalidArgument;
  *device = &devices[index];
  return kSuccess;
}

ACEFIT_FAKE_EXPORT int nvmlDeviceGetName(FakeDevice* device, char* name, unsigned length) {
  if (!valid(device) || name == nullptr) return kInvalidArgument;
  if (auto code = config.failure("nvmlDeviceGetName", device->index)) {
    return static_cast<int>(*code);
  }
  acefit::fake::write_name(config.device_name(device->index), name, length,
                           config.unterminated(device->index));
  return kSuccess;
}

#ifndef ACEFIT_FAKE_INCOMPLETE
ACEFIT_FAKE_EXPORT int nvmlDeviceGetMemoryInfo(FakeDevice* device, FakeMemory* memory) {
  if (!valid(device) || memory == nullptr) return kInvalidArgument;
  if (auto code = config.failure("nvmlDeviceGetMemoryInfo", device->index)) {
    return static_cast<int>(*code);
  }
  memory->total = static_cast<unsigned long long>(config.device_number("total", device->index));
  memory->free = static_cast<unsigned long long>(config.device_number("free", device->index));
  memory->used = memory->total >= memory->free ? memory->total - memory->free : 0;
  return kSuccess;
}
#endif

ACEFIT_FAKE_EXPORT int nvmlDeviceGetCudaComputeCapability(FakeDevice* device, int* major,
                                                          int* minor) {
  if (!valid(device) || major == nullptr || minor == nullptr) return kInvalidArgument;
  if (auto code = config.failure("nvmlDeviceGetCudaComputeCapability", device->index)) {
    return static_cast<int>(*code);
  }
  const std::string cc = config.device_text("cc", device->index, "0.0");
  char* end = nullptr;
  *major = static_cast<int>(std::strtol(cc.c_str(), &end, 10));
  *minor =
      (end != nullptr && *end == '.') ? static_cast<int>(std::strtol(end + 1, nullptr, 10)) : 0;
  return kSuccess;
}

ACEFIT_FAKE_EXPORT int nvmlSystemGetDriverVersion(char* version, unsigned length) {
  if (!initialised) return kUninitialized;
  if (auto code = config.failure("nvmlSystemGetDriverVersion")) return static_cast<int>(*code);
  acefit::fake::write_name(config.text("driver"), version, length, false);
  return kSuccess;
}

ACEFIT_FAKE_EXPORT int nvmlSystemGetCudaDriverVersion(int* version) {
  if (!initialised) return kUninitialized;
  if (auto code = config.failure("nvmlSystemGetCudaDriverVersion")) {
    return static_cast<int>(*code);
  }
  if (version == nullptr) return kInvalidArgument;
  *version = static_cast<int>(config.number("cuda"));
  return kSuccess;
}
