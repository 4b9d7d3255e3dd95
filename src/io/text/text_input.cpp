#include "io/text/text_input.h"

#include <cstdio>

#include "io/file/atomic_file.h"
#include "io/text/utf8.h"

namespace acefit {

namespace {

bool is_control(char32_t c) {
  return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f);
}

std::string code_point_text(char32_t c) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "U+%04X", static_cast<unsigned>(c));
  return buffer;
}

// The first control character other than tab, LF and CR in valid UTF-8.
Status check_controls(std::string_view field, std::string_view text, bool allow_line_breaks) {
  for (std::size_t offset = 0; offset < text.size();) {
    const Utf8Char c = decode_utf8_at(text, offset);
    if (c.length == 0) return Status(ErrorCode::internal, "text checked as UTF-8 is not UTF-8");
    const bool allowed_break =
        allow_line_breaks && (c.code_point == '\t' || c.code_point == '\n' || c.code_point == '\r');
    if (is_control(c.code_point) && !allowed_break) {
      return invalid_argument(std::string(field) +
                              ": control_character: " + code_point_text(c.code_point) +
                              " at byte offset " + std::to_string(offset) +
                              " (control characters other than tab, LF and CR are not accepted)");
    }
    offset += c.length;
  }
  return Status();
}

}  // namespace

Status check_text_field(std::string_view field, std::string_view text, std::size_t max_bytes) {
  if (text.size() > max_bytes) {
    return invalid_argument(std::string(field) + ": too_long: " + std::to_string(text.size()) +
                            " bytes, the maximum is " + std::to_string(max_bytes) + " bytes");
  }
  if (const Utf8Check check = check_utf8(text); !check.ok()) {
    return invalid_argument(std::string(field) + ": invalid_utf8: at byte offset " +
                            std::to_string(check.offset) + ": " +
                            std::string(utf8_problem_name(check.problem)));
  }
  return check_controls(field, text, true);
}

Status check_output_name(std::string_view name) {
  if (name.empty() || name.size() > 255) {
    return invalid_argument("output name: must be 1 to 255 bytes, not " +
                            std::to_string(name.size()));
  }
  if (name == "." || name == "..")
    return invalid_argument("output name: \".\" and \"..\" are folders");
  if (name.find('/') != std::string_view::npos) {
    return invalid_argument("output name: must not contain '/'");
  }
  if (name.substr(0, std::string_view(kAtomicTempPrefix).size()) == kAtomicTempPrefix) {
    return invalid_argument(std::string("output name: must not start with ") + kAtomicTempPrefix);
  }
  if (const Utf8Check check = check_utf8(name); !check.ok()) {
    return invalid_argument("output name: invalid_utf8: at byte offset " +
                            std::to_string(check.offset));
  }
  return check_controls("output name", name, false);
}

std::string printable_text(std::string_view text, std::size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < max_bytes; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\'' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  if (text.size() > max_bytes) out += "...";
  return out;
}

}  // namespace acefit
