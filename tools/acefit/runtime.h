// What every subcommand sets up from the process environment: the thread
// count (ACEFIT_THREADS), the logger and the device (ACEFIT_DEVICE,
// MAX_CUDA_VRAM, ACEFIT_SIM_VRAM_GB). Only the CLI reads the environment.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/log.h"
#include "core/thread_pool.h"
#include "device/device_selection.h"

namespace acefit::cli {

EnvLookup process_environment();

// ACEFIT_THREADS, or every hardware thread; warns about a bad value.
int thread_count(std::vector<std::string>& warnings);

Logger stderr_logger(LogLevel min_level = LogLevel::info);

struct Runtime {
  std::unique_ptr<ThreadPool> pool;
  std::shared_ptr<Device> device;
  std::vector<std::string> warnings;
};

// Opens the device named by --device (when given) or the environment.
Expected<Runtime> open_runtime(std::optional<std::string> cli_device);
// Opens the device of a request already made.
Expected<Runtime> open_runtime_for(const DeviceRequest& request);

}  // namespace acefit::cli
