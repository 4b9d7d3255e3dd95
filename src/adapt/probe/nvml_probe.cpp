// NVIDIA GPUs through NVML (libnvidia-ml), loaded at run time. The few types
// and prototypes needed are declared here from NVML's public C header.
#include "adapt/probe/probe_internal.h"

namespace acefit::probe {
namespace {

using NvmlReturn = int;  // nvmlReturn_t; NVML_SUCCESS is 0
struct NvmlDeviceOpaque;
using NvmlDevice = NvmlDeviceOpaque*;  // nvmlDevice_t
struct NvmlMemory {                    // nvmlMemory_t (version 1)
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

constexpr NvmlReturn kNvmlSuccess = 0;
constexpr unsigned kNvmlNameBufferSize = 96;       // NVML_DEVICE_NAME_V2_BUFFER_SIZE
constexpr unsigned kDriverVersionBufferSize = 80;  // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE

struct NvmlApi {
  NvmlReturn (*init)() = nullptr;
  NvmlReturn (*shutdown)() = nullptr;
  NvmlReturn (*device_count)(unsigned*) = nullptr;
  NvmlReturn (*handle_by_index)(unsigned, NvmlDevice*) = nullptr;
  NvmlReturn (*device_name)(NvmlDevice, char*, unsigned) = nullptr;
  NvmlReturn (*memory_info)(NvmlDevice, NvmlMemory*) = nullptr;
  NvmlReturn (*compute_capability)(NvmlDevice, int*, int*) = nullptr;  // optional
  NvmlReturn (*driver_version)(char*, unsigned) = nullptr;             // optional
  NvmlReturn (*cuda_driver_version)(int*) = nullptr;                   // optional
};

bool resolve(const SharedLibrary& library, NvmlApi& api, std::string& missing) {
  SymbolResolver symbols(library);
  symbols.required("nvmlInit_v2", api.init);
  symbols.required("nvmlShutdown", api.shutdown);
  symbols.required("nvmlDeviceGetCount_v2", api.device_count);
  symbols.required("nvmlDeviceGetHandleByIndex_v2", api.handle_by_index);
  symbols.required("nvmlDeviceGetName", api.device_name);
  symbols.required("nvmlDeviceGetMemoryInfo", api.memory_info);
  symbols.optional("nvmlDeviceGetCudaComputeCapability", api.compute_capability);
  symbols.optional("nvmlSystemGetDriverVersion", api.driver_version);
  symbols.optional("nvmlSystemGetCudaDriverVersion", api.cuda_driver_version);
  missing = symbols.first_missing();
  return symbols.complete();
}

std::string note_for(std::uint32_t index, const std::string& what) {
  return "device " + std::to_string(index) + ": " + what;
}

ProbedDevice describe_device(const NvmlApi& api, NvmlDevice handle, std::uint32_t index,
                             ProbeOutcome& outcome) {
  ProbedDevice device;
  device.api = "nvml";
  device.vendor = "NVIDIA";
  device.index = static_cast<int>(index);

  char name[kNvmlNameBufferSize + 1] = {};
  if (const NvmlReturn rc = api.device_name(handle, name, kNvmlNameBufferSize);
      rc == kNvmlSuccess) {
    name[kNvmlNameBufferSize] = '\0';
    device.name = bounded_string(name, kNvmlNameBufferSize);
  } else {
    add_note(outcome, note_for(index, call_failed("nvmlDeviceGetName", rc)));
  }

  NvmlMemory memory{};
  if (const NvmlReturn rc = api.memory_info(handle, &memory); rc == kNvmlSuccess) {
    set_memory(device, memory.total, memory.free);
  } else {
    add_note(outcome, note_for(index, call_failed("nvmlDeviceGetMemoryInfo", rc)));
  }

  if (api.compute_capability != nullptr) {
    int major = 0;
    int minor = 0;
    const NvmlReturn rc = api.compute_capability(handle, &major, &minor);
    if (rc == kNvmlSuccess && major > 0 && minor >= 0) {
      device.compute_capability = std::to_string(major) + "." + std::to_string(minor);
    } else if (rc != kNvmlSuccess) {
      add_note(outcome, note_for(index, call_failed("nvmlDeviceGetCudaComputeCapability", rc)));
    }
  }
  return device;
}

void list_devices(const NvmlApi& api, ApiProbe& result) {
  ProbeOutcome& outcome = result.outcome;
  unsigned reported = 0;
  if (const NvmlReturn rc = api.device_count(&reported); rc != kNvmlSuccess) {
    set_failed(outcome, call_failed("nvmlDeviceGetCount_v2", rc));
    return;
  }

  std::string driver_version;
  if (api.driver_version != nullptr) {
    char text[kDriverVersionBufferSize + 1] = {};
    if (api.driver_version(text, kDriverVersionBufferSize) == kNvmlSuccess) {
      text[kDriverVersionBufferSize] = '\0';
      driver_version = bounded_string(text, kDriverVersionBufferSize);
    }
  }
  std::string runtime_version;
  if (api.cuda_driver_version != nullptr) {
    int version = 0;
    if (api.cuda_driver_version(&version) == kNvmlSuccess) {
      runtime_version = cuda_version_text(version);
    }
  }

  const std::uint32_t count = capped_count(reported, "nvmlDeviceGetCount_v2", outcome);
  for (std::uint32_t index = 0; index < count; ++index) {
    NvmlDevice handle = nullptr;
    if (const NvmlReturn rc = api.handle_by_index(index, &handle); rc != kNvmlSuccess) {
      add_note(outcome, note_for(index, call_failed("nvmlDeviceGetHandleByIndex_v2", rc)));
      continue;
    }
    ProbedDevice device = describe_device(api, handle, index, outcome);
    device.driver_version = driver_version;
    device.runtime_version = runtime_version;
    result.devices.push_back(std::move(device));
  }
  outcome.device_count = static_cast<int>(result.devices.size());
}

}  // namespace

ApiProbe probe_nvml(const std::string& library_path) {
  ApiProbe result;
  result.outcome.api = "nvml";
  SharedLibrary library;
  if (!open_library(library_path, library, result.outcome)) return result;

  NvmlApi api;
  std::string missing;
  if (!resolve(library, api, missing)) {
    set_failed(result.outcome, "missing symbol " + missing);
    return result;
  }
  if (const NvmlReturn rc = api.init(); rc != kNvmlSuccess) {
    set_failed(result.outcome, call_failed("nvmlInit_v2", rc));
    return result;
  }
  list_devices(api, result);
  api.shutdown();
  if (result.outcome.state != ProbeOutcome::State::ok) result.devices.clear();
  return result;
}

}  // namespace acefit::probe
