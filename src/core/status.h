// Status and Expected<T>: how every fallible library call reports failure.
// Library code never aborts or exits; it returns one of these.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/memory_tag.h"

namespace acefit {

enum class ErrorCode : int {
  ok = 0,
  invalid_argument,
  not_found,
  out_of_memory,
  corrupt,
  unsupported,
  cancelled,
  io,
  internal,
};

std::string_view error_code_name(ErrorCode code);

// The facts an out_of_memory failure carries: what was asked, what was
// already in use, the hard cap, which device and for what purpose.
struct OutOfMemoryInfo {
  std::uint64_t requested_bytes = 0;
  std::uint64_t used_bytes = 0;
  std::uint64_t cap_bytes = 0;
  std::string device;
  MemoryTag tag = MemoryTag::activations;
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(ErrorCode code, std::string message);

  static Status ok_status() { return {}; }
  static Status out_of_memory(OutOfMemoryInfo info, std::string_view context = {});

  bool ok() const { return code_ == ErrorCode::ok; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::optional<OutOfMemoryInfo>& oom() const { return oom_; }

  // "code: message", the form printed to users.
  std::string to_string() const;

  // Returns a copy whose message starts with "context: ".
  Status with_context(std::string_view context) const;

 private:
  ErrorCode code_ = ErrorCode::ok;
  std::string message_;
  std::optional<OutOfMemoryInfo> oom_;
};

// Shorthands for the common failure kinds.
inline Status invalid_argument(std::string message) {
  return {ErrorCode::invalid_argument, std::move(message)};
}
inline Status unsupported(std::string message) {
  return {ErrorCode::unsupported, std::move(message)};
}
inline Status internal_error(std::string message) {
  return {ErrorCode::internal, std::move(message)};
}

// Either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : state_(std::move(value)) {}
  Expected(Status status) : state_(std::move(status)) {
    if (std::get<Status>(state_).ok()) {
      state_ = Status(ErrorCode::internal, "Expected constructed from an ok Status");
    }
  }

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  // Precondition: ok().
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &std::get<T>(state_); }
  const T* operator->() const { return &std::get<T>(state_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // The failure, or an ok Status when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(state_); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace acefit

// Propagation helpers. ACEFIT_TRY(expr) returns expr's Status if it failed.
// ACEFIT_ASSIGN(lhs, expr) evaluates an Expected and assigns its value or
// returns its Status.
#define ACEFIT_CONCAT_INNER(a, b) a##b
#define ACEFIT_CONCAT(a, b) ACEFIT_CONCAT_INNER(a, b)

#define ACEFIT_TRY(expr)                                     \
  do {                                                       \
    ::acefit::Status acefit_try_status_ = (expr);            \
    if (!acefit_try_status_.ok()) return acefit_try_status_; \
  } while (0)

#define ACEFIT_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                       \
  if (!tmp.ok()) return tmp.status();      \
  lhs = std::move(tmp).value()

#define ACEFIT_ASSIGN(lhs, expr) \
  ACEFIT_ASSIGN_IMPL(ACEFIT_CONCAT(acefit_expected_, __LINE__), lhs, expr)
