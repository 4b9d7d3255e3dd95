// A fake ROCm SMI (librocm_smi64) for the probe tests; configured by
// ACEFIT_FAKE_ROCM_SMI (fake_config.h). fake_rocm_smi_incomplete
// (ACEFIT_FAKE_INCOMPLETE) lacks rsmi_dev_memory_usage_get.
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "fake_config.h"

namespace {

constexpr const char* kVariable = "ACEFIT_FAKE_ROCM_SMI";
constexpr std::uint32_t kSuccess = 0;
constexpr std::uint32_t kInvalidArgs = 1;  // RSMI_STATUS_INVALID_ARGS
constexpr std::uint32_t kInitError = 8;    // RSMI_STATUS_INIT_ERROR

struct FakeVersion {
  std::uint32_t major;
  std::uint32_t minor;
  std::uint32_t patch;
  const char* build;
};

acefit::fake::Config config;
bool initialised = false;

bool valid(std::uint32_t device) {
  return initialised && static_cast<long long>(device) < config.number("devices");
}

}  // namespace

ACEFIT_FAKE_EXPORT std::uint32_t rsmi_init(std::uint64_t flags) {
  config.load(kVariable);
  initialised = false;
  if (flags != 0) return kInvalidArgs;
  if (auto code = config.failure("rsmi_init")) return static_cast<std::uint32_t>(*code);
  initialised = true;
  return kSuccess;
}

ACEFIT_FAKE_EXPORT std::uint32_t rsmi_shut_down() {
  initialised = false;
  acefit::fake::mark_shutdown(kVariable);
  return kSuccess;
}

ACEFIT_FAKE_EXPORT std::uint32_t rsmi_num_monitor_devices(std::uint32_t* count) {
  if (!initialised) return kInitError;
  if (auto code = config.failure("rsmi_num_monitor_devices")) {
    return static_cast<std::uint32_t>(*code);
  }
  if (count == nullptr) return kInvalidArgs;
  *count = static_cast<std::uint32_t>(config.number("devices"));
  return kSuccess;
}

ACEFIT_FAKE_EXPORT std::uint32_t rsmi_dev_name_get(std::uint32_t device, char* name,
                                                   std::size_t length) {
  if (!valid(device) || name == nullptr) return kInvalidArgs;
  if (auto code = config.failure("rsmi_dev_name_get", device)) {
    return static_cast<std::uint32_t>(*code);
  }
  acefit::fake::write_name(config.device_name(device), name, length, config.unterminated(device));
  return kSuccess;
}

ACEFIT_FAKE_EXPORT std::uint32_t rsmi_dev_memory_total_get(std::uint32_t device, int type,
                                                           std::uint64_t* total) {
  if (!valid(device) || total == nullptr || type != 0) return kInvalidArgs;
  if (auto code = config.failure("rsmi_dev_memory_total_get", device)) {
    return static_cast<std::uint32_t>(*code);
  }
  *total = static_cast<std::uint64_t>(config.device_number("total", device));
  return kSuccess;
}

#ifndef ACEFIT_FAKE_INCOMPLETE
ACEFIT_FAKE_EXPORT std::uint32_t rsmi_dev_memory_usage_get(std::uint32_t device, int type,
                                                           std::uint64_t* used) {
  if (!valid(device) || used == nullptr || type != 0) return kInvalidArgs;
  if (auto code = config.failure("rsmi_dev_memory_usage_get", device)) {
    return static_cast<std::uint32_t>(*code);
  }
  const auto total = static_cast<std::uint64_t>(config.device_number("total", device));
  const auto free = static_cast<std::uint64_t>(config.device_number("free", device));
  *used = total >= free ? total - free : 0;
  return kSuccess;
}
#endif

ACEFIT_FAKE_EXPORT std::uint32_t rsmi_version_get(FakeVersion* version) {
  if (version == nullptr) return kInvalidArgs;
  if (auto code = config.failure("rsmi_version_get")) return static_cast<std::uint32_t>(*code);
  unsigned major = 0;
  unsigned minor = 0;
  unsigned patch = 0;
  std::sscanf(config.text("version", "0.0.0").c_str(), "%u.%u.%u", &major, &minor, &patch);
  version->major = major;
  version->minor = minor;
  version->patch = patch;
  version->build = "fake";
  return kSuccess;
}

ACEFIT_FAKE_EXPORT std::uint32_t rsmi_version_str_get(int component, char* text,
                                                      std::uint32_t length) {
  if (component != 0 || text == nullptr || length == 0) return kInvalidArgs;
  if (auto code = config.failure("rsmi_version_str_get")) return static_cast<std::uint32_t>(*code);
  acefit::fake::write_name(config.text("driver"), text, length, false);
  return kSuccess;
}
