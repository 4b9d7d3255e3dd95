#include "io/file/output_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/file/atomic_file.h"

namespace acefit {

namespace {

bool starts_with(const std::string& text, const char* prefix) {
  return text.rfind(prefix, 0) == 0;
}

}  // namespace

OutputPathInfo classify_output_path(const std::string& path) {
  OutputPathInfo info;
  struct stat target {};
  if (::stat(path.c_str(), &target) != 0) return info;  // new (or unreachable): a file
  struct stat out {};
  if (::fstat(1, &out) == 0 && out.st_dev == target.st_dev && out.st_ino == target.st_ino) {
    info.kind = OutputPathKind::stream;
    info.is_stdout = true;
    return info;
  }
  if (S_ISDIR(target.st_mode)) {
    info.kind = OutputPathKind::folder;
  } else if (S_ISCHR(target.st_mode) || S_ISFIFO(target.st_mode)) {
    info.kind = OutputPathKind::stream;
  } else if (S_ISSOCK(target.st_mode)) {
    info.kind = OutputPathKind::refused;
    info.reason = "it is a socket";
  } else if (S_ISBLK(target.st_mode)) {
    info.kind = OutputPathKind::refused;
    info.reason = "it is a block device";
  } else if (starts_with(path, "/dev/") || starts_with(path, "/proc/")) {
    info.kind = OutputPathKind::refused;
    info.reason = "a file under /dev or /proc is never replaced";
  }
  return info;
}

Expected<int> open_output_stream(const std::string& path, bool is_stdout) {
  if (is_stdout) {
    const int fd = ::fcntl(1, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) {
      const int e = errno;
      return Status(ErrorCode::io, "cannot write '" + path + "': " + describe_io_errno(e));
    }
    return fd;
  }
  int fd = -1;
  do {
    fd = ::open(path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int e = errno;
    return Status(ErrorCode::io, "cannot open '" + path + "' for writing: " + describe_io_errno(e));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !(S_ISCHR(info.st_mode) || S_ISFIFO(info.st_mode))) {
    ::close(fd);
    return Status(ErrorCode::io,
                  "cannot write '" + path + "': it is no longer a character device or FIFO");
  }
  return fd;
}

Status write_fd_fully(int fd, std::span<const std::uint8_t> bytes, const std::string& path) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      return Status(ErrorCode::io, "cannot write '" + path + "': " + describe_io_errno(e));
    }
    if (n == 0) return Status(ErrorCode::io, "cannot write '" + path + "': write made no progress");
    done += static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace acefit
