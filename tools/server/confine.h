// Client-given paths confined to a folder (reliability.md API-10, API-11):
// checked component by component, then resolved (symlinks followed) and
// required to stay inside the folder's canonical path. A string-prefix
// test would let "/tmp_evil" pass for the folder "/tmp".
#pragma once

#include <optional>
#include <string>

namespace acefit::server {

// `relative` inside `root`: not empty, at most 1024 bytes, no control
// bytes or backslashes, not absolute, no "", "." or ".." components, and
// the file it names (which must exist) resolves inside `root`. The
// canonical path, or nullopt with `why` set.
std::optional<std::string> confine_path(const std::string& root, const std::string& relative,
                                        std::string& why);

// The canonical form of `path` (realpath), or "" when it does not exist.
std::string canonical_path(const std::string& path);

// True when `path` is `root` or inside it, comparing whole components.
bool path_inside(const std::string& root, const std::string& path);

}  // namespace acefit::server
