// acefit check-gpu: the GPU diagnostic report. What this build can run on,
// every device the probes found, the simulation in effect, the tier and its
// limits and defaults, the variables in effect, and what to do next.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "adapt/options.h"
#include "cli_common.h"
#include "commands.h"
#include "device/cuda/cuda_device.h"
#include "device/vulkan/vulkan_device.h"
#include "settings_cli.h"
#include "vulkan_listing.h"

namespace acefit::cli {

namespace {

constexpr double kMib = 1024.0 * 1024.0;

// Variables the report shows besides the option table's.
constexpr const char* kReportedVariables[] = {"MAX_CUDA_VRAM",
                                              "MAX_MPS_VRAM",
                                              "MAX_XPU_VRAM",
                                              "ACEFIT_SIM_VRAM_GB",
                                              "ACEFIT_THREADS",
                                              "HSA_OVERRIDE_GFX_VERSION",
                                              "MIOPEN_FIND_MODE",
                                              "TORCH_COMPILE_BACKEND",
                                              "ACEFIT_NVML_LIBRARY",
                                              "ACEFIT_CUDA_DRIVER_LIBRARY",
                                              "ACEFIT_ROCM_SMI_LIBRARY",
                                              "ACEFIT_LEVEL_ZERO_LIBRARY",
                                              "ACEFIT_VULKAN_LIBRARY"};

struct VariableInEffect {
  std::string name, value, source;
};

std::vector<VariableInEffect> variables_in_effect(const DotEnv& dotenv) {
  std::vector<std::string> names(std::begin(kReportedVariables), std::end(kReportedVariables));
  for (const auto& option : option_table()) {
    if (!option.env.empty()) names.emplace_back(option.env);
  }
  const EnvLookup environment = process_environment();
  std::vector<VariableInEffect> out;
  for (const auto& name : names) {
    if (auto value = environment(name)) {
      out.push_back({name, *value, "environment"});
    } else if (auto from_file = dotenv.get(name)) {
      out.push_back({name, *from_file, ".env"});
    }
  }
  return out;
}

std::string mib(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / kMib);
  return text;
}

std::string joined(const std::vector<std::string>& items, const char* empty = "none") {
  if (items.empty()) return empty;
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// The HSA_OVERRIDE_GFX_VERSION an RDNA card needs, from its name.
std::string gfx_override_for(const std::string& name) {
  const auto has = [&](const char* part) { return name.find(part) != std::string::npos; };
  if (has("7900") || has("9070")) return "11.0.0";
  if (has("7800") || has("7700")) return "11.0.1";
  if (has("7600")) return "11.0.2";
  if (has("RX 6")) return "10.3.0";
  return "";
}

std::vector<std::string> recommendations(const ResolvedContext& context,
                                         const std::vector<VariableInEffect>& variables) {
  std::vector<std::string> out;
  const auto& gpus = context.probes.gpus;
  const auto variable_set = [&](const char* name) {
    for (const auto& v : variables) {
      if (v.name == name) return true;
    }
    return false;
  };
  if (gpus.empty()) {
    const EffectiveSettings& s = context.settings;
    if (s.no_gpu_tier) {
      out.push_back(
          "No GPU detected: acefit runs on the CPU (no GPU tier) with the limits of "
          "the memory plan against the available RAM: up to " +
          std::to_string(s.max_duration_s.value) + " s, batch " +
          std::to_string(s.max_batch.value) + ".");
    } else {
      out.push_back("No GPU detected: runs happen on the CPU.");
    }
    std::vector<std::string> nvidia_missing;
    for (const auto& outcome : context.probes.outcomes) {
      if (outcome.state != ProbeOutcome::State::library_missing) continue;
      if (outcome.api == "nvml" || outcome.api == "cuda-driver") {
        nvidia_missing.push_back(outcome.library);
      } else if (outcome.api == "rocm-smi") {
        out.push_back("AMD: " + outcome.library +
                      " was not found: install ROCm (rocm-smi-lib) and check it with rocm-smi; "
                      "RDNA cards may need HSA_OVERRIDE_GFX_VERSION (RX 7900 XT/XTX and RX 9070 "
                      "XT: 11.0.0, RX 7800/7700 XT: 11.0.1, RX 7600: 11.0.2).");
      } else if (outcome.api == "level-zero") {
        out.push_back("Intel: " + outcome.library +
                      " was not found: install Level Zero (libze1) and Intel's compute runtime "
                      "(intel-level-zero-gpu).");
      } else if (outcome.api == "vulkan") {
        out.push_back("Vulkan: " + outcome.library +
                      " was not found: install libvulkan1 and your GPU's Vulkan driver "
                      "(mesa-vulkan-drivers, or the vendor's).");
      }
    }
    if (!nvidia_missing.empty()) {
      // One line for the driver, however many of its libraries are missing.
      out.insert(out.begin() + 1,
                 "NVIDIA: to use an NVIDIA GPU install its driver (Debian: "
                 "nvidia-driver from non-free; it provides " +
                     joined(nvidia_missing) + ") and check it with nvidia-smi.");
    }
  }
  for (const auto& gpu : gpus) {
    if (gpu.vendor == "AMD" && !variable_set("HSA_OVERRIDE_GFX_VERSION")) {
      const std::string gfx = gfx_override_for(gpu.name);
      if (!gfx.empty()) {
        out.push_back("AMD " + gpu.name +
                      ": if ROCm does not recognise it, set "
                      "HSA_OVERRIDE_GFX_VERSION=" +
                      gfx +
                      "; MIOPEN_FIND_MODE=FAST shortens "
                      "start-up; the pt LM backend is recommended on ROCm.");
      }
    }
    if (!gpu.memory_known()) {
      out.push_back("GPU " + gpu.name +
                    " did not report its memory: set MAX_CUDA_VRAM=<GiB> "
                    "to the card's size so acefit picks the right tier.");
    }
  }
  if (!gpus.empty() && context.runtime.device->kind() == DeviceKind::cpu &&
      context.request.choice != DeviceRequest::Choice::cpu) {
    const ProbedDevice& gpu = gpus.front();
    if (vulkan_compiled_in()) {
      out.push_back("acefit runs GPUs through Vulkan and found no usable Vulkan GPU for " +
                    gpu.vendor + " " + gpu.name +
                    " (install the vendor's Vulkan driver; see the Vulkan devices above): "
                    "generation runs on the CPU; the tier above describes the GPU.");
    } else {
      out.push_back("This build has no GPU backend for " + gpu.vendor + " " + gpu.name +
                    " (built without libvulkan-dev and glslc): generation runs on the CPU; the "
                    "tier above describes the GPU.");
    }
  }
  if (!gpus.empty() && gpus.front().memory_known() && out.empty()) {
    out.push_back("Your GPU setup appears to be working correctly.");
  }
  out.push_back(
      "To see how acefit behaves on a smaller GPU: MAX_CUDA_VRAM=8 acefit check-gpu "
      "(tier4); with ACEFIT_DEVICE=sim every run uses a simulated GPU of that size, "
      "capped at MAX_CUDA_VRAM - 0.5 GiB.");
  return out;
}

nlohmann::json device_json(const ProbedDevice& device) {
  return {{"api", device.api},
          {"vendor", device.vendor},
          {"index", device.index},
          {"name", device.name},
          {"total_mib", device.memory_known()
                            ? nlohmann::json(static_cast<double>(device.total_bytes) / kMib)
                            : nlohmann::json(nullptr)},
          {"free_mib", device.free_bytes && device.memory_known()
                           ? nlohmann::json(static_cast<double>(*device.free_bytes) / kMib)
                           : nlohmann::json(nullptr)},
          {"memory_known", device.memory_known()},
          {"compute_capability", device.compute_capability.empty()
                                     ? nlohmann::json(nullptr)
                                     : nlohmann::json(device.compute_capability)},
          {"driver_version", device.driver_version},
          {"runtime_version", device.runtime_version}};
}

std::vector<std::string> backends_compiled_in() {
  std::vector<std::string> out{"cpu", "sim"};
  if (vulkan_compiled_in()) out.emplace_back("vulkan");
  if (cuda_compiled_in()) out.emplace_back("cuda");
  return out;
}

void print_text(const ResolvedContext& context, const std::vector<VariableInEffect>& variables,
                const std::vector<std::string>& advice) {
  const std::string rule(80, '=');
  const EffectiveSettings& s = context.settings;
  const TierRecord& tier = *s.tier_record;
  std::printf("%s\nACE-Step GPU Detection Diagnostic Tool (acefit %s)\n%s\n", rule.c_str(),
              ACEFIT_VERSION, rule.c_str());
  std::printf("\nBuild\n  backends compiled in: %s%s\n", joined(backends_compiled_in()).c_str(),
              vulkan_compiled_in() ? ""
                                   : " (no GPU backend: install libvulkan-dev and glslc, then "
                                     "rebuild)");
  std::printf("\nDevices\n");
  if (context.probes.gpus.empty()) std::printf("  No GPU detected\n");
  for (std::size_t i = 0; i < context.probes.gpus.size(); ++i) {
    const ProbedDevice& d = context.probes.gpus[i];
    std::printf("  GPU %zu: %s %s (%s)\n", i, d.vendor.c_str(), d.name.c_str(), d.api.c_str());
    if (d.memory_known()) {
      std::printf("    Total memory: %s; free: %s\n", mib(d.total_bytes).c_str(),
                  d.free_bytes ? mib(*d.free_bytes).c_str() : "unknown");
    } else {
      std::printf("    Memory: unknown (the device reported 0/0)\n");
    }
    if (!d.compute_capability.empty())
      std::printf("    Compute capability: %s\n", d.compute_capability.c_str());
    if (!d.driver_version.empty() || !d.runtime_version.empty())
      std::printf("    Driver: %s%s%s\n", d.driver_version.c_str(),
                  d.driver_version.empty() || d.runtime_version.empty() ? "" : ", ",
                  d.runtime_version.c_str());
  }
  const ProbedDevice& host = context.probes.host;
  std::printf("  CPU: %s; RAM %s, available %s\n",
              host.name.empty() ? "unknown" : host.name.c_str(), mib(host.total_bytes).c_str(),
              host.free_bytes ? mib(*host.free_bytes).c_str() : "unknown");
  std::printf("\nVulkan devices\n");
  print_vulkan_listing(list_vulkan(), *context.runtime.device, "  ");
  std::printf("  Runs on: %s (budget cap %s)\n", s.device.value.c_str(),
              mib(context.runtime.device->budget().cap_bytes()).c_str());
  std::printf("\nProbes\n");
  for (const auto& outcome : context.probes.outcomes) {
    std::printf("  %-12s %-16s %s%s%s\n", outcome.api.c_str(),
                std::string(probe_state_name(outcome.state)).c_str(),
                outcome.state == ProbeOutcome::State::ok
                    ? (std::to_string(outcome.device_count) + " device(s) ").c_str()
                    : "",
                outcome.library.c_str(),
                outcome.detail.empty() ? "" : (": " + outcome.detail).c_str());
  }
  std::printf("\nSimulation\n");
  if (s.gpu_memory_gib.source == SettingSource::device) {
    std::printf("  none (set MAX_CUDA_VRAM=<GiB> to simulate a smaller GPU)\n");
  } else {
    std::printf("  %s: GPU memory taken as %s GiB (from %s)\n", s.gpu_memory_gib.origin.c_str(),
                gib_text(s.gpu_memory_gib.value).c_str(),
                std::string(setting_source_name(s.gpu_memory_gib.source)).c_str());
  }
  if (s.no_gpu_tier) {
    std::printf("\nTier\n  %s\n", tier.label.c_str());
    std::printf("  Limits: %s\n", s.max_duration_s.reason.c_str());
    std::printf("  Max duration: %d s\n", s.max_duration_s.value);
    std::printf("  Max batch: %d\n", s.max_batch.value);
  } else {
    std::printf("\nTier\n  %s, GPU memory %s GiB%s\n", tier.label.c_str(),
                gib_text(s.gpu_memory_gib.value).c_str(),
                s.tier.source == SettingSource::command_line ? " (chosen with --tier)" : "");
    std::printf("  LM models: %s (recommended: %s)\n", joined(tier.lm_models).c_str(),
                tier.recommended_lm.value_or("none").c_str());
    std::printf("  Max duration: %d s with LM, %d s without\n", tier.max_duration_with_lm_s,
                tier.max_duration_without_lm_s);
    std::printf("  Max batch: %d with LM, %d without\n", tier.max_batch_with_lm,
                tier.max_batch_without_lm);
    std::printf("  In effect without the LM (generate --thinking or --cot: with): %d s, batch %d\n",
                s.max_duration_s.value, s.max_batch.value);
  }
  std::printf("  LM backend: %s (allowed: %s)\n", s.backend.value.c_str(),
              joined(tier.allowed_backends).c_str());
  std::printf("  Offload: %s; quantization: %s; compile: %s; LM initialised: %s\n",
              std::string(offload_mode_name(s.offload.value)).c_str(),
              s.quantization.value ? "int8" : "none", s.compile.value ? "on" : "off",
              s.init_lm.value ? "yes" : "no");
  std::printf("\nEnvironment variables\n");
  if (variables.empty()) std::printf("  No ACE-Step specific environment variables set\n");
  for (const auto& v : variables) {
    std::printf("  %s=%s (%s)\n", v.name.c_str(), v.value.c_str(), v.source.c_str());
  }
  if (!s.warnings.empty()) {
    std::printf("\nWarnings\n");
    for (const auto& w : s.warnings) std::printf("  %s\n", w.c_str());
  }
  std::printf("\nRecommendations\n");
  for (const auto& a : advice) std::printf("  - %s\n", a.c_str());
  std::printf("\n%s\nDiagnostic Complete\n%s\n", rule.c_str(), rule.c_str());
}

nlohmann::json report_json(const ResolvedContext& context,
                           const std::vector<VariableInEffect>& variables,
                           const std::vector<std::string>& advice) {
  const EffectiveSettings& s = context.settings;
  const TierRecord& tier = *s.tier_record;
  nlohmann::json out;
  out["version"] = ACEFIT_VERSION;
  out["build"] = {{"backends", backends_compiled_in()}};
  out["tier"] = s.tier.value;
  out["tier_label"] = tier.label;
  out["gpu_memory_gib"] = s.gpu_memory_gib.value;
  out["devices"] = nlohmann::json::array();
  for (const auto& gpu : context.probes.gpus) out["devices"].push_back(device_json(gpu));
  out["host"] = device_json(context.probes.host);
  const VulkanListing vulkan = list_vulkan();
  out["vulkan_devices"] = vulkan_listing_json(vulkan, *context.runtime.device);
  if (!vulkan.note.empty()) out["vulkan_note"] = vulkan.note;
  out["run_device"] = s.device.value;
  out["budget_cap_bytes"] = context.runtime.device->budget().cap_bytes();
  out["probes"] = nlohmann::json::array();
  for (const auto& outcome : context.probes.outcomes) {
    out["probes"].push_back({{"api", outcome.api},
                             {"library", outcome.library},
                             {"state", std::string(probe_state_name(outcome.state))},
                             {"detail", outcome.detail},
                             {"device_count", outcome.device_count}});
  }
  out["simulation"] = s.gpu_memory_gib.source == SettingSource::device
                          ? nlohmann::json(nullptr)
                          : nlohmann::json({{"variable", s.gpu_memory_gib.origin},
                                            {"gpu_memory_gib", s.gpu_memory_gib.value}});
  out["lm_models"] = nlohmann::json::array();
  for (const auto& size : tier.lm_models) out["lm_models"].push_back(lm_model_name(size));
  out["recommended_lm"] = tier.recommended_lm ? nlohmann::json(lm_model_name(*tier.recommended_lm))
                                              : nlohmann::json(nullptr);
  out["backend"] = s.backend.value;
  out["allowed_backends"] = tier.allowed_backends;
  out["max_duration_with_lm_s"] = tier.max_duration_with_lm_s;
  out["max_duration_without_lm_s"] = tier.max_duration_without_lm_s;
  out["max_batch_with_lm"] = tier.max_batch_with_lm;
  out["max_batch_without_lm"] = tier.max_batch_without_lm;
  // The limits in effect for generate (no LM yet; on the CPU, from the plan).
  out["max_duration_s"] = s.max_duration_s.value;
  out["max_batch"] = s.max_batch.value;
  out["limits_reason"] = s.max_duration_s.reason;
  out["offload"] = std::string(offload_mode_name(s.offload.value));
  out["quantization"] = s.quantization.value ? nlohmann::json("int8") : nlohmann::json(nullptr);
  out["compile"] = s.compile.value;
  out["init_lm"] = s.init_lm.value;
  out["environment"] = nlohmann::json::object();
  for (const auto& v : variables)
    out["environment"][v.name] = {{"value", v.value}, {"source", v.source}};
  out["recommendations"] = advice;
  out["warnings"] = s.warnings;
  return out;
}

int run_check_gpu(const SettingFlags& flags, bool json) {
  auto context = resolve_from_process(flags);
  if (!context.ok()) {
    return report_error("check-gpu", context.status().message());
  }
  if (json) {
    std::printf("%s\n", check_gpu_json(*context)
                            .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                            .c_str());
  } else {
    const auto variables = variables_in_effect(context->dotenv);
    print_text(*context, variables, recommendations(*context, variables));
  }
  return 0;
}

}  // namespace

nlohmann::json check_gpu_json(const ResolvedContext& context) {
  const auto variables = variables_in_effect(context.dotenv);
  return report_json(context, variables, recommendations(context, variables));
}

void add_check_gpu_command(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand(
      "check-gpu",
      "GPU diagnostic report: build, devices, simulation, tier and limits, variables in effect "
      "and recommendations");
  auto flags = std::make_shared<SettingFlags>();
  auto json = std::make_shared<bool>(false);
  command->add_flag("--json", *json, "Print the report as JSON");
  add_device_flags(*command, *flags);
  command->add_flag("--derived", flags->derived,
                    "Limits from the memory plans of the shipped model for this device's budget "
                    "instead of the tier table's (acefit profile --mode derive)");
  command->callback([flags, json, &exit_code] { exit_code = run_check_gpu(*flags, *json); });
}

}  // namespace acefit::cli
