// What every subcommand sets up from the process environment: the thread
// count (ACEFIT_THREADS), the logger and the device (ACEFIT_DEVICE,
// MAX_CUDA_VRAM, ACEFIT_SIM_VRAM_GB). Only the CLI reads the environment;
// the library gets it through an EnvLookup (engine/runtime.h).
#pragma once

#include <optional>
#include <string>

#include "core/log.h"
#include "engine/runtime.h"

namespace acefit::cli {

EnvLookup process_environment();

Logger stderr_logger(LogLevel min_level = LogLevel::info);

// Opens the device named by --device (when given) or the environment.
Expected<Runtime> open_runtime(std::optional<std::string> cli_device);

}  // namespace acefit::cli
