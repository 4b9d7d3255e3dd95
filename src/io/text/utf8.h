// UTF-8 for text that reaches the tokenizer and the CLI: strict validation
// (RFC 3629: no stray continuation bytes, no overlong forms, no encoded
// surrogates, nothing above U+10FFFF, no sequence cut short) with errors that
// name the field and the byte offset, and small decode/encode helpers. Invalid
// text is always reported, never replaced.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace acefit {

// Why a byte sequence is not UTF-8.
enum class Utf8Problem {
  none,
  stray_continuation,  // 0x80..0xBF where a sequence should start
  invalid_lead,        // 0xC0, 0xC1 or 0xF5..0xFF
  overlong,            // a code point encoded in more bytes than it needs
  surrogate,           // U+D800..U+DFFF
  above_max,           // above U+10FFFF
  truncated,           // the text ends inside a sequence
  bad_continuation,    // a sequence interrupted by a byte that is not 0x80..0xBF
};

std::string_view utf8_problem_name(Utf8Problem problem);

// One decoded code point: its value and how many bytes it took (1..4), or
// length 0 and the problem when the bytes at that offset are not UTF-8.
struct Utf8Char {
  char32_t code_point = 0;
  std::size_t length = 0;
  Utf8Problem problem = Utf8Problem::none;
};

// text with each byte that does not start a UTF-8 sequence replaced by
// U+FFFD (as Hugging Face decodes a token list cut inside a character).
std::string sanitize_utf8(std::string_view text);

// Decodes the code point that starts at text[offset] (offset < text.size()).
Utf8Char decode_utf8_at(std::string_view text, std::size_t offset);

// The first malformed sequence in text: its byte offset and the problem, or
// offset = npos and Utf8Problem::none when the whole text is UTF-8.
struct Utf8Check {
  std::size_t offset = std::string_view::npos;
  Utf8Problem problem = Utf8Problem::none;
  bool ok() const { return problem == Utf8Problem::none; }
};
Utf8Check check_utf8(std::string_view text);

// ok, or invalid_argument "<field>: invalid UTF-8 at byte offset N: <problem>
// (bytes XX XX ...)".
Status validate_utf8(std::string_view text, std::string_view field);

// Appends the UTF-8 form of code_point. Surrogates and values above U+10FFFF
// are not encodable: they append U+FFFD and return false.
bool append_utf8(std::string& out, char32_t code_point);

// Decodes valid UTF-8 into code points (invalid_argument as validate_utf8).
Expected<std::u32string> decode_utf8(std::string_view text, std::string_view field);

// Encodes code points; fails on a surrogate or a value above U+10FFFF.
Expected<std::string> encode_utf8(std::u32string_view code_points);

// Unicode White_Space (the property Rust's char::is_whitespace and regex \s use).
bool is_unicode_white_space(char32_t code_point);

}  // namespace acefit
