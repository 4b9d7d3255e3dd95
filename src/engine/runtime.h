// What every run sets up: the thread pool (ACEFIT_THREADS, else every
// hardware thread), OpenBLAS's thread count and the device.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/env_lookup.h"
#include "core/thread_pool.h"
#include "device/device_selection.h"

namespace acefit {

struct Runtime {
  std::unique_ptr<ThreadPool> pool;
  std::shared_ptr<Device> device;
  std::vector<std::string> warnings;
};

// ACEFIT_THREADS from `environment`, or every hardware thread; warns about a
// bad value.
int thread_count(const EnvLookup& environment, std::vector<std::string>& warnings);

// Opens the device of a request already made.
Expected<Runtime> open_runtime_for(const DeviceRequest& request, const EnvLookup& environment);

}  // namespace acefit
