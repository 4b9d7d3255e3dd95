// Which device to open, from the environment (a lookup function, so the
// library never reads getenv itself) and an optional command-line value.
//   ACESTEP_DEVICE, ACEFIT_DEVICE   auto (default) | cpu | sim | vulkan | vulkan:N
//                   | cuda | cuda:N
//                   (ACESTEP_DEVICE wins; a bad value is ignored with a warning)
//   MAX_CUDA_VRAM   GiB: the simulated size of a GPU. The device reports it as
//                   its total and its budget cap is max(0.5, value - 0.5) GiB
//                   (the 0.5 GiB stands for a CUDA context). On a real GPU it
//                   applies only when below the real size.
//   ACEFIT_SIM_VRAM_GB  GiB: the sim device's size and cap, nothing subtracted.
// An unparseable value gives a warning and is ignored.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/env_lookup.h"
#include "device/device.h"

namespace acefit {

inline constexpr double kDefaultSimVramGib = 8.0;

struct DeviceRequest {
  enum class Choice { automatic, cpu, sim, cuda, vulkan } choice = Choice::automatic;
  int ordinal = 0;
  std::optional<double> simulated_vram_gib;  // MAX_CUDA_VRAM
  std::optional<double> sim_vram_gib;        // ACEFIT_SIM_VRAM_GB
  std::vector<std::string> warnings;
};

// cli_device, when given, wins over the environment; a bad one is an error.
Expected<DeviceRequest> device_request_from(const EnvLookup& env,
                                            std::optional<std::string> cli_device = std::nullopt);

// The budget cap MAX_CUDA_VRAM implies: max(0.5, gib - 0.5) GiB, in bytes.
std::uint64_t simulated_vram_cap_bytes(double gib);

// Opens the requested device. automatic: the preferred Vulkan GPU
// (preferred_vulkan_device: never a CPU implementation such as lavapipe,
// never cuda, whose device has no kernels yet), else cpu.
// Warnings (fallbacks, simulation in effect) are appended to `warnings`.
Expected<std::shared_ptr<Device>> open_device(const DeviceRequest& request,
                                              std::vector<std::string>& warnings);

// Parses a positive, finite decimal number of GiB; nullopt when invalid.
std::optional<double> parse_gib(std::string_view text);

}  // namespace acefit
