// NVIDIA GPUs through the CUDA driver API (libcuda), loaded at run time: the
// fallback when NVML is missing or fails. Types and prototypes are declared
// here from the public cuda.h (which CPU-only builds do not have).
#include <cstddef>

#include "adapt/probe/probe_internal.h"

namespace acefit::probe {
namespace {

using CuResult = int;  // CUresult; CUDA_SUCCESS is 0
using CuDevice = int;  // CUdevice
struct CuContextOpaque;
using CuContext = CuContextOpaque*;  // CUcontext

constexpr CuResult kCudaSuccess = 0;
constexpr int kAttributeComputeCapabilityMajor =
    75;  // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
constexpr int kAttributeComputeCapabilityMinor =
    76;  // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR
constexpr int kCudaNameBufferSize = 256;

struct CudaDriverApi {
  CuResult (*init)(unsigned) = nullptr;
  CuResult (*driver_version)(int*) = nullptr;  // optional
  CuResult (*device_count)(int*) = nullptr;
  CuResult (*device_get)(CuDevice*, int) = nullptr;
  CuResult (*device_name)(char*, int, CuDevice) = nullptr;
  CuResult (*total_memory)(std::size_t*, CuDevice) = nullptr;
  CuResult (*attribute)(int*, int, CuDevice) = nullptr;
  // Free memory needs a context; all five are optional.
  CuResult (*primary_retain)(CuContext*, CuDevice) = nullptr;
  CuResult (*push_context)(CuContext) = nullptr;
  CuResult (*memory_info)(std::size_t*, std::size_t*) = nullptr;
  CuResult (*pop_context)(CuContext*) = nullptr;
  CuResult (*primary_release)(CuDevice) = nullptr;
};

bool resolve(const SharedLibrary& library, CudaDriverApi& api, std::string& missing) {
  SymbolResolver symbols(library);
  symbols.required("cuInit", api.init);
  symbols.optional("cuDriverGetVersion", api.driver_version);
  symbols.required("cuDeviceGetCount", api.device_count);
  symbols.required("cuDeviceGet", api.device_get);
  symbols.required("cuDeviceGetName", api.device_name);
  symbols.required("cuDeviceTotalMem_v2", api.total_memory);
  symbols.required("cuDeviceGetAttribute", api.attribute);
  symbols.optional("cuDevicePrimaryCtxRetain", api.primary_retain);
  symbols.optional("cuCtxPushCurrent_v2", api.push_context);
  symbols.optional("cuMemGetInfo_v2", api.memory_info);
  symbols.optional("cuCtxPopCurrent_v2", api.pop_context);
  symbols.optional("cuDevicePrimaryCtxRelease_v2", api.primary_release);
  missing = symbols.first_missing();
  return symbols.complete();
}

// Free memory through the device's primary context; nullopt when any step
// fails (that is not an error: the total is still known).
std::optional<std::uint64_t> free_memory(const CudaDriverApi& api, CuDevice device) {
  if (api.primary_retain == nullptr || api.push_context == nullptr || api.memory_info == nullptr ||
      api.pop_context == nullptr || api.primary_release == nullptr) {
    return std::nullopt;
  }
  CuContext context = nullptr;
  if (api.primary_retain(&context, device) != kCudaSuccess) return std::nullopt;
  std::optional<std::uint64_t> result;
  if (api.push_context(context) == kCudaSuccess) {
    std::size_t free = 0;
    std::size_t total = 0;
    if (api.memory_info(&free, &total) == kCudaSuccess) result = free;
    CuContext popped = nullptr;
    api.pop_context(&popped);
  }
  api.primary_release(device);
  return result;
}

std::string note_for(int index, const std::string& what) {
  return "device " + std::to_string(index) + ": " + what;
}

ProbedDevice describe_device(const CudaDriverApi& api, CuDevice handle, int index,
                             ProbeOutcome& outcome) {
  ProbedDevice device;
  device.api = "cuda-driver";
  device.vendor = "NVIDIA";
  device.index = index;

  char name[kCudaNameBufferSize + 1] = {};
  if (const CuResult rc = api.device_name(name, kCudaNameBufferSize, handle); rc == kCudaSuccess) {
    name[kCudaNameBufferSize] = '\0';
    device.name = bounded_string(name, kCudaNameBufferSize);
  } else {
    add_note(outcome, note_for(index, call_failed("cuDeviceGetName", rc)));
  }

  std::size_t total = 0;
  if (const CuResult rc = api.total_memory(&total, handle); rc == kCudaSuccess) {
    set_memory(device, total, total > 0 ? free_memory(api, handle) : std::nullopt);
  } else {
    add_note(outcome, note_for(index, call_failed("cuDeviceTotalMem_v2", rc)));
  }

  int major = 0;
  int minor = 0;
  const CuResult major_rc = api.attribute(&major, kAttributeComputeCapabilityMajor, handle);
  const CuResult minor_rc = api.attribute(&minor, kAttributeComputeCapabilityMinor, handle);
  if (major_rc == kCudaSuccess && minor_rc == kCudaSuccess && major > 0 && minor >= 0) {
    device.compute_capability = std::to_string(major) + "." + std::to_string(minor);
  } else if (major_rc != kCudaSuccess || minor_rc != kCudaSuccess) {
    add_note(outcome, note_for(index, call_failed("cuDeviceGetAttribute",
                                                  major_rc != kCudaSuccess ? major_rc : minor_rc)));
  }
  return device;
}

void list_devices(const CudaDriverApi& api, ApiProbe& result) {
  ProbeOutcome& outcome = result.outcome;
  int reported = 0;
  if (const CuResult rc = api.device_count(&reported); rc != kCudaSuccess) {
    set_failed(outcome, call_failed("cuDeviceGetCount", rc));
    return;
  }
  if (reported < 0) {
    add_note(outcome, "cuDeviceGetCount reported " + std::to_string(reported));
    reported = 0;
  }

  std::string runtime_version;
  if (api.driver_version != nullptr) {
    int version = 0;
    if (api.driver_version(&version) == kCudaSuccess) runtime_version = cuda_version_text(version);
  }

  const std::uint32_t count =
      capped_count(static_cast<std::uint64_t>(reported), "cuDeviceGetCount", outcome);
  for (std::uint32_t i = 0; i < count; ++i) {
    const int index = static_cast<int>(i);
    CuDevice handle = 0;
    if (const CuResult rc = api.device_get(&handle, index); rc != kCudaSuccess) {
      add_note(outcome, note_for(index, call_failed("cuDeviceGet", rc)));
      continue;
    }
    ProbedDevice device = describe_device(api, handle, index, outcome);
    device.runtime_version = runtime_version;
    result.devices.push_back(std::move(device));
  }
  outcome.device_count = static_cast<int>(result.devices.size());
}

}  // namespace

ApiProbe probe_cuda_driver(const std::string& library_path) {
  ApiProbe result;
  result.outcome.api = "cuda-driver";
  // libcuda keeps worker threads and exit handlers once initialised: it is
  // closed after the probe but never unmapped.
  SharedLibrary library;
  if (!open_library(library_path, library, result.outcome, /*keep_mapped=*/true)) return result;

  CudaDriverApi api;
  std::string missing;
  if (!resolve(library, api, missing)) {
    set_failed(result.outcome, "missing symbol " + missing);
    return result;
  }
  // The driver API has no shutdown: contexts retained above are released.
  if (const CuResult rc = api.init(0); rc != kCudaSuccess) {
    set_failed(result.outcome, call_failed("cuInit", rc));
    return result;
  }
  list_devices(api, result);
  if (result.outcome.state != ProbeOutcome::State::ok) result.devices.clear();
  return result;
}

}  // namespace acefit::probe
