// How library code sees the process environment: through a lookup function
// the caller passes in, so nothing below the CLI reads getenv itself and
// tests can hand in any environment they like.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace acefit {

using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;

}  // namespace acefit
