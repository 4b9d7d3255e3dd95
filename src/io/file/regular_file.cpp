#include "io/file/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

namespace acefit {

namespace {

std::string errno_text(int error) {
  return std::strerror(error);
}

std::string size_text(std::size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) {
    return std::to_string(bytes >> 20) + " MiB";
  }
  return std::to_string(bytes) + " bytes";
}

Status too_large(const std::string& path, const std::string& size, std::size_t max_bytes,
                 const std::string& what) {
  return Status(ErrorCode::corrupt, path + ": " + size + " is larger than the " +
                                        size_text(max_bytes) + " " + what + " may have");
}

Status not_regular(const std::string& path, unsigned mode) {
  return Status(ErrorCode::invalid_argument,
                path + " is not a regular file (" + file_kind_name(mode) + ")");
}

class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::string file_kind_name(unsigned mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISREG(mode)) return "a regular file";
  return "an unknown kind of file";
}

Expected<std::string> read_regular_file(const std::string& path, std::size_t max_bytes,
                                        const std::string& what) {
  struct stat before {};
  if (::stat(path.c_str(), &before) != 0) {
    const int error = errno;
    return Status(error == ENOENT || error == ENOTDIR ? ErrorCode::not_found : ErrorCode::io,
                  path + ": cannot open (" + errno_text(error) + ")");
  }
  if (!S_ISREG(before.st_mode)) return not_regular(path, before.st_mode);
  if (static_cast<std::uint64_t>(before.st_size) > max_bytes) {
    return too_large(path, std::to_string(before.st_size) + " bytes", max_bytes, what);
  }
  // O_NONBLOCK: a FIFO swapped in after the stat() must not block the open.
  const Descriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (fd.get() < 0) {
    const int error = errno;
    return Status(error == ENOENT || error == ENOTDIR ? ErrorCode::not_found : ErrorCode::io,
                  path + ": cannot open (" + errno_text(error) + ")");
  }
  struct stat opened {};
  if (::fstat(fd.get(), &opened) != 0) {
    return Status(ErrorCode::io, path + ": fstat failed (" + errno_text(errno) + ")");
  }
  if (!S_ISREG(opened.st_mode)) return not_regular(path, opened.st_mode);
  if (static_cast<std::uint64_t>(opened.st_size) > max_bytes) {
    return too_large(path, std::to_string(opened.st_size) + " bytes", max_bytes, what);
  }
  try {
    // Read up to one byte past the limit: a file that grew is refused too.
    std::string text(static_cast<std::size_t>(opened.st_size), '\0');
    std::size_t filled = 0;
    while (true) {
      if (filled == text.size()) {
        if (text.size() > max_bytes) {
          return too_large(path, "more than " + std::to_string(max_bytes) + " bytes", max_bytes,
                           what);
        }
        text.resize(std::min<std::size_t>(
            max_bytes + 1, std::max<std::size_t>(text.size() * 2, text.size() + 4096)));
      }
      const ssize_t got = ::read(fd.get(), text.data() + filled, text.size() - filled);
      if (got < 0) {
        if (errno == EINTR) continue;
        return Status(ErrorCode::io, path + ": read failed (" + errno_text(errno) + ")");
      }
      if (got == 0) break;
      filled += static_cast<std::size_t>(got);
    }
    text.resize(filled);
    return text;
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, path + ": out of memory reading the file");
  }
}

}  // namespace acefit
