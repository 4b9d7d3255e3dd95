#include "runtime.h"

#include <cstdio>
#include <cstdlib>

namespace acefit::cli {

EnvLookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Logger stderr_logger(LogLevel min_level) {
  return Logger(
      [](LogLevel level, std::string_view message) {
        std::fprintf(stderr, "acefit %s: %.*s\n", std::string(log_level_name(level)).c_str(),
                     static_cast<int>(message.size()), message.data());
      },
      min_level);
}

Expected<Runtime> open_runtime(std::optional<std::string> cli_device) {
  const EnvLookup environment = process_environment();
  ACEFIT_ASSIGN(DeviceRequest request, device_request_from(environment, std::move(cli_device)));
  return open_runtime_for(request, environment);
}

}  // namespace acefit::cli
