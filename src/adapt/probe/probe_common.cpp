// Helpers shared by the per-API probes (probe_internal.h).
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "adapt/probe/probe_internal.h"

namespace acefit::probe {

bool open_library(const std::string& path, SharedLibrary& library, ProbeOutcome& outcome,
                  bool keep_mapped) {
  outcome.library = path;
  std::string error;
  library = SharedLibrary::open(path, error, keep_mapped);
  if (library.is_open()) return true;
  outcome.state = ProbeOutcome::State::library_missing;
  outcome.detail = error;
  return false;
}

void set_failed(ProbeOutcome& outcome, const std::string& detail) {
  outcome.state = ProbeOutcome::State::failed;
  outcome.detail = detail;
  outcome.device_count = 0;
}

std::string call_failed(const char* function, long long code) {
  return std::string(function) + " returned " + std::to_string(code);
}

std::string call_failed_hex(const char* function, std::uint32_t code) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08" PRIx32, code);
  return std::string(function) + " returned " + text;
}

void add_note(ProbeOutcome& outcome, const std::string& note) {
  if (!outcome.detail.empty()) outcome.detail += "; ";
  outcome.detail += note;
}

std::uint32_t capped_count(std::uint64_t reported, const char* what, ProbeOutcome& outcome) {
  if (reported <= kMaxDevices) return static_cast<std::uint32_t>(reported);
  add_note(outcome, std::string(what) + " reported " + std::to_string(reported) +
                        "; only the first " + std::to_string(kMaxDevices) + " were asked");
  return kMaxDevices;
}

std::string bounded_string(const char* buffer, std::size_t capacity) {
  if (buffer == nullptr) return std::string();
  return std::string(buffer, strnlen(buffer, capacity));
}

std::string pci_vendor_name(std::uint32_t vendor_id) {
  switch (vendor_id) {
    case 0x10DE:
      return "NVIDIA";
    case 0x1002:
      return "AMD";
    case 0x8086:
      return "Intel";
    case 0x106B:
      return "Apple";
    default:
      break;
  }
  char text[32];
  std::snprintf(text, sizeof(text), "vendor 0x%04" PRIx32, vendor_id);
  return text;
}

std::string cuda_version_text(int version) {
  if (version <= 0) return std::string();
  return "CUDA " + std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

void set_memory(ProbedDevice& device, std::uint64_t total, std::optional<std::uint64_t> free) {
  device.total_bytes = total;
  if (total == 0) {
    device.free_bytes.reset();
    return;
  }
  if (free && *free > total) free = total;
  device.free_bytes = free;
}

}  // namespace acefit::probe
