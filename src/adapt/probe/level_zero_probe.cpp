// Intel GPUs through Level Zero (libze_loader), loaded at run time. The
// struct layouts come from the Level Zero headers (Debian libze-dev); every
// function is reached through dlsym, never linked. Free memory comes from
// sysman (zes*), which is optional.
#include <level_zero/ze_api.h>
#include <level_zero/zes_api.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>

#include "adapt/probe/probe_internal.h"

namespace acefit::probe {
namespace {

// Newer than the headers Debian ships (Level Zero 1.5): declared here.
using SysmanInitFn = ze_result_t(std::uint32_t);  // zesInit(zes_init_flags_t)
using SysmanDriverGetFn = ze_result_t(std::uint32_t*, zes_driver_handle_t*);
using SysmanDeviceGetFn = ze_result_t(zes_driver_handle_t, std::uint32_t*, zes_device_handle_t*);

struct LevelZeroApi {
  decltype(&zeInit) init = nullptr;
  decltype(&zeDriverGet) driver_get = nullptr;
  decltype(&zeDeviceGet) device_get = nullptr;
  decltype(&zeDeviceGetProperties) device_properties = nullptr;
  decltype(&zeDeviceGetMemoryProperties) memory_properties = nullptr;
  // Optional from here on.
  decltype(&zeDriverGetProperties) driver_properties = nullptr;
  decltype(&zeDriverGetApiVersion) api_version = nullptr;
  SysmanInitFn* sysman_init = nullptr;
  SysmanDriverGetFn* sysman_driver_get = nullptr;
  SysmanDeviceGetFn* sysman_device_get = nullptr;
  decltype(&zesDeviceGetProperties) sysman_device_properties = nullptr;
  decltype(&zesDeviceEnumMemoryModules) enum_memory_modules = nullptr;
  decltype(&zesMemoryGetState) memory_state = nullptr;
};

bool resolve(const SharedLibrary& library, LevelZeroApi& api, std::string& missing) {
  SymbolResolver symbols(library);
  symbols.required("zeInit", api.init);
  symbols.required("zeDriverGet", api.driver_get);
  symbols.required("zeDeviceGet", api.device_get);
  symbols.required("zeDeviceGetProperties", api.device_properties);
  symbols.required("zeDeviceGetMemoryProperties", api.memory_properties);
  symbols.optional("zeDriverGetProperties", api.driver_properties);
  symbols.optional("zeDriverGetApiVersion", api.api_version);
  symbols.optional("zesInit", api.sysman_init);
  symbols.optional("zesDriverGet", api.sysman_driver_get);
  symbols.optional("zesDeviceGet", api.sysman_device_get);
  symbols.optional("zesDeviceGetProperties", api.sysman_device_properties);
  symbols.optional("zesDeviceEnumMemoryModules", api.enum_memory_modules);
  symbols.optional("zesMemoryGetState", api.memory_state);
  missing = symbols.first_missing();
  return symbols.complete();
}

// The two-call enumeration every Level Zero list uses: the count, then that
// many handles (at most kMaxDevices). `call(count, handles)`.
template <typename Handle, typename Call>
ze_result_t enumerate(Call call, std::vector<Handle>& handles) {
  handles.clear();
  std::uint32_t count = 0;
  ze_result_t rc = call(&count, nullptr);
  if (rc != ZE_RESULT_SUCCESS || count == 0) return rc;
  count = std::min(count, kMaxDevices);
  handles.assign(count, nullptr);
  rc = call(&count, handles.data());
  if (rc != ZE_RESULT_SUCCESS) {
    handles.clear();
    return rc;
  }
  handles.resize(std::min<std::size_t>(count, handles.size()));
  return rc;
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

bool same_uuid(const ze_device_uuid_t& a, const ze_device_uuid_t& b) {
  return std::memcmp(a.id, b.id, sizeof(a.id)) == 0;
}

// How free memory is reached: sysman handles found through zesInit and
// matched to the core devices by UUID, or (without zesInit) the core handle
// itself, which the loader accepts when sysman is enabled.
struct Sysman {
  bool initialised = false;  // zesInit succeeded: core handles must not be cast
  std::vector<std::pair<ze_device_uuid_t, zes_device_handle_t>> devices;
};

Sysman start_sysman(const LevelZeroApi& api) {
  Sysman sysman;
  if (api.sysman_init == nullptr || api.sysman_init(0) != ZE_RESULT_SUCCESS) return sysman;
  sysman.initialised = true;
  if (api.sysman_driver_get == nullptr || api.sysman_device_get == nullptr ||
      api.sysman_device_properties == nullptr) {
    return sysman;
  }
  std::vector<zes_driver_handle_t> drivers;
  enumerate<zes_driver_handle_t>(
      [&](std::uint32_t* count, zes_driver_handle_t* out) {
        return api.sysman_driver_get(count, out);
      },
      drivers);
  for (zes_driver_handle_t driver : drivers) {
    std::vector<zes_device_handle_t> devices;
    enumerate<zes_device_handle_t>(
        [&](std::uint32_t* count, zes_device_handle_t* out) {
          return api.sysman_device_get(driver, count, out);
        },
        devices);
    for (zes_device_handle_t device : devices) {
      zes_device_properties_t properties{};
      properties.stype = ZES_STRUCTURE_TYPE_DEVICE_PROPERTIES;
      properties.core.stype = ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES;
      if (api.sysman_device_properties(device, &properties) == ZE_RESULT_SUCCESS) {
        sysman.devices.emplace_back(properties.core.uuid, device);
      }
    }
  }
  return sysman;
}

// Sum of free bytes over the device's memory modules; nullopt when sysman
// cannot tell.
std::optional<std::uint64_t> sysman_free(const LevelZeroApi& api, const Sysman& sysman,
                                         ze_device_handle_t core, const ze_device_uuid_t& uuid) {
  if (api.enum_memory_modules == nullptr || api.memory_state == nullptr) return std::nullopt;
  zes_device_handle_t device = nullptr;
  if (sysman.initialised) {
    for (const auto& [known_uuid, handle] : sysman.devices) {
      if (same_uuid(known_uuid, uuid)) device = handle;
    }
  } else {
    device = core;  // zes_device_handle_t is ze_device_handle_t
  }
  if (device == nullptr) return std::nullopt;

  std::vector<zes_mem_handle_t> modules;
  const ze_result_t rc = enumerate<zes_mem_handle_t>(
      [&](std::uint32_t* count, zes_mem_handle_t* out) {
        return api.enum_memory_modules(device, count, out);
      },
      modules);
  if (rc != ZE_RESULT_SUCCESS || modules.empty()) return std::nullopt;
  std::uint64_t free = 0;
  for (zes_mem_handle_t module : modules) {
    zes_mem_state_t state{};
    state.stype = ZES_STRUCTURE_TYPE_MEM_STATE;
    if (api.memory_state(module, &state) != ZE_RESULT_SUCCESS) return std::nullopt;
    free = saturating_add(free, state.free);
  }
  return free;
}

std::uint64_t total_memory(const LevelZeroApi& api, ze_device_handle_t device,
                           const std::string& label, ProbeOutcome& outcome) {
  std::uint32_t count = 0;
  ze_result_t rc = api.memory_properties(device, &count, nullptr);
  if (rc == ZE_RESULT_SUCCESS && count > 0) {
    count = std::min(count, kMaxDevices);
    std::vector<ze_device_memory_properties_t> memories(count);
    for (auto& memory : memories) memory.stype = ZE_STRUCTURE_TYPE_DEVICE_MEMORY_PROPERTIES;
    rc = api.memory_properties(device, &count, memories.data());
    if (rc == ZE_RESULT_SUCCESS) {
      std::uint64_t total = 0;
      for (std::uint32_t i = 0; i < std::min<std::size_t>(count, memories.size()); ++i) {
        total = saturating_add(total, memories[i].totalSize);
      }
      return total;
    }
  }
  if (rc != ZE_RESULT_SUCCESS) {
    add_note(outcome, label + ": " + call_failed_hex("zeDeviceGetMemoryProperties", rc));
  }
  return 0;
}

// Intel's drivers pack major.minor.build as 8.8.16 bits; others: the number.
std::string driver_version_text(std::uint32_t version, std::uint32_t vendor_id) {
  if (version == 0) return std::string();
  if (vendor_id != 0x8086) return std::to_string(version);
  return std::to_string(version >> 24) + "." + std::to_string((version >> 16) & 0xFFu) + "." +
         std::to_string(version & 0xFFFFu);
}

struct DriverInfo {
  std::uint32_t version = 0;
  std::string api_version;
};

DriverInfo describe_driver(const LevelZeroApi& api, ze_driver_handle_t driver) {
  DriverInfo info;
  if (api.driver_properties != nullptr) {
    ze_driver_properties_t properties{};
    properties.stype = ZE_STRUCTURE_TYPE_DRIVER_PROPERTIES;
    if (api.driver_properties(driver, &properties) == ZE_RESULT_SUCCESS) {
      info.version = properties.driverVersion;
    }
  }
  if (api.api_version != nullptr) {
    ze_api_version_t version{};
    if (api.api_version(driver, &version) == ZE_RESULT_SUCCESS) {
      const auto raw = static_cast<std::uint32_t>(version);
      info.api_version =
          "Level Zero " + std::to_string(raw >> 16) + "." + std::to_string(raw & 0xFFFFu);
    }
  }
  return info;
}

void list_driver_devices(const LevelZeroApi& api, const Sysman& sysman, ze_driver_handle_t driver,
                         std::size_t driver_index, ApiProbe& result) {
  ProbeOutcome& outcome = result.outcome;
  const std::string driver_label = "driver " + std::to_string(driver_index);
  std::uint32_t reported = 0;
  ze_result_t rc = api.device_get(driver, &reported, nullptr);
  if (rc != ZE_RESULT_SUCCESS) {
    add_note(outcome, driver_label + ": " + call_failed_hex("zeDeviceGet", rc));
    return;
  }
  std::uint32_t count = capped_count(reported, "zeDeviceGet", outcome);
  if (count == 0) return;
  std::vector<ze_device_handle_t> devices(count, nullptr);
  rc = api.device_get(driver, &count, devices.data());
  if (rc != ZE_RESULT_SUCCESS) {
    add_note(outcome, driver_label + ": " + call_failed_hex("zeDeviceGet", rc));
    return;
  }
  devices.resize(std::min<std::size_t>(count, devices.size()));

  const DriverInfo info = describe_driver(api, driver);
  for (ze_device_handle_t handle : devices) {
    if (result.devices.size() >= kMaxDevices) return;
    const int index = static_cast<int>(result.devices.size());
    const std::string label = "device " + std::to_string(index);
    ze_device_properties_t properties{};
    properties.stype = ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES;
    if (rc = api.device_properties(handle, &properties); rc != ZE_RESULT_SUCCESS) {
      add_note(outcome, label + ": " + call_failed_hex("zeDeviceGetProperties", rc));
      continue;
    }
    if (properties.type != ZE_DEVICE_TYPE_GPU) continue;

    ProbedDevice device;
    device.api = "level-zero";
    device.vendor = pci_vendor_name(properties.vendorId);
    device.index = index;
    device.name = bounded_string(properties.name, sizeof(properties.name));
    device.driver_version = driver_version_text(info.version, properties.vendorId);
    device.runtime_version = info.api_version;
    const std::uint64_t total = total_memory(api, handle, label, outcome);
    set_memory(device, total,
               total > 0 ? sysman_free(api, sysman, handle, properties.uuid) : std::nullopt);
    result.devices.push_back(std::move(device));
  }
}

void list_devices(const LevelZeroApi& api, const Sysman& sysman, ApiProbe& result) {
  std::vector<ze_driver_handle_t> drivers;
  const ze_result_t rc = enumerate<ze_driver_handle_t>(
      [&](std::uint32_t* count, ze_driver_handle_t* out) { return api.driver_get(count, out); },
      drivers);
  if (rc != ZE_RESULT_SUCCESS) {
    set_failed(result.outcome, call_failed_hex("zeDriverGet", rc));
    return;
  }
  for (std::size_t i = 0; i < drivers.size(); ++i) {
    list_driver_devices(api, sysman, drivers[i], i, result);
  }
  result.outcome.device_count = static_cast<int>(result.devices.size());
}

}  // namespace

ApiProbe probe_level_zero(const std::string& library_path) {
  ApiProbe result;
  result.outcome.api = "level-zero";
  SharedLibrary library;
  if (!open_library(library_path, library, result.outcome)) return result;

  LevelZeroApi api;
  std::string missing;
  if (!resolve(library, api, missing)) {
    set_failed(result.outcome, "missing symbol " + missing);
    return result;
  }
  // zesInit (when there is one) comes first, then the core API.
  const Sysman sysman = start_sysman(api);
  if (const ze_result_t rc = api.init(0); rc != ZE_RESULT_SUCCESS) {
    set_failed(result.outcome, call_failed_hex("zeInit", rc));
    return result;
  }
  list_devices(api, sysman, result);
  if (result.outcome.state != ProbeOutcome::State::ok) result.devices.clear();
  return result;
}

}  // namespace acefit::probe
