#include "settings_cli.h"

#include <algorithm>
#include <set>

#include "adapt/gpu_selection.h"
#include "adapt/options.h"
#include "device/cpu/cpu_device.h"
#include "device/host_memory.h"
#include "pipeline/memory_plan.h"
#include "profile/derive.h"
#include "request_cli.h"

namespace acefit::cli {

namespace {

std::string help_of(const OptionSpec& option) {
  std::string help = std::string(option.help);
  std::string variables;
  for (const auto& row : option_table()) {
    if (row.setting == option.setting && !row.env.empty()) {
      variables += (variables.empty() ? "" : ", ") + std::string(row.env);
    }
  }
  if (!option.default_text.empty()) help += " [default: " + std::string(option.default_text) + "]";
  if (!variables.empty()) help += " [env: " + variables + "]";
  return help;
}

void add_flag(CLI::App& command, SettingFlags& flags, const OptionSpec& option) {
  const std::string setting(option.setting);
  if (option.setting == "force") {
    command.add_flag_callback(
        "--force", [&flags] { flags.values["force"] = "true"; }, std::string(option.help));
    return;
  }
  // true|false options may be given bare: --compile means --compile true.
  // (Not through default_str, which --help would show as if it were the
  // default.)
  const std::string_view values = option.values;
  const bool bare_means_true = values == "true|false" || values == "auto|true|false";
  auto* added = command.add_option_function<std::string>(
      std::string(option.flag),
      [&flags, setting, bare_means_true](const std::string& value) {
        flags.values[setting] = value.empty() && bare_means_true ? "true" : value;
      },
      help_of(option));
  added->type_name(std::string(option.values));
  if (bare_means_true) added->expected(0, 1);
  keep_text(added);
}

}  // namespace

Expected<HostLimits> plan_host_limits(ThreadPool& pool, std::uint64_t available_bytes) {
  return profile::derive_host_limits(pool, available_bytes);
}

namespace {

// --derived: one tier holding what the plans of the shipped model allow in
// this device's budget (its cap, and on a GPU no more than what is free).
Expected<TierTable> derived_table_for(const Runtime& runtime) {
  profile::DeriveOptions options;
  options.base.preset = SyntheticPreset::full;
  options.base.tokenizer_dir = default_tokenizer_dir();
  options.like = runtime.device;
  options.pool = runtime.pool.get();
  for (const std::string_view size : kLmSizes) options.lm_folders.push_back(lm_model_name(size));
  ACEFIT_ASSIGN(profile::Deriver deriver, profile::Deriver::create(options));
  const std::uint64_t budget = device_budget_bytes(*runtime.device);
  ACEFIT_ASSIGN(const profile::DerivedLimits limits, deriver.limits(budget));
  const std::string label = "derived for " + gib_text(static_cast<double>(budget) / (1ull << 30)) +
                            " GiB of budget" + (limits.fits ? "" : ": nothing fits");
  TierTable table;
  table.origin = "derived from plans (acefit profile --mode derive)";
  table.tiers.push_back(profile::tier_from_limits("derived", label, 0, limits));
  return table;
}

}  // namespace

constexpr const char* kTierTableHelp =
    "The tier table: guide (the GPU Compatibility Guide's, built in), upstream (upstream's "
    "current gpu_config.py values, built in) or a JSON file [default: guide]";

void add_setting_flags(CLI::App& command, SettingFlags& flags) {
  std::set<std::string_view> seen;
  for (const auto& option : option_table()) {
    if (option.flag.empty() || !seen.insert(option.flag).second) continue;
    add_flag(command, flags, option);
  }
  keep_text(command.add_option("--tier-table", flags.tier_table_path, kTierTableHelp));
}

void add_device_flags(CLI::App& command, SettingFlags& flags) {
  for (const auto& option : option_table()) {
    if (option.flag == "--device" || option.flag == "--tier") {
      add_flag(command, flags, option);
    }
  }
  keep_text(command.add_option("--tier-table", flags.tier_table_path, kTierTableHelp));
}

Expected<ResolvedContext> resolve_from_process(const SettingFlags& flags) {
  ResolvedContext context;
  ACEFIT_ASSIGN(context.dotenv, load_dotenv("."));
  const EnvLookup environment = process_environment();
  // The environment wins over .env wherever acefit reads a variable.
  const DotEnv* dotenv = &context.dotenv;
  const EnvLookup layered = [environment, dotenv](std::string_view name) {
    auto value = environment(name);
    return value ? value : dotenv->get(name);
  };
  std::optional<std::string> cli_device;
  if (const auto it = flags.values.find("device"); it != flags.values.end())
    cli_device = it->second;
  ACEFIT_ASSIGN(context.request, device_request_from(layered, cli_device));
  ACEFIT_ASSIGN(context.runtime, open_runtime_for(context.request));
  context.probes = probe_devices(layered);
  if (flags.tier_table_path) {
    ACEFIT_ASSIGN(context.table, tier_table_by_name_or_path(*flags.tier_table_path));
  } else {
    ACEFIT_ASSIGN(context.table, default_tier_table());
  }
  if (flags.derived) {
    if (context.runtime.device->kind() == DeviceKind::cpu) {
      context.dotenv.warnings.push_back(
          "--derived: no GPU here; the CPU's limits already come from plans against its RAM");
    } else {
      ACEFIT_ASSIGN(context.table, derived_table_for(context.runtime));
    }
  }
  context.gpu = select_gpu(context.probes, context.request, *context.runtime.device);
  SettingsInput input;
  input.gpu = context.gpu;
  input.run_device = run_device_label(*context.runtime.device, context.request);
  input.table = &context.table;
  input.dotenv = &context.dotenv;
  input.environment = environment;
  input.command_line = flags.values;
  input.lm_in_pipeline = flags.lm_in_pipeline;
  input.limits_from_plans = flags.derived && context.runtime.device->kind() != DeviceKind::cpu;
  ACEFIT_ASSIGN(context.settings, resolve_settings(input));
  if (context.settings.no_gpu_tier) {
    // CPU, no GPU tier: the limits from the plan against the available RAM.
    const std::uint64_t available = context.probes.host.free_bytes.value_or(host_available_bytes());
    ACEFIT_ASSIGN(input.host_limits, plan_host_limits(*context.runtime.pool, available));
    ACEFIT_ASSIGN(context.settings, resolve_settings(input));
  }
  // Warnings in the order they arose: .env, device, then settings; the
  // device layer and the settings both see MAX_CUDA_VRAM, say it once.
  std::vector<std::string> warnings = context.dotenv.warnings;
  warnings.insert(warnings.end(), context.runtime.warnings.begin(), context.runtime.warnings.end());
  for (auto& warning : context.settings.warnings) {
    if (std::find(warnings.begin(), warnings.end(), warning) == warnings.end()) {
      warnings.push_back(std::move(warning));
    }
  }
  context.settings.warnings = std::move(warnings);
  return context;
}

}  // namespace acefit::cli
