// Fake vendor libraries for the device-probe tests (tests/unit/device_probe_test.cpp,
// docs/DEVICE_PROBES.md). Each fake is a small shared library exporting the
// same C symbols as the real one; the probe under test is pointed at it
// through ACEFIT_*_LIBRARY.
//
// Configuration: each fake reads one environment variable, again at every
// init call (nvmlInit_v2, cuInit, rsmi_init, zeInit / zesInit, and
// vkGetInstanceProcAddr(NULL, ...) / vkCreateInstance), so one process can
// run many configurations:
//
//   ACEFIT_FAKE_NVML, ACEFIT_FAKE_CUDA, ACEFIT_FAKE_ROCM_SMI,
//   ACEFIT_FAKE_LEVEL_ZERO, ACEFIT_FAKE_VULKAN
//
// The value is "key=value;key=value;..." (values may hold spaces and commas,
// not ';'; numbers are decimal, 0x hexadecimal or negative). Unset or empty:
// no devices. Keys (<i> is a device index, 0, 1, ...):
//
//   devices=N         what the count call reports (may be absurd: 4294967295)
//   name<i>=TEXT      the device's name (default "Fake GPU <i>")
//   noterm<i>=1       the name fills the caller's whole buffer with no NUL
//   total<i>=BYTES    total memory (Level Zero, Vulkan: a comma list, one
//                     memory module or device-local heap per entry)
//   free<i>=BYTES     free memory (Level Zero: a comma list, one per sysman
//                     memory module)
//   fail=F:CODE[,F@I:CODE...]
//                     function F returns CODE (only for device I with @I)
//   nvml:        cc<i>=8.9, driver=550.54.14, cuda=12040
//   cuda:        cc<i>=8.9, version=12040
//   rocm-smi:    version=6.1.2, driver=6.7.0
//   level zero:  vendor<i>=0x8086, type<i>=gpu|cpu, driver=UINT (driverVersion),
//                api=UINT (ze_api_version_t), sysman=0 (no sysman at all)
//   vulkan:      vendor<i>=0x10de, type<i>=discrete|integrated|virtual|cpu|other,
//                budget<i>=B,B / usage<i>=B,B (per device-local heap),
//                membudget<i>=0 (no VK_EXT_memory_budget), driver<i>=UINT,
//                api<i>=UINT, omit=vkName[,vkName] (vkGetInstanceProcAddr
//                answers NULL for those)
//
// Shutdown calls (nvmlShutdown, rsmi_shut_down, vkDestroyInstance) set
// <variable>_SHUTDOWN=1 in the environment so tests can see them.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#define ACEFIT_FAKE_EXPORT extern "C" __attribute__((visibility("default")))

namespace acefit::fake {

class Config {
 public:
  void load(const char* variable) {
    values_.clear();
    const char* text = std::getenv(variable);
    if (text == nullptr) return;
    const std::string all(text);
    std::size_t start = 0;
    while (start <= all.size()) {
      std::size_t end = all.find(';', start);
      if (end == std::string::npos) end = all.size();
      const std::string item = all.substr(start, end - start);
      const std::size_t equals = item.find('=');
      if (equals != std::string::npos) values_[item.substr(0, equals)] = item.substr(equals + 1);
      start = end + 1;
    }
  }

  std::string text(const std::string& key, const std::string& fallback = "") const {
    const auto it = values_.find(key);
    return it == values_.end() ? fallback : it->second;
  }
  long long number(const std::string& key, long long fallback = 0) const {
    const auto it = values_.find(key);
    if (it == values_.end()) return fallback;
    return parse(it->second);
  }
  std::string device_text(const char* key, std::uint64_t index, const std::string& fallback) const {
    return text(key + std::to_string(index), fallback);
  }
  long long device_number(const char* key, std::uint64_t index, long long fallback = 0) const {
    return number(key + std::to_string(index), fallback);
  }
  // A comma list of numbers.
  std::vector<long long> device_list(const char* key, std::uint64_t index) const {
    std::vector<long long> result;
    const std::string all = device_text(key, index, "");
    std::size_t start = 0;
    while (!all.empty() && start <= all.size()) {
      std::size_t end = all.find(',', start);
      if (end == std::string::npos) end = all.size();
      result.push_back(parse(all.substr(start, end - start)));
      start = end + 1;
    }
    return result;
  }
  std::string device_name(std::uint64_t index) const {
    return device_text("name", index, "Fake GPU " + std::to_string(index));
  }
  bool unterminated(std::uint64_t index) const { return device_number("noterm", index) != 0; }

  // The code `function` is told to return (for device `index`; -1: no device).
  std::optional<long long> failure(const char* function, long long index = -1) const {
    const std::string all = text("fail");
    std::size_t start = 0;
    while (!all.empty() && start <= all.size()) {
      std::size_t end = all.find(',', start);
      if (end == std::string::npos) end = all.size();
      const std::string item = all.substr(start, end - start);
      start = end + 1;
      const std::size_t colon = item.rfind(':');
      if (colon == std::string::npos) continue;
      std::string name = item.substr(0, colon);
      const std::size_t at = name.find('@');
      if (at != std::string::npos) {
        if (parse(name.substr(at + 1)) != index) continue;
        name.resize(at);
      }
      if (name == function) return parse(item.substr(colon + 1));
    }
    return std::nullopt;
  }

  bool listed(const char* key, const char* name) const {
    const std::string all = "," + text(key) + ",";
    return all.find("," + std::string(name) + ",") != std::string::npos;
  }

 private:
  static long long parse(const std::string& text) {
    if (!text.empty() && text[0] == '-') return std::strtoll(text.c_str(), nullptr, 0);
    return static_cast<long long>(std::strtoull(text.c_str(), nullptr, 0));
  }

  std::map<std::string, std::string> values_;
};

// Writes a name the way the real libraries do (cut to fit, NUL-terminated)
// or, when `unterminated`, filling all `size` bytes without a NUL.
inline void write_name(const std::string& name, char* buffer, std::size_t size, bool unterminated) {
  if (buffer == nullptr || size == 0) return;
  if (unterminated) {
    std::memset(buffer, '#', size);
    std::memcpy(buffer, name.data(), name.size() < size ? name.size() : size);
    return;
  }
  const std::size_t n = name.size() < size - 1 ? name.size() : size - 1;
  std::memcpy(buffer, name.data(), n);
  buffer[n] = '\0';
}

inline void mark_shutdown(const char* variable) {
  setenv((std::string(variable) + "_SHUTDOWN").c_str(), "1", 1);
}

}  // namespace acefit::fake
