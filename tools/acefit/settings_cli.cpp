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
  ContextOptions options;
  options.environment = process_environment();
  if (const auto it = flags.values.find("device"); it != flags.values.end())
    options.device = it->second;
  options.tier_table_path = flags.tier_table_path;
  options.derived = flags.derived;
  options.tokenizer_dir = default_tokenizer_dir();
  ACEFIT_ASSIGN(ResolvedContext context, open_context(options));
  ACEFIT_TRY(resolve_settings_for(context, flags.values, flags.lm_in_pipeline).status());
  return context;
}

}  // namespace acefit::cli
