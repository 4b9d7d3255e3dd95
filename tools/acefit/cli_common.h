// What every subcommand shares for talking to the user: one error format
// ("acefit CMD: error: ..."), one warning format ("acefit CMD: warning:
// ..."), the exit codes (2 for bad input, 1 for a failed run), and a
// bounded read of a regular text file for the --*-file flags.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"

namespace acefit::cli {

inline constexpr int kExitBadInput = 2;
inline constexpr int kExitRunFailed = 1;

// 2 when a status says the input was wrong (invalid_argument, not_found),
// else 1 (the run failed: corrupt files, out of memory, I/O, ...).
int exit_code_for(const Status& status);

// Prints "acefit COMMAND: error: MESSAGE" on stderr and returns `code`.
int report_error(std::string_view command, std::string_view message, int code = kExitBadInput);
// Prints "acefit COMMAND: warning: MESSAGE" on stderr.
void report_warning(std::string_view command, std::string_view message);

// The whole of a regular file of at most `max_bytes` bytes. A FIFO, a
// device, a folder or a missing file is refused without blocking (the file
// is opened with O_NONBLOCK and checked with fstat); a larger file is
// refused before it is read. Errors name `what` (the flag) and the path.
Expected<std::string> read_bounded_text_file(const std::string& path, std::size_t max_bytes,
                                             std::string_view what);

}  // namespace acefit::cli
