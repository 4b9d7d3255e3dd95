// acefit devices: what this build supports, which devices it sees, and the
// one it would use with the current environment.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "commands.h"
#include "device/cpu/cpu_device.h"
#include "device/cuda/cuda_device.h"
#include "device/vulkan/vulkan_device.h"
#include "ops/cpu/blas.h"
#include "runtime.h"
#include "vulkan_listing.h"

namespace acefit::cli {

namespace {

nlohmann::json device_json(const Device& device) {
  const DeviceMemory memory = device.memory();
  return {{"name", device.name()},
          {"kind", std::string(device_kind_name(device.kind()))},
          {"total_bytes", memory.total_bytes},
          {"free_bytes", memory.free_bytes},
          {"budget_cap_bytes", device.budget().cap_bytes()}};
}

void print_device(const Device& device, const char* prefix) {
  const DeviceMemory memory = device.memory();
  std::printf("%s%-8s total %-11s free %-11s budget cap %s\n", prefix, device.name().c_str(),
              format_bytes(memory.total_bytes).c_str(), format_bytes(memory.free_bytes).c_str(),
              format_bytes(device.budget().cap_bytes()).c_str());
}

int run_devices(const std::optional<std::string>& device_flag, bool json) {
  auto runtime = open_runtime(device_flag);
  if (!runtime.ok()) {
    return report_error("devices", runtime.status().to_string());
  }
  std::vector<std::shared_ptr<Device>> seen{make_cpu_device()};
  for (int i = 0; i < cuda_device_count(); ++i) {
    auto cuda = make_cuda_device(i);
    if (cuda.ok()) seen.push_back(cuda.value());
  }
  const Device& selected = *runtime->device;
  const VulkanListing vulkan = list_vulkan();
  if (json) {
    nlohmann::json out;
    out["version"] = ACEFIT_VERSION;
    out["backends"] = {"cpu", "sim"};
    if (vulkan_compiled_in()) out["backends"].push_back("vulkan");
    if (cuda_compiled_in()) out["backends"].push_back("cuda");
    out["blas"] = {{"name", cpu::blas_name()}, {"threads", cpu::blas_threads()}};
    out["threads"] = runtime->pool->size();
    out["devices"] = nlohmann::json::array();
    for (const auto& device : seen) out["devices"].push_back(device_json(*device));
    out["vulkan_devices"] = vulkan_listing_json(vulkan, selected);
    if (!vulkan.note.empty()) out["vulkan_note"] = vulkan.note;
    out["selected"] = device_json(selected);
    out["warnings"] = runtime->warnings;
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("acefit %s\n", ACEFIT_VERSION);
  std::printf("backends compiled in: cpu, sim%s%s\n",
              vulkan_compiled_in() ? ", vulkan" : " (no vulkan: built without libvulkan-dev/glslc)",
              cuda_compiled_in() ? ", cuda (no kernels yet)"
                                 : " (no cuda: built without the CUDA toolkit)");
  std::printf("threads: %d (BLAS: %s, %d threads)\n", runtime->pool->size(), cpu::blas_name(),
              cpu::blas_threads());
  std::printf("devices found:\n");
  for (const auto& device : seen) print_device(*device, "  ");
  // Why no CUDA GPU is listed, unless a warning below already says it.
  if (cuda_compiled_in() && seen.size() == 1 && runtime->warnings.empty()) {
    const auto cuda = make_cuda_device(0);
    std::printf("  (no CUDA GPU: %s)\n",
                cuda.ok() ? "the driver reports none" : cuda.status().message().c_str());
  }
  std::printf("Vulkan devices:\n");
  print_vulkan_listing(vulkan, selected, "  ");
  std::printf("selected device:\n");
  print_device(selected, "  ");
  for (const auto& warning : runtime->warnings) report_warning("devices", warning);
  std::printf(
      "Choose with ACEFIT_DEVICE=cpu|sim|vulkan[:N]|cuda[:N] or --device; size the sim device with "
      "MAX_CUDA_VRAM=GiB (cap = GiB - 0.5) or ACEFIT_SIM_VRAM_GB=GiB.\n");
  return 0;
}

}  // namespace

void add_devices_command(CLI::App& app, int& exit_code) {
  auto* command =
      app.add_subcommand("devices", "Report the build, the devices found and the one selected");
  auto device = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  command->add_option("--device", *device,
                      "auto, cpu, sim, vulkan, vulkan:N, cuda or cuda:N (default: ACEFIT_DEVICE "
                      "or auto: a Vulkan GPU, else cpu)");
  command->add_flag("--json", *json, "Print JSON");
  command->callback([device, json, &exit_code] {
    exit_code =
        run_devices(device->empty() ? std::nullopt : std::optional<std::string>(*device), *json);
  });
}

}  // namespace acefit::cli
