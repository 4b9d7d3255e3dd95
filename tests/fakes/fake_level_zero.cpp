// A fake Level Zero loader (libze_loader) for the probe tests; configured by
// ACEFIT_FAKE_LEVEL_ZERO (fake_config.h). One driver; sysman through zesInit
// hands out its own device handles, in reverse order, so the probe must
// match them by UUID; without zesInit the core handles work for sysman (as
// with ZES_ENABLE_SYSMAN=1). fake_level_zero_incomplete
// (ACEFIT_FAKE_INCOMPLETE) lacks zeDeviceGetMemoryProperties.
#include <level_zero/ze_api.h>
#include <level_zero/zes_api.h>

#include <cstring>

#include "fake_config.h"

struct _ze_driver_handle_t {
  int unused;
};
struct _ze_device_handle_t {
  std::uint32_t index;
  bool sysman;  // handed out by zesDeviceGet
};
struct _zes_mem_handle_t {
  std::uint32_t device;
  std::uint32_t module;
};

namespace {

constexpr const char* kVariable = "ACEFIT_FAKE_LEVEL_ZERO";
constexpr std::uint32_t kHandles = 128;
constexpr std::uint32_t kModules = 8;

acefit::fake::Config config;
bool core_ready = false;
bool sysman_ready = false;  // zesInit succeeded
_ze_driver_handle_t driver;
_ze_device_handle_t core_devices[kHandles];
_ze_device_handle_t sysman_devices[kHandles];
_zes_mem_handle_t modules[kHandles][kModules];

std::uint32_t device_count() {
  const long long n = config.number("devices");
  return n < 0 ? 0 : n > 0xFFFFFFFFll ? 0xFFFFFFFFu : static_cast<std::uint32_t>(n);
}

void reset_handles() {
  for (std::uint32_t i = 0; i < kHandles; ++i) {
    core_devices[i] = {i, false};
    sysman_devices[i] = {i, true};
    for (std::uint32_t m = 0; m < kModules; ++m) modules[i][m] = {i, m};
  }
}

bool valid_core(ze_device_handle_t device) {
  return core_ready && device != nullptr && device >= core_devices &&
         device < core_devices + kHandles && device->index < device_count();
}

// Sysman accepts its own handles after zesInit, core handles without it.
bool valid_sysman(zes_device_handle_t device) {
  if (device == nullptr || config.number("sysman", 1) == 0) return false;
  if (device >= sysman_devices && device < sysman_devices + kHandles) {
    return sysman_ready && device->index < device_count();
  }
  return !sysman_ready && valid_core(device);
}

void fill_uuid(std::uint32_t index, ze_device_uuid_t& uuid) {
  std::memset(uuid.id, 0x5A, sizeof(uuid.id));
  std::memcpy(uuid.id, &index, sizeof(index));
}

void fill_properties(std::uint32_t index, ze_device_properties_t& properties) {
  const std::string type = config.device_text("type", index, "gpu");
  properties.type = type == "cpu" ? ZE_DEVICE_TYPE_CPU : ZE_DEVICE_TYPE_GPU;
  properties.vendorId = static_cast<std::uint32_t>(config.device_number("vendor", index, 0x8086));
  properties.deviceId = 0x56A0;
  fill_uuid(index, properties.uuid);
  acefit::fake::write_name(config.device_name(index), properties.name, sizeof(properties.name),
                           config.unterminated(index));
}

// The two-call driver list: one driver.
ze_result_t list_driver(std::uint32_t* count, ze_driver_handle_t* drivers) {
  if (count == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (drivers != nullptr && *count > 0) drivers[0] = &driver;
  *count = 1;
  return ZE_RESULT_SUCCESS;
}

}  // namespace

ACEFIT_FAKE_EXPORT ze_result_t zesInit(std::uint32_t flags) {
  config.load(kVariable);
  reset_handles();
  sysman_ready = false;
  if (flags != 0) return ZE_RESULT_ERROR_INVALID_ENUMERATION;
  if (config.number("sysman", 1) == 0) return ZE_RESULT_ERROR_UNINITIALIZED;
  if (auto code = config.failure("zesInit")) return static_cast<ze_result_t>(*code);
  sysman_ready = true;
  return ZE_RESULT_SUCCESS;
}

ze_result_t zeInit(ze_init_flags_t flags) {
  config.load(kVariable);
  if (!sysman_ready) reset_handles();
  core_ready = false;
  if (flags != 0) return ZE_RESULT_ERROR_INVALID_ENUMERATION;
  if (auto code = config.failure("zeInit")) return static_cast<ze_result_t>(*code);
  core_ready = true;
  return ZE_RESULT_SUCCESS;
}

ze_result_t zeDriverGet(std::uint32_t* count, ze_driver_handle_t* drivers) {
  if (!core_ready) return ZE_RESULT_ERROR_UNINITIALIZED;
  if (auto code = config.failure("zeDriverGet")) return static_cast<ze_result_t>(*code);
  return list_driver(count, drivers);
}

ze_result_t zeDriverGetProperties(ze_driver_handle_t handle, ze_driver_properties_t* properties) {
  if (handle != &driver || properties == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (auto code = config.failure("zeDriverGetProperties")) return static_cast<ze_result_t>(*code);
  properties->driverVersion = static_cast<std::uint32_t>(config.number("driver"));
  return ZE_RESULT_SUCCESS;
}

ze_result_t zeDriverGetApiVersion(ze_driver_handle_t handle, ze_api_version_t* version) {
  if (handle != &driver || version == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  *version = static_cast<ze_api_version_t>(config.number("api", 0x00010004));
  return ZE_RESULT_SUCCESS;
}

ze_result_t zeDeviceGet(ze_driver_handle_t handle, std::uint32_t* count,
                        ze_device_handle_t* devices) {
  if (!core_ready) return ZE_RESULT_ERROR_UNINITIALIZED;
  if (handle != &driver) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (auto code = config.failure("zeDeviceGet")) return static_cast<ze_result_t>(*code);
  if (count == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (devices == nullptr || *count == 0) {
    *count = device_count();
    return ZE_RESULT_SUCCESS;
  }
  std::uint32_t n = *count < device_count() ? *count : device_count();
  n = n < kHandles ? n : kHandles;
  for (std::uint32_t i = 0; i < n; ++i) devices[i] = &core_devices[i];
  *count = n;
  return ZE_RESULT_SUCCESS;
}

ze_result_t zeDeviceGetProperties(ze_device_handle_t device, ze_device_properties_t* properties) {
  if (!valid_core(device) || properties == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (properties->stype != ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES) {
    return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  }
  if (auto code = config.failure("zeDeviceGetProperties", device->index)) {
    return static_cast<ze_result_t>(*code);
  }
  fill_properties(device->index, *properties);
  return ZE_RESULT_SUCCESS;
}

#ifndef ACEFIT_FAKE_INCOMPLETE
ze_result_t zeDeviceGetMemoryProperties(ze_device_handle_t device, std::uint32_t* count,
                                        ze_device_memory_properties_t* memories) {
  if (!valid_core(device) || count == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (auto code = config.failure("zeDeviceGetMemoryProperties", device->index)) {
    return static_cast<ze_result_t>(*code);
  }
  const std::vector<long long> totals = config.device_list("total", device->index);
  const auto available = static_cast<std::uint32_t>(totals.size());
  if (memories == nullptr || *count == 0) {
    *count = available;
    return ZE_RESULT_SUCCESS;
  }
  const std::uint32_t n = *count < available ? *count : available;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (memories[i].stype != ZE_STRUCTURE_TYPE_DEVICE_MEMORY_PROPERTIES) {
      return ZE_RESULT_ERROR_INVALID_ARGUMENT;
    }
    memories[i].totalSize = static_cast<std::uint64_t>(totals[i]);
    acefit::fake::write_name("HBM", memories[i].name, sizeof(memories[i].name), false);
  }
  *count = n;
  return ZE_RESULT_SUCCESS;
}
#endif

ACEFIT_FAKE_EXPORT ze_result_t zesDriverGet(std::uint32_t* count, zes_driver_handle_t* drivers) {
  if (!sysman_ready) return ZE_RESULT_ERROR_UNINITIALIZED;
  return list_driver(count, drivers);
}

ACEFIT_FAKE_EXPORT ze_result_t zesDeviceGet(zes_driver_handle_t handle, std::uint32_t* count,
                                            zes_device_handle_t* devices) {
  if (!sysman_ready) return ZE_RESULT_ERROR_UNINITIALIZED;
  if (handle != &driver) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (count == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  std::uint32_t available = device_count() < kHandles ? device_count() : kHandles;
  if (devices == nullptr || *count == 0) {
    *count = available;
    return ZE_RESULT_SUCCESS;
  }
  const std::uint32_t n = *count < available ? *count : available;
  for (std::uint32_t i = 0; i < n; ++i) devices[i] = &sysman_devices[available - 1 - i];
  *count = n;
  return ZE_RESULT_SUCCESS;
}

ze_result_t zesDeviceGetProperties(zes_device_handle_t device,
                                   zes_device_properties_t* properties) {
  if (!valid_sysman(device) || properties == nullptr) return ZE_RESULT_ERROR_UNINITIALIZED;
  fill_properties(device->index, properties->core);
  return ZE_RESULT_SUCCESS;
}

ze_result_t zesDeviceEnumMemoryModules(zes_device_handle_t device, std::uint32_t* count,
                                       zes_mem_handle_t* handles) {
  if (!valid_sysman(device)) return ZE_RESULT_ERROR_UNINITIALIZED;
  if (auto code = config.failure("zesDeviceEnumMemoryModules", device->index)) {
    return static_cast<ze_result_t>(*code);
  }
  if (count == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  std::uint32_t available =
      static_cast<std::uint32_t>(config.device_list("free", device->index).size());
  available = available < kModules ? available : kModules;
  if (handles == nullptr || *count == 0) {
    *count = available;
    return ZE_RESULT_SUCCESS;
  }
  const std::uint32_t n = *count < available ? *count : available;
  for (std::uint32_t i = 0; i < n; ++i) handles[i] = &modules[device->index][i];
  *count = n;
  return ZE_RESULT_SUCCESS;
}

ze_result_t zesMemoryGetState(zes_mem_handle_t module, zes_mem_state_t* state) {
  if (module == nullptr || state == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (state->stype != ZES_STRUCTURE_TYPE_MEM_STATE) return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  const std::vector<long long> frees = config.device_list("free", module->device);
  const std::vector<long long> totals = config.device_list("total", module->device);
  state->free =
      module->module < frees.size() ? static_cast<std::uint64_t>(frees[module->module]) : 0;
  state->size =
      module->module < totals.size() ? static_cast<std::uint64_t>(totals[module->module]) : 0;
  return ZE_RESULT_SUCCESS;
}
