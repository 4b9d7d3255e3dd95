// Reading a whole small input file (config.json, tier tables, tokenizer
// files, text given with --file) with a size limit, refusing anything that
// is not a regular file before reading a byte: a FIFO, a device or a
// directory is an error at once, never a read that blocks or runs forever.
#pragma once

#include <cstddef>
#include <string>

#include "core/status.h"

namespace acefit {

// The bytes of the regular file at `path`, at most `max_bytes` of them.
// `what` names the file's role in messages ("a config", "a tokenizer file").
// Errors: not_found (missing), invalid_argument ("PATH is not a regular file
// (a FIFO)"), corrupt ("PATH: N bytes is larger than the M bytes WHAT may
// have"; also when the file grows past the limit while being read), io.
// The path is stat()ed, opened with O_NONBLOCK and the open descriptor
// fstat()ed again, so a file swapped for a FIFO in between cannot block.
Expected<std::string> read_regular_file(const std::string& path, std::size_t max_bytes,
                                        const std::string& what);

// "a FIFO", "a directory", "a character device", ... for a st_mode.
std::string file_kind_name(unsigned mode);

}  // namespace acefit
