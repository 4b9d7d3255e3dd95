#include "core/status.h"

#include <cstdio>

namespace acefit {

std::optional<MemoryTag> parse_memory_tag(std::string_view name) {
  for (MemoryTag tag : kAllMemoryTags) {
    if (memory_tag_name(tag) == name) return tag;
  }
  return std::nullopt;
}

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::ok:
      return "ok";
    case ErrorCode::invalid_argument:
      return "invalid_argument";
    case ErrorCode::not_found:
      return "not_found";
    case ErrorCode::out_of_memory:
      return "out_of_memory";
    case ErrorCode::corrupt:
      return "corrupt";
    case ErrorCode::unsupported:
      return "unsupported";
    case ErrorCode::cancelled:
      return "cancelled";
    case ErrorCode::io:
      return "io";
    case ErrorCode::internal:
      return "internal";
  }
  return "unknown";
}

Status::Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

static std::string format_mib(std::uint64_t bytes) {
  char text[64];
  std::snprintf(text, sizeof text, "%.2f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

Status Status::out_of_memory(OutOfMemoryInfo info, std::string_view context) {
  std::string message;
  if (!context.empty()) {
    message.append(context);
    message.append(": ");
  }
  message += "device '" + info.device + "' cannot allocate " +
             std::to_string(info.requested_bytes) + " bytes (" + format_mib(info.requested_bytes) +
             ") for " + std::string(memory_tag_name(info.tag)) + "; " +
             std::to_string(info.used_bytes) + " bytes in use of a " +
             std::to_string(info.cap_bytes) + "-byte cap (" + format_mib(info.cap_bytes) + ")";
  Status status(ErrorCode::out_of_memory, std::move(message));
  status.oom_ = std::move(info);
  return status;
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return std::string(error_code_name(code_)) + ": " + message_;
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return *this;
  Status copy = *this;
  copy.message_ = std::string(context) + ": " + message_;
  return copy;
}

}  // namespace acefit
