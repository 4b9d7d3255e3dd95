// Output paths that are not regular files. An existing character device or
// FIFO (and any path that is this process's stdout, such as /dev/stdout) is
// written as a stream: opened without O_CREAT or O_TRUNC and never replaced
// by a regular file. Sockets and block devices are refused, and so is a
// regular file under /dev or /proc (a rename there could replace a node the
// system needs).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/status.h"

namespace acefit {

enum class OutputPathKind {
  file,     // a regular file or a new name: written atomically
  stream,   // a character device, a FIFO, or this process's stdout
  folder,   // an existing folder: refused
  refused,  // a socket, a block device, a regular file under /dev or /proc
};

struct OutputPathInfo {
  OutputPathKind kind = OutputPathKind::file;
  bool is_stdout = false;  // the same file as this process's stdout
  std::string reason;      // for refused: why
};

// Looks at `path` (following symlinks) without opening it.
OutputPathInfo classify_output_path(const std::string& path);

// Opens a stream output for writing: a dup of stdout when `is_stdout`,
// else the path with O_WRONLY (blocks until a FIFO has a reader) and checks
// it is still a character device or FIFO. Returns the descriptor.
Expected<int> open_output_stream(const std::string& path, bool is_stdout);

// Writes all bytes to `fd` (retries short writes and EINTR).
Status write_fd_fully(int fd, std::span<const std::uint8_t> bytes, const std::string& path);

}  // namespace acefit
