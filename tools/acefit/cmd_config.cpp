// acefit config: the effective settings, each with its value, where it came
// from and, where acefit changed what was asked, the request and the reason.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "commands.h"
#include "settings_cli.h"

namespace acefit::cli {

namespace {

nlohmann::json scalar_json(const SettingScalar& value) {
  if (const bool* b = std::get_if<bool>(&value)) return *b;
  if (const auto* i = std::get_if<std::int64_t>(&value)) return *i;
  if (const double* d = std::get_if<double>(&value)) return *d;
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  return nullptr;
}

int run_config(const SettingFlags& flags, bool json) {
  auto context = resolve_from_process(flags);
  if (!context.ok()) {
    return report_error("config", context.status().message());
  }
  const EffectiveSettings& settings = context->settings;
  const auto views = setting_views(settings);
  if (json) {
    nlohmann::json out;
    out["settings"] = nlohmann::json::object();
    for (const auto& view : views) {
      out["settings"][view.name] = {
          {"value", scalar_json(view.value)},
          {"source", view.source},
          {"origin", view.origin.empty() ? nlohmann::json(nullptr) : nlohmann::json(view.origin)},
          {"requested", view.requested ? nlohmann::json(*view.requested) : nlohmann::json(nullptr)},
          {"reason", view.reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(view.reason)}};
    }
    out["tier_table"] = context->table.origin;
    out["dotenv"] = context->dotenv.path.empty() ? nlohmann::json(nullptr)
                                                 : nlohmann::json(context->dotenv.path);
    out["warnings"] = settings.warnings;
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  std::printf(
      "Effective settings (later sources win: built-in, tier, device < .env < "
      "environment < command line)\n");
  std::printf("  %-22s %-22s %-13s %s\n", "setting", "value", "source", "why");
  for (const auto& view : views) {
    std::string source = view.source;
    if (!view.origin.empty()) source += " " + view.origin;
    std::string why = view.reason;
    if (view.requested) why = "requested " + *view.requested + "; " + why;
    std::printf("  %-22s %-22s %-13s %s\n", view.name.c_str(), scalar_text(view.value).c_str(),
                source.c_str(), why.c_str());
  }
  std::printf("tier table: %s; .env: %s\n", context->table.origin.c_str(),
              context->dotenv.path.empty() ? "none" : context->dotenv.path.c_str());
  for (const auto& warning : settings.warnings) report_warning("config", warning);
  return 0;
}

}  // namespace

void add_config_command(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand(
      "config",
      "Show the effective settings: value, source (built-in, tier, device, .env, environment, "
      "command line), the requested value and the reason where acefit changed it");
  auto flags = std::make_shared<SettingFlags>();
  auto json = std::make_shared<bool>(false);
  command->add_flag("--json", *json,
                    "Print JSON: {\"settings\": {NAME: {value, source, "
                    "requested, reason}}, \"warnings\": [...]}");
  add_setting_flags(*command, *flags);
  command->add_flag("--derived", flags->derived,
                    "Limits from the memory plans of the shipped model for this device's budget "
                    "instead of the tier table's (acefit profile --mode derive)");
  command->callback([flags, json, &exit_code] { exit_code = run_config(*flags, *json); });
}

}  // namespace acefit::cli
