// Logging through a callback owned by whoever owns the engine. There is no
// global logger: code that logs is handed a Logger.
#pragma once

#include <functional>
#include <string_view>

namespace acefit {

enum class LogLevel : int { debug = 0, info, warning, error };

std::string_view log_level_name(LogLevel level);

using LogSink = std::function<void(LogLevel, std::string_view)>;

class Logger {
 public:
  Logger() = default;  // discards everything
  Logger(LogSink sink, LogLevel min_level) : sink_(std::move(sink)), min_level_(min_level) {}

  void log(LogLevel level, std::string_view message) const {
    if (sink_ && level >= min_level_) sink_(level, message);
  }
  void debug(std::string_view m) const { log(LogLevel::debug, m); }
  void info(std::string_view m) const { log(LogLevel::info, m); }
  void warning(std::string_view m) const { log(LogLevel::warning, m); }
  void error(std::string_view m) const { log(LogLevel::error, m); }

 private:
  LogSink sink_;
  LogLevel min_level_ = LogLevel::info;
};

}  // namespace acefit
