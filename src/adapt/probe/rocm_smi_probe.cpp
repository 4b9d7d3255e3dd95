// AMD GPUs through ROCm SMI (librocm_smi64), loaded at run time. Types and
// prototypes are declared here from the public rocm_smi.h.
#include <cstddef>

#include "adapt/probe/probe_internal.h"

namespace acefit::probe {
namespace {

using RsmiStatus = std::uint32_t;  // rsmi_status_t; RSMI_STATUS_SUCCESS is 0
struct RsmiVersion {               // rsmi_version_t
  std::uint32_t major;
  std::uint32_t minor;
  std::uint32_t patch;
  const char* build;
};

constexpr RsmiStatus kRsmiSuccess = 0;
constexpr int kMemoryTypeVram = 0;   // RSMI_MEM_TYPE_VRAM
constexpr int kComponentDriver = 0;  // RSMI_SW_COMP_DRIVER
constexpr std::size_t kNameBufferSize = 256;

struct RocmSmiApi {
  RsmiStatus (*init)(std::uint64_t) = nullptr;
  RsmiStatus (*shut_down)() = nullptr;
  RsmiStatus (*device_count)(std::uint32_t*) = nullptr;
  RsmiStatus (*device_name)(std::uint32_t, char*, std::size_t) = nullptr;
  RsmiStatus (*memory_total)(std::uint32_t, int, std::uint64_t*) = nullptr;
  RsmiStatus (*memory_usage)(std::uint32_t, int, std::uint64_t*) = nullptr;
  RsmiStatus (*version)(RsmiVersion*) = nullptr;                      // optional
  RsmiStatus (*version_string)(int, char*, std::uint32_t) = nullptr;  // optional
};

bool resolve(const SharedLibrary& library, RocmSmiApi& api, std::string& missing) {
  SymbolResolver symbols(library);
  symbols.required("rsmi_init", api.init);
  symbols.required("rsmi_shut_down", api.shut_down);
  symbols.required("rsmi_num_monitor_devices", api.device_count);
  symbols.required("rsmi_dev_name_get", api.device_name);
  symbols.required("rsmi_dev_memory_total_get", api.memory_total);
  symbols.required("rsmi_dev_memory_usage_get", api.memory_usage);
  symbols.optional("rsmi_version_get", api.version);
  symbols.optional("rsmi_version_str_get", api.version_string);
  missing = symbols.first_missing();
  return symbols.complete();
}

std::string note_for(std::uint32_t index, const std::string& what) {
  return "device " + std::to_string(index) + ": " + what;
}

ProbedDevice describe_device(const RocmSmiApi& api, std::uint32_t index, ProbeOutcome& outcome) {
  ProbedDevice device;
  device.api = "rocm-smi";
  device.vendor = "AMD";
  device.index = static_cast<int>(index);

  char name[kNameBufferSize + 1] = {};
  if (const RsmiStatus rc = api.device_name(index, name, kNameBufferSize); rc == kRsmiSuccess) {
    name[kNameBufferSize] = '\0';
    device.name = bounded_string(name, kNameBufferSize);
  } else {
    add_note(outcome, note_for(index, call_failed("rsmi_dev_name_get", rc)));
  }

  std::uint64_t total = 0;
  if (const RsmiStatus rc = api.memory_total(index, kMemoryTypeVram, &total); rc != kRsmiSuccess) {
    add_note(outcome, note_for(index, call_failed("rsmi_dev_memory_total_get", rc)));
    return device;
  }
  std::optional<std::uint64_t> free;
  std::uint64_t used = 0;
  if (const RsmiStatus rc = api.memory_usage(index, kMemoryTypeVram, &used); rc == kRsmiSuccess) {
    free = used < total ? total - used : 0;
  } else {
    add_note(outcome, note_for(index, call_failed("rsmi_dev_memory_usage_get", rc)));
  }
  set_memory(device, total, free);
  return device;
}

std::string runtime_version(const RocmSmiApi& api) {
  if (api.version == nullptr) return std::string();
  RsmiVersion version{};
  if (api.version(&version) != kRsmiSuccess) return std::string();
  return "ROCm SMI " + std::to_string(version.major) + "." + std::to_string(version.minor) + "." +
         std::to_string(version.patch);
}

std::string driver_version(const RocmSmiApi& api) {
  if (api.version_string == nullptr) return std::string();
  char text[kNameBufferSize + 1] = {};
  if (api.version_string(kComponentDriver, text, kNameBufferSize) != kRsmiSuccess) {
    return std::string();
  }
  text[kNameBufferSize] = '\0';
  return bounded_string(text, kNameBufferSize);
}

void list_devices(const RocmSmiApi& api, ApiProbe& result) {
  ProbeOutcome& outcome = result.outcome;
  std::uint32_t reported = 0;
  if (const RsmiStatus rc = api.device_count(&reported); rc != kRsmiSuccess) {
    set_failed(outcome, call_failed("rsmi_num_monitor_devices", rc));
    return;
  }
  const std::string runtime = runtime_version(api);
  const std::string driver = driver_version(api);
  const std::uint32_t count = capped_count(reported, "rsmi_num_monitor_devices", outcome);
  for (std::uint32_t index = 0; index < count; ++index) {
    ProbedDevice device = describe_device(api, index, outcome);
    device.runtime_version = runtime;
    device.driver_version = driver;
    result.devices.push_back(std::move(device));
  }
  outcome.device_count = static_cast<int>(result.devices.size());
}

}  // namespace

ApiProbe probe_rocm_smi(const std::vector<std::string>& libraries) {
  ApiProbe result;
  result.outcome.api = "rocm-smi";
  SharedLibrary library;
  std::string tried;
  std::string errors;
  for (const std::string& path : libraries) {
    if (open_library(path, library, result.outcome)) break;
    tried += (tried.empty() ? "" : " or ") + path;
    errors += (errors.empty() ? "" : "; ") + result.outcome.detail;
  }
  if (!library.is_open()) {
    result.outcome.state = ProbeOutcome::State::library_missing;
    result.outcome.library = tried;
    result.outcome.detail = errors;
    return result;
  }
  result.outcome.state = ProbeOutcome::State::ok;
  result.outcome.detail.clear();

  RocmSmiApi api;
  std::string missing;
  if (!resolve(library, api, missing)) {
    set_failed(result.outcome, "missing symbol " + missing);
    return result;
  }
  if (const RsmiStatus rc = api.init(0); rc != kRsmiSuccess) {
    set_failed(result.outcome, call_failed("rsmi_init", rc));
    return result;
  }
  list_devices(api, result);
  api.shut_down();
  if (result.outcome.state != ProbeOutcome::State::ok) result.devices.clear();
  return result;
}

}  // namespace acefit::probe
