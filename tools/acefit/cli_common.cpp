#include "cli_common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "io/json/strict_json.h"

namespace acefit::cli {

namespace {

void report(std::string_view command, std::string_view kind, std::string_view message) {
  const std::string prefix = command.empty() ? "acefit" : "acefit " + std::string(command);
  std::fprintf(stderr, "%s: %.*s: %.*s\n", prefix.c_str(), static_cast<int>(kind.size()),
               kind.data(), static_cast<int>(message.size()), message.data());
}

}  // namespace

int exit_code_for(const Status& status) {
  return status.code() == ErrorCode::invalid_argument || status.code() == ErrorCode::not_found
             ? kExitBadInput
             : kExitRunFailed;
}

int report_error(std::string_view command, std::string_view message, int code) {
  report(command, "error", message);
  return code;
}

void report_warning(std::string_view command, std::string_view message) {
  report(command, "warning", message);
}

namespace {

std::string file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

Status refuse(std::string_view what, const std::string& path, const std::string& why) {
  return invalid_argument(std::string(what) + " " + printable(path) + ": " + why);
}

}  // namespace

Expected<std::string> read_bounded_text_file(const std::string& path, std::size_t max_bytes,
                                             std::string_view what) {
  struct stat before {};
  if (::stat(path.c_str(), &before) != 0)
    return refuse(what, path, std::string("cannot read: ") + std::strerror(errno));
  if (!S_ISREG(before.st_mode))
    return refuse(what, path, "is " + file_kind(before.st_mode) + ", not a regular file");
  // O_NONBLOCK: if the path was swapped for a FIFO after stat, open does not wait.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return refuse(what, path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return refuse(what, path, "is not a regular file");
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return refuse(what, path,
                  "too_long: " + std::to_string(st.st_size) + " bytes, the maximum is " +
                      std::to_string(max_bytes) + " bytes");
  }
  std::string text;
  text.resize(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  // One byte more than the limit catches a file that grew after fstat.
  std::string extra(1, '\0');
  while (true) {
    char* target = done < text.size() ? text.data() + done : extra.data();
    const std::size_t want = done < text.size() ? text.size() - done : 1;
    const ssize_t got = ::read(fd, target, want);
    if (got < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      return refuse(what, path, std::string("cannot read: ") + std::strerror(error));
    }
    if (got == 0) break;
    if (done >= text.size()) {
      ::close(fd);
      return refuse(what, path, "changed size while being read");
    }
    done += static_cast<std::size_t>(got);
  }
  ::close(fd);
  text.resize(done);
  return text;
}

}  // namespace acefit::cli
