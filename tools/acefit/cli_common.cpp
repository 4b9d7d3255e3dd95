#include "cli_common.h"

#include <cstdio>

#include "io/file/regular_file.h"

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

Expected<std::string> read_bounded_text_file(const std::string& path, std::size_t max_bytes,
                                             std::string_view what) {
  // The same bounded reader as every input file (io/file/regular_file.h):
  // a FIFO, device or folder is refused before a byte is read.
  auto text = read_regular_file(path, max_bytes, "the text of " + std::string(what));
  if (!text.ok()) return invalid_argument(std::string(what) + ": " + text.status().message());
  return text;
}

}  // namespace acefit::cli
