// The setting flags every generating subcommand shares, built from the one
// option table (src/adapt/options.h), and the path from the process (.env,
// environment, flags, probes, the opened device) to effective settings.
#pragma once

#include <map>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "adapt/probe/device_probe.h"
#include "adapt/settings.h"
#include "adapt/tier_table.h"
#include "engine/resolve.h"
#include "io/text/dotenv.h"
#include "runtime.h"

namespace acefit::cli {

struct SettingFlags {
  std::map<std::string, std::string> values;  // setting -> text, for the flags given
  std::optional<std::string> tier_table_path;
  // The run uses the 5 Hz LM (--thinking, --cot): the tier's "with LM"
  // limits and LM rules apply.
  bool lm_in_pipeline = false;
  // check-gpu / config --derived: the limits the plans give for this
  // device's budget instead of the tier table's.
  bool derived = false;
};

void add_setting_flags(CLI::App& command, SettingFlags& flags);
// Only --device and --tier-table (for reports that take no settings).
void add_device_flags(CLI::App& command, SettingFlags& flags);

// Reads .env from the working folder, opens the device, runs the probes,
// loads the tier table and resolves the settings of the flags given
// (engine/resolve.h).
Expected<ResolvedContext> resolve_from_process(const SettingFlags& flags);

}  // namespace acefit::cli
