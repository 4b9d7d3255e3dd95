// A fake CUDA driver (libcuda) for the probe tests; configured by
// ACEFIT_FAKE_CUDA (fake_config.h). fake_cuda_driver_incomplete
// (ACEFIT_FAKE_INCOMPLETE) lacks cuDeviceTotalMem_v2.
#include <climits>
#include <cstddef>
#include <cstdlib>

#include "fake_config.h"

namespace {

constexpr const char* kVariable = "ACEFIT_FAKE_CUDA";
constexpr int kSuccess = 0;
constexpr int kInvalidValue = 1;      // CUDA_ERROR_INVALID_VALUE
constexpr int kNotInitialized = 3;    // CUDA_ERROR_NOT_INITIALIZED
constexpr int kInvalidContext = 201;  // CUDA_ERROR_INVALID_CONTEXT
constexpr int kInvalidDevice = 101;   // CUDA_ERROR_INVALID_DEVICE
constexpr int kContexts = 128;

struct FakeContext {
  int device;
};

acefit::fake::Config config;
bool initialised = false;
FakeContext contexts[kContexts];
int current = -1;  // the device whose context is current

int device_count() {
  const long long n = config.number("devices");
  return n > INT_MAX ? INT_MAX : n < INT_MIN ? INT_MIN : static_cast<int>(n);
}

bool valid(int device) {
  return initialised && device >= 0 && device < device_count();
}

void parse_cc(int device, int& major, int& minor) {
  const std::string cc = config.device_text("cc", static_cast<std::uint64_t>(device), "0.0");
  char* end = nullptr;
  major = static_cast<int>(std::strtol(cc.c_str(), &end, 10));
  minor = (end != nullptr && *end == '.') ? static_cast<int>(std::strtol(end + 1, nullptr, 10)) : 0;
}

}  // namespace

ACEFIT_FAKE_EXPORT int cuInit(unsigned flags) {
  config.load(kVariable);
  initialised = false;
  current = -1;
  if (flags != 0) return kInvalidValue;
  if (auto code = config.failure("cuInit")) return static_cast<int>(*code);
  for (int i = 0; i < kContexts; ++i) contexts[i].device = i;
  initialised = true;
  return kSuccess;
}

ACEFIT_FAKE_EXPORT int cuDriverGetVersion(int* version) {
  if (version == nullptr) return kInvalidValue;
  if (auto code = config.failure("cuDriverGetVersion")) return static_cast<int>(*code);
  *version = static_cast<int>(config.number("version"));
  return kSuccess;
}

ACEFIT_FAKE_EXPORT int cuDeviceGetCount(int* count) {
  if (!initialised) return kNotInitialized;
  if (auto code = config.failure("cuDeviceGetCount")) return static_cast<int>(*code);
  if (count == nullptr) return kInvalidValue;
  *count = device_count();
  return kSuccess;
}

ACEFIT_FAKE_EXPORT int cuDeviceGet(int* device, int ordinal) {
  if (!initialised) return kNotInitialized;
  if (auto code = config.failure("cuDeviceGet", ordinal)) return static_cast<int>(*code);
  if (device == nullptr || !valid(ordinal)) return kInvalidDevice;
  *device = ordinal;
  return kSuccess;
}

ACEFIT_FAKE_EXPORT int cuDeviceGetName(char* name, int length, int device) {
  if (!valid(device)) return kInvalidDevice;
  if (auto code = config.failure("cuDeviceGetName", device)) return static_cast<int>(*code);
  if (name == nullptr || length <= 0) return kInvalidValue;
  const auto index = static_cast<std::uint64_t>(device);
  acefit::fake::write_name(config.device_name(index), name, static_cast<std::size_t>(length),
                           config.unterminated(index));
  return kSuccess;
}

#ifndef ACEFIT_FAKE_INCOMPLETE
ACEFIT_FAKE_EXPORT int cuDeviceTotalMem_v2(std::size_t* bytes, int device) {
  if (!valid(device)) return kInvalidDevice;
  if (auto code = config.failure("cuDeviceTotalMem_v2", device)) return static_cast<int>(*code);
  if (bytes == nullptr) return kInvalidValue;
  *bytes =
      static_cast<std::size_t>(config.device_number("total", static_cast<std::uint64_t>(device)));
  return kSuccess;
}
#endif

ACEFIT_FAKE_EXPORT int cuDeviceGetAttribute(int* value, int attribute, int device) {
  if (!valid(device)) return kInvalidDevice;
  if (auto code = config.failure("cuDeviceGetAttribute", device)) return static_cast<int>(*code);
  if (value == nullptr) return kInvalidValue;
  int major = 0;
  int minor = 0;
  parse_cc(device, major, minor);
  if (attribute == 75) {
    *value = major;
  } else if (attribute == 76) {
    *value = minor;
  } else {
    return kInvalidValue;
  }
  return kSuccess;
}

ACEFIT_FAKE_EXPORT int cuDevicePrimaryCtxRetain(FakeContext** context, int device) {
  if (!valid(device) || device >= kContexts) return kInvalidDevice;
  if (auto code = config.failure("cuDevicePrimaryCtxRetain", device)) {
    return static_cast<int>(*code);
  }
  if (context == nullptr) return kInvalidValue;
  *context = &contexts[device];
  return kSuccess;
}

ACEFIT_FAKE_EXPORT int cuCtxPushCurrent_v2(FakeContext* context) {
  if (!initialised || context == nullptr) return kInvalidContext;
  current = context->device;
  return kSuccess;
}

ACEFIT_FAKE_EXPORT int cuMemGetInfo_v2(std::size_t* free, std::size_t* total) {
  if (!valid(current)) return kInvalidContext;
  if (auto code = config.failure("cuMemGetInfo_v2", current)) return static_cast<int>(*code);
  if (free == nullptr || total == nullptr) return kInvalidValue;
  const auto index = static_cast<std::uint64_t>(current);
  *free = static_cast<std::size_t>(config.device_number("free", index));
  *total = static_cast<std::size_t>(config.device_number("total", index));
  return kSuccess;
}

ACEFIT_FAKE_EXPORT int cuCtxPopCurrent_v2(FakeContext** context) {
  if (current < 0) return kInvalidContext;
  if (context != nullptr) *context = &contexts[current];
  current = -1;
  return kSuccess;
}

ACEFIT_FAKE_EXPORT int cuDevicePrimaryCtxRelease_v2(int device) {
  return valid(device) ? kSuccess : kInvalidDevice;
}
