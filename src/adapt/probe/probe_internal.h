// What the per-API probe files share: one function per API, called by
// device_probe.cpp, and the small helpers they all use. Not for use outside
// src/adapt/probe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "adapt/probe/device_probe.h"
#include "adapt/probe/shared_library.h"

namespace acefit::probe {

// No API is believed about more devices than this (nor more drivers, heaps
// or memory modules): an absurd count must not turn into a huge loop.
constexpr std::uint32_t kMaxDevices = 64;

// One API's answer: its outcome and the devices it listed, in its order.
struct ApiProbe {
  ProbeOutcome outcome;
  std::vector<ProbedDevice> devices;
};

ApiProbe probe_nvml(const std::string& library);
ApiProbe probe_cuda_driver(const std::string& library);
// Tries each name in turn until one opens.
ApiProbe probe_rocm_smi(const std::vector<std::string>& libraries);
ApiProbe probe_level_zero(const std::string& library);
ApiProbe probe_vulkan(const std::string& library);
// The host device (RAM, CPU name) and its outcome. An empty path skips that file.
ApiProbe probe_host(const std::string& meminfo_path, const std::string& cpuinfo_path);

// Opens `path` into `library`; on failure sets the outcome to
// library_missing with the dlerror text and returns false.
bool open_library(const std::string& path, SharedLibrary& library, ProbeOutcome& outcome,
                  bool keep_mapped = false);

// Sets the outcome to failed with `detail`.
void set_failed(ProbeOutcome& outcome, const std::string& detail);

// "<function> returned <code>".
std::string call_failed(const char* function, long long code);
std::string call_failed_hex(const char* function, std::uint32_t code);

// Adds a remark to the outcome's detail ("; " between remarks).
void add_note(ProbeOutcome& outcome, const std::string& note);

// The reported count, or kMaxDevices with a note when it is larger.
std::uint32_t capped_count(std::uint64_t reported, const char* what, ProbeOutcome& outcome);

// The text in a fixed buffer that may lack its terminating NUL.
std::string bounded_string(const char* buffer, std::size_t capacity);

// "NVIDIA", "AMD", "Intel", "Apple" or "vendor 0x1234".
std::string pci_vendor_name(std::uint32_t vendor_id);

// 12040 -> "CUDA 12.4"; "" for a version <= 0.
std::string cuda_version_text(int version);

// Stores memory figures; total 0 means unknown, and then free is unknown
// too. Free never exceeds total.
void set_memory(ProbedDevice& device, std::uint64_t total, std::optional<std::uint64_t> free);

}  // namespace acefit::probe
