// A shared library opened at run time (dlopen), closed when the object goes
// away, with typed symbol lookup. The probes use it so that acefit never
// links a vendor library and runs on machines that lack them.
#pragma once

#include <cstring>
#include <string>

namespace acefit {

class SharedLibrary {
 public:
  SharedLibrary() = default;
  ~SharedLibrary() { close(); }
  SharedLibrary(const SharedLibrary&) = delete;
  SharedLibrary& operator=(const SharedLibrary&) = delete;
  SharedLibrary(SharedLibrary&& other) noexcept : handle_(other.handle_) {
    other.handle_ = nullptr;
  }
  SharedLibrary& operator=(SharedLibrary&& other) noexcept;

  // Opens `path` (a path or a soname searched the usual way). On failure the
  // result is not open and `error` holds dlerror()'s text. With
  // `keep_mapped`, closing drops the reference but the code stays mapped
  // (RTLD_NODELETE), for libraries that may leave threads or handlers behind.
  static SharedLibrary open(const std::string& path, std::string& error, bool keep_mapped = false);

  bool is_open() const { return handle_ != nullptr; }
  void close();

  // The address of `name` as a function pointer of type Fn*, or nullptr.
  template <typename Fn>
  Fn* function(const char* name) const {
    void* address = address_of(name);
    Fn* result = nullptr;
    static_assert(sizeof(result) == sizeof(address));
    std::memcpy(&result, &address, sizeof(result));
    return result;
  }

 private:
  explicit SharedLibrary(void* handle) : handle_(handle) {}
  void* address_of(const char* name) const;

  void* handle_ = nullptr;
};

// Resolves a probe's table of functions and remembers the first required
// one that is missing, so the probe can name it.
class SymbolResolver {
 public:
  explicit SymbolResolver(const SharedLibrary& library) : library_(library) {}

  template <typename Fn>
  void required(const char* name, Fn*& out) {
    out = library_.function<Fn>(name);
    if (out == nullptr && missing_.empty()) missing_ = name;
  }
  template <typename Fn>
  void optional(const char* name, Fn*& out) {
    out = library_.function<Fn>(name);
  }

  bool complete() const { return missing_.empty(); }
  const std::string& first_missing() const { return missing_; }

 private:
  const SharedLibrary& library_;
  std::string missing_;
};

}  // namespace acefit
