// Checks on text a user hands to acefit (captions, lyrics, prompts) and on
// output file names, done before anything is tokenized or written
// (reliability spec TX-01, TX-03, TX-04, TX-06, TX-09, OUT-13). The rules:
//   - at most `max_bytes` bytes, checked first: too_long names the field, its
//     size and the maximum (TX-04);
//   - valid UTF-8: the error names the field and the byte offset (TX-01);
//   - no control characters except tab, LF and CR: C0 (U+0000..U+001F, so
//     NUL and the ESC that starts an ANSI escape sequence), DEL (U+007F) and
//     C1 (U+0080..U+009F) are rejected with their offset, never stripped or
//     truncated at (TX-03);
//   - nothing else changes: a BOM, CRLF line ends, NFD forms and bracketed
//     [section] tags go to the tokenizer as written, which NFC-normalises and
//     encodes them exactly as the reference tokenizer does (TX-09). Empty
//     text is valid and tokenizes to no ids (TX-06).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"

namespace acefit {

// Limits for the text fields of a generation request.
inline constexpr std::size_t kMaxCaptionBytes = 64 * 1024;
inline constexpr std::size_t kMaxLyricsBytes = 256 * 1024;

// ok, or invalid_argument "<field>: <rule>: <details>" with <rule> one of
// too_long, invalid_utf8, control_character.
Status check_text_field(std::string_view field, std::string_view text, std::size_t max_bytes);

// `text` as an error message may quote it: printable ASCII kept, every
// other byte (control characters, DEL, non-ASCII) and the quotes and
// backslash as \xNN, cut at max_bytes of the original with "...".
std::string printable_text(std::string_view text, std::size_t max_bytes = 80);

// An output file name as a client may choose it (OUT-13): 1 to 255 bytes of
// UTF-8, no '/', no NUL or other control character, not "." or "..", and not
// starting with the hidden prefix of acefit's temp files.
Status check_output_name(std::string_view name);

}  // namespace acefit
