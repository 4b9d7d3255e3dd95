#include "adapt/probe/shared_library.h"

#include <dlfcn.h>

namespace acefit {

SharedLibrary& SharedLibrary::operator=(SharedLibrary&& other) noexcept {
  if (this != &other) {
    close();
    handle_ = other.handle_;
    other.handle_ = nullptr;
  }
  return *this;
}

SharedLibrary SharedLibrary::open(const std::string& path, std::string& error, bool keep_mapped) {
  dlerror();  // clear an earlier message
  const int flags = RTLD_NOW | RTLD_LOCAL | (keep_mapped ? RTLD_NODELETE : 0);
  void* handle = dlopen(path.c_str(), flags);
  if (handle == nullptr) {
    const char* message = dlerror();
    error = message != nullptr ? message : "dlopen failed";
    // The path is what a reader needs; dlerror() usually has it, make sure.
    if (error.find(path) == std::string::npos) error = path + ": " + error;
    return SharedLibrary();
  }
  error.clear();
  return SharedLibrary(handle);
}

void SharedLibrary::close() {
  if (handle_ != nullptr) dlclose(handle_);
  handle_ = nullptr;
}

void* SharedLibrary::address_of(const char* name) const {
  if (handle_ == nullptr || name == nullptr) return nullptr;
  return dlsym(handle_, name);
}

}  // namespace acefit
