// Device probes: what GPUs this machine has and how much memory they hold,
// asked of the vendors' own libraries, loaded at run time (dlopen) so that
// one binary runs on any machine, with or without those libraries.
//
//   NVIDIA  NVML (libnvidia-ml.so.1); the CUDA driver API (libcuda.so.1) when
//           NVML is missing or fails
//   AMD     ROCm SMI (librocm_smi64.so)
//   Intel   Level Zero (libze_loader.so.1) with its sysman free-memory query
//   any     Vulkan (libvulkan.so.1) with VK_EXT_memory_budget, for vendors
//           no vendor library reported
//   host    /proc/meminfo and /proc/cpuinfo
//
// Each library path can be replaced through the environment (tests point
// them at fake libraries; "none" turns a probe off):
//   ACEFIT_NVML_LIBRARY, ACEFIT_CUDA_DRIVER_LIBRARY, ACEFIT_ROCM_SMI_LIBRARY,
//   ACEFIT_LEVEL_ZERO_LIBRARY, ACEFIT_VULKAN_LIBRARY, ACEFIT_MEMINFO_PATH,
//   ACEFIT_CPUINFO_PATH
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/env_lookup.h"

namespace acefit {

struct ProbedDevice {
  std::string api;     // "nvml", "cuda-driver", "rocm-smi", "level-zero", "vulkan", "host"
  std::string vendor;  // "NVIDIA", "AMD", "Intel", "Apple", "CPU" or "vendor 0x...."
  int index = 0;       // the device's index within its API
  std::string name;
  std::uint64_t total_bytes = 0;            // 0: the API did not tell
  std::optional<std::uint64_t> free_bytes;  // nullopt: the API cannot tell
  std::string compute_capability;           // "8.9" on NVIDIA; "" where unknown
  std::string driver_version;               // as the API words it; "" where unknown
  std::string runtime_version;              // e.g. "CUDA 12.4", "ROCm SMI 5.2.3"

  // A device reporting 0 total and 0 free is unknown, not empty.
  bool memory_known() const { return total_bytes > 0; }
};

struct ProbeOutcome {
  enum class State { ok, disabled, library_missing, failed };
  std::string api;
  std::string library;  // the path or soname that was tried
  State state = State::ok;
  std::string detail;  // dlerror() text, or the call that failed and its code
  int device_count = 0;
};

struct ProbeReport {
  std::vector<ProbedDevice> gpus;      // NVIDIA, AMD, Intel, then Vulkan-only vendors
  ProbedDevice host;                   // api "host": RAM total and available
  std::vector<ProbeOutcome> outcomes;  // one per API, in the order tried
};

std::string_view probe_state_name(ProbeOutcome::State state);

// Runs every probe. Never fails: what went wrong is in `outcomes`.
ProbeReport probe_devices(const EnvLookup& env);

}  // namespace acefit
