// Each subcommand registers itself on the CLI11 app and reports an exit code
// through `exit_code` when it runs.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "engine/resolve.h"

namespace acefit::cli {

void add_devices_command(CLI::App& app, int& exit_code);
void add_selfcheck_command(CLI::App& app, int& exit_code);
void add_inspect_command(CLI::App& app, int& exit_code);
void add_tokenize_command(CLI::App& app, int& exit_code);
void add_synth_checkpoints_command(CLI::App& app, int& exit_code);
void add_check_gpu_command(CLI::App& app, int& exit_code);
void add_config_command(CLI::App& app, int& exit_code);
void add_generate_command(CLI::App& app, int& exit_code);
void add_plan_command(CLI::App& app, int& exit_code);
void add_profile_command(CLI::App& app, int& exit_code);
void add_serve_command(CLI::App& app, int& exit_code);

// The document `acefit check-gpu --json` prints (GET /v1/gpu serves it).
nlohmann::json check_gpu_json(const ResolvedContext& context);

}  // namespace acefit::cli
