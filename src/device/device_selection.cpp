#include "device/device_selection.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "device/cpu/cpu_device.h"
#include "device/cuda/cuda_device.h"
#include "device/sim/sim_device.h"
#include "device/vulkan/vulkan_device.h"

namespace acefit {

namespace {

constexpr double kGib = 1024.0 * 1024.0 * 1024.0;

std::uint64_t gib_to_bytes(double gib) {
  return static_cast<std::uint64_t>(std::llround(gib * kGib));
}

std::string format_gib(double gib) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", gib);
  return text;
}

}  // namespace

std::optional<double> parse_gib(std::string_view text) {
  if (text.empty() || text.size() > 32) return std::nullopt;
  // Plain decimals only: no sign, exponent, whitespace or units.
  for (char c : text) {
    if ((c < '0' || c > '9') && c != '.') return std::nullopt;
  }
  const std::string copy(text);
  char* end = nullptr;
  const double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(value) || value <= 0.0)
    return std::nullopt;
  if (value > 1e6) return std::nullopt;  // a petabyte of VRAM is a typo
  return value;
}

std::uint64_t simulated_vram_cap_bytes(double gib) {
  return gib_to_bytes(std::max(0.5, gib - 0.5));
}

namespace {

// Parses one device name into `request`; an error names the text.
Status parse_device(const std::string& d, DeviceRequest& request) {
  if (d == "auto") {
    request.choice = DeviceRequest::Choice::automatic;
  } else if (d == "cpu") {
    request.choice = DeviceRequest::Choice::cpu;
  } else if (d == "sim") {
    request.choice = DeviceRequest::Choice::sim;
  } else if (d == "cuda" || d.rfind("cuda:", 0) == 0 || d == "vulkan" ||
             d.rfind("vulkan:", 0) == 0) {
    const bool cuda = d.rfind("cuda", 0) == 0;
    request.choice = cuda ? DeviceRequest::Choice::cuda : DeviceRequest::Choice::vulkan;
    request.ordinal = 0;
    const std::size_t prefix = cuda ? 4 : 6;
    if (d.size() > prefix) {
      int ordinal = -1;
      const auto [ptr, ec] = std::from_chars(d.data() + prefix + 1, d.data() + d.size(), ordinal);
      if (ec != std::errc() || ptr != d.data() + d.size() || ordinal < 0 ||
          d.size() == prefix + 1) {
        return invalid_argument("device '" + d + "': expected " + (cuda ? "cuda" : "vulkan") +
                                ":N with N a device index");
      }
      request.ordinal = ordinal;
    }
  } else {
    return invalid_argument("unknown device '" + d +
                            "' (expected auto, cpu, sim, vulkan, vulkan:N, cuda or cuda:N)");
  }
  return Status();
}

}  // namespace

Expected<DeviceRequest> device_request_from(const EnvLookup& env,
                                            std::optional<std::string> cli_device) {
  DeviceRequest request;
  if (cli_device) {
    ACEFIT_TRY(parse_device(*cli_device, request));
  } else {
    // ACESTEP_DEVICE (the reference's name) wins over ACEFIT_DEVICE. A bad
    // value in the environment is ignored with a warning.
    for (const char* name : {"ACESTEP_DEVICE", "ACEFIT_DEVICE"}) {
      const std::optional<std::string> device = env(name);
      if (!device || device->empty()) continue;
      const Status parsed = parse_device(*device, request);
      if (parsed.ok()) break;
      request = DeviceRequest{};
      request.warnings.push_back(
          "Invalid " + std::string(name) + " value: " + *device +
          " (expected auto, cpu, sim, vulkan, vulkan:N, cuda or cuda:N), ignoring");
    }
  }
  for (const char* name : {"MAX_CUDA_VRAM", "ACEFIT_SIM_VRAM_GB"}) {
    const std::optional<std::string> raw = env(name);
    if (!raw) continue;
    const std::optional<double> gib = parse_gib(*raw);
    if (!gib) {
      request.warnings.push_back("Invalid " + std::string(name) + " value: " + *raw + ", ignoring");
      continue;
    }
    (std::string_view(name) == "MAX_CUDA_VRAM" ? request.simulated_vram_gib
                                               : request.sim_vram_gib) = gib;
  }
  return request;
}

Expected<std::shared_ptr<Device>> open_device(const DeviceRequest& request,
                                              std::vector<std::string>& warnings) {
  warnings.insert(warnings.end(), request.warnings.begin(), request.warnings.end());
  using Choice = DeviceRequest::Choice;

  if (request.choice == Choice::sim) {
    if (request.simulated_vram_gib) {
      const double gib = *request.simulated_vram_gib;
      warnings.push_back("DEBUG MODE: Simulating GPU memory as " + format_gib(gib) +
                         " GiB (set via MAX_CUDA_VRAM environment variable)");
      return make_sim_device(gib_to_bytes(gib), simulated_vram_cap_bytes(gib));
    }
    const double gib = request.sim_vram_gib.value_or(kDefaultSimVramGib);
    return make_sim_device(gib_to_bytes(gib));
  }
  // MAX_CUDA_VRAM on a real GPU: a cap below its real size.
  auto apply_simulated_cap = [&](const std::shared_ptr<Device>& device) {
    if (!request.simulated_vram_gib) return;
    const double gib = *request.simulated_vram_gib;
    warnings.push_back("DEBUG MODE: Simulating GPU memory as " + format_gib(gib) +
                       " GiB (set via MAX_CUDA_VRAM environment variable)");
    if (gib_to_bytes(gib) < device->memory().total_bytes) {
      device->budget().set_cap_bytes(
          std::min(device->budget().cap_bytes(), simulated_vram_cap_bytes(gib)));
    }
  };
  if (request.choice == Choice::cuda) {
    ACEFIT_ASSIGN(std::shared_ptr<Device> device, make_cuda_device(request.ordinal));
    apply_simulated_cap(device);
    return device;
  }
  if (request.choice == Choice::vulkan) {
    ACEFIT_ASSIGN(std::shared_ptr<Device> device, make_vulkan_device(request.ordinal));
    apply_simulated_cap(device);
    return device;
  }
  if (request.choice == Choice::automatic) {
    // A GPU with kernels: a discrete, else integrated or virtual GPU through
    // Vulkan. Never a CPU implementation of Vulkan (lavapipe) and never the
    // cuda device, which has no kernels yet.
    auto listed = list_vulkan_devices();
    if (listed.ok()) {
      const int index = preferred_vulkan_device(listed.value());
      if (index >= 0) {
        auto opened = make_vulkan_device(index);
        if (opened.ok()) {
          apply_simulated_cap(opened.value());
          return std::move(opened).value();
        }
        warnings.push_back(opened.status().message() + "; running on the CPU");
      }
    } else if (listed.status().code() != ErrorCode::unsupported &&
               listed.status().code() != ErrorCode::not_found) {
      warnings.push_back(listed.status().message() + "; running on the CPU");
    }
  }
  return make_cpu_device();
}

}  // namespace acefit
