#include "runtime.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "ops/cpu/blas.h"

namespace acefit::cli {

EnvLookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

int thread_count(std::vector<std::string>& warnings) {
  const auto raw = process_environment()("ACEFIT_THREADS");
  if (!raw || raw->empty()) return ThreadPool::hardware_threads();
  int n = 0;
  const auto [ptr, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), n);
  if (ec != std::errc() || ptr != raw->data() + raw->size() || n < 1 || n > 1024) {
    warnings.push_back("Invalid ACEFIT_THREADS value: " + *raw + " (expected 1..1024), using " +
                       std::to_string(ThreadPool::hardware_threads()));
    return ThreadPool::hardware_threads();
  }
  return n;
}

Logger stderr_logger(LogLevel min_level) {
  return Logger(
      [](LogLevel level, std::string_view message) {
        std::fprintf(stderr, "acefit %s: %.*s\n", std::string(log_level_name(level)).c_str(),
                     static_cast<int>(message.size()), message.data());
      },
      min_level);
}

Expected<Runtime> open_runtime_for(const DeviceRequest& request) {
  Runtime runtime;
  const int threads = thread_count(runtime.warnings);
  runtime.pool = std::make_unique<ThreadPool>(threads);
  cpu::blas_set_threads(threads);
  ACEFIT_ASSIGN(runtime.device, open_device(request, runtime.warnings));
  return runtime;
}

Expected<Runtime> open_runtime(std::optional<std::string> cli_device) {
  ACEFIT_ASSIGN(DeviceRequest request,
                device_request_from(process_environment(), std::move(cli_device)));
  return open_runtime_for(request);
}

}  // namespace acefit::cli
