#include "confine.h"

#include <climits>
#include <cstdlib>
#include <memory>

namespace acefit::server {

std::string canonical_path(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr),
                                                       &std::free);
  return resolved ? std::string(resolved.get()) : std::string();
}

bool path_inside(const std::string& root, const std::string& path) {
  if (root.empty() || path.empty()) return false;
  if (path == root) return true;
  const std::string prefix = root.back() == '/' ? root : root + "/";
  return path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0;
}

std::optional<std::string> confine_path(const std::string& root, const std::string& relative,
                                        std::string& why) {
  if (relative.empty()) {
    why = "the path is empty";
    return std::nullopt;
  }
  if (relative.size() > 1024) {
    why = "the path is longer than 1024 bytes";
    return std::nullopt;
  }
  for (unsigned char c : relative) {
    if (c < 0x20 || c == 0x7f || c == '\\') {
      why = "the path contains a control character or a backslash";
      return std::nullopt;
    }
  }
  if (relative[0] == '/') {
    why = "absolute paths are not accepted (give a path relative to the input folder)";
    return std::nullopt;
  }
  std::size_t start = 0;
  while (start <= relative.size()) {
    std::size_t end = relative.find('/', start);
    if (end == std::string::npos) end = relative.size();
    const std::string part = relative.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      why = "the path has an empty, '.' or '..' component";
      return std::nullopt;
    }
    start = end + 1;
    if (end == relative.size()) break;
  }
  const std::string canonical_root = canonical_path(root);
  const std::string resolved = canonical_path(root + "/" + relative);
  if (canonical_root.empty() || resolved.empty()) {
    why = "no such file in the input folder";
    return std::nullopt;
  }
  if (!path_inside(canonical_root, resolved) || resolved == canonical_root) {
    why = "the path leads outside the input folder";
    return std::nullopt;
  }
  return resolved;
}

}  // namespace acefit::server
