#include "io/text/utf8.h"

#include <cstdio>

namespace acefit {

std::string_view utf8_problem_name(Utf8Problem problem) {
  switch (problem) {
    case Utf8Problem::none:
      return "valid";
    case Utf8Problem::stray_continuation:
      return "stray continuation byte";
    case Utf8Problem::invalid_lead:
      return "byte that never occurs in UTF-8";
    case Utf8Problem::overlong:
      return "overlong encoding";
    case Utf8Problem::surrogate:
      return "encoded UTF-16 surrogate";
    case Utf8Problem::above_max:
      return "code point above U+10FFFF";
    case Utf8Problem::truncated:
      return "sequence cut short by the end of the text";
    case Utf8Problem::bad_continuation:
      return "sequence interrupted before its last byte";
  }
  return "unknown";
}

Utf8Char decode_utf8_at(std::string_view text, std::size_t offset) {
  Utf8Char result;
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(text[i]); };
  const std::uint8_t lead = byte(offset);
  if (lead < 0x80) {
    result.code_point = lead;
    result.length = 1;
    return result;
  }
  std::size_t length = 0;
  char32_t value = 0;
  if (lead < 0xC0) {
    result.problem = Utf8Problem::stray_continuation;
    return result;
  } else if (lead < 0xC2) {
    result.problem = Utf8Problem::overlong;  // C0 and C1 only start overlong 2-byte forms
    return result;
  } else if (lead < 0xE0) {
    length = 2;
    value = lead & 0x1F;
  } else if (lead < 0xF0) {
    length = 3;
    value = lead & 0x0F;
  } else if (lead < 0xF5) {
    length = 4;
    value = lead & 0x07;
  } else {
    result.problem = lead <= 0xF7 ? Utf8Problem::above_max : Utf8Problem::invalid_lead;
    return result;
  }
  for (std::size_t i = 1; i < length; ++i) {
    if (offset + i >= text.size()) {
      result.problem = Utf8Problem::truncated;
      return result;
    }
    const std::uint8_t next = byte(offset + i);
    if ((next & 0xC0) != 0x80) {
      result.problem = Utf8Problem::bad_continuation;
      return result;
    }
    value = (value << 6) | (next & 0x3F);
  }
  if ((length == 3 && value < 0x800) || (length == 4 && value < 0x10000)) {
    result.problem = Utf8Problem::overlong;
  } else if (value >= 0xD800 && value <= 0xDFFF) {
    result.problem = Utf8Problem::surrogate;
  } else if (value > 0x10FFFF) {
    result.problem = Utf8Problem::above_max;
  } else {
    result.code_point = value;
    result.length = length;
  }
  return result;
}

Utf8Check check_utf8(std::string_view text) {
  std::size_t offset = 0;
  while (offset < text.size()) {
    // ASCII fast path, eight bytes at a time.
    while (offset + 8 <= text.size()) {
      std::uint64_t word = 0;
      for (int i = 0; i < 8; ++i) {
        word |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(text[offset + i])) << (8 * i);
      }
      if (word & 0x8080808080808080ull) break;
      offset += 8;
    }
    if (offset >= text.size()) break;
    const Utf8Char decoded = decode_utf8_at(text, offset);
    if (decoded.length == 0) return {offset, decoded.problem};
    offset += decoded.length;
  }
  return {};
}

Status validate_utf8(std::string_view text, std::string_view field) {
  const Utf8Check check = check_utf8(text);
  if (check.ok()) return {};
  std::string bytes;
  for (std::size_t i = check.offset; i < text.size() && i < check.offset + 4; ++i) {
    char hex[4];
    std::snprintf(hex, sizeof hex, "%02X",
                  static_cast<unsigned>(static_cast<std::uint8_t>(text[i])));
    if (!bytes.empty()) bytes += ' ';
    bytes += hex;
  }
  return invalid_argument(std::string(field) + ": invalid UTF-8 at byte offset " +
                          std::to_string(check.offset) + ": " +
                          std::string(utf8_problem_name(check.problem)) + " (bytes " + bytes + ")");
}

bool append_utf8(std::string& out, char32_t code_point) {
  if ((code_point >= 0xD800 && code_point <= 0xDFFF) || code_point > 0x10FFFF) {
    out += "\xEF\xBF\xBD";
    return false;
  }
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
  return true;
}

Expected<std::u32string> decode_utf8(std::string_view text, std::string_view field) {
  ACEFIT_TRY(validate_utf8(text, field));
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t offset = 0; offset < text.size();) {
    const Utf8Char decoded = decode_utf8_at(text, offset);
    out += decoded.code_point;
    offset += decoded.length;
  }
  return out;
}

Expected<std::string> encode_utf8(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (std::size_t i = 0; i < code_points.size(); ++i) {
    if (!append_utf8(out, code_points[i])) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(code_points[i]));
      return invalid_argument("cannot encode " + std::string(hex) + " at index " +
                              std::to_string(i) + " as UTF-8");
    }
  }
  return out;
}

bool is_unicode_white_space(char32_t c) {
  if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
  switch (c) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

}  // namespace acefit

namespace acefit {

std::string sanitize_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t offset = 0;
  while (offset < text.size()) {
    const Utf8Char ch = decode_utf8_at(text, offset);
    if (ch.length == 0) {
      append_utf8(out, 0xFFFD);
      ++offset;
      continue;
    }
    out.append(text.substr(offset, ch.length));
    offset += ch.length;
  }
  return out;
}

}  // namespace acefit
