#include "io/json/strict_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
#include <new>

namespace acefit {

namespace {

bool is_json_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string byte_text(unsigned char c) {
  static const char* digits = "0123456789abcdef";
  std::string out = "0x";
  out.push_back(digits[c >> 4]);
  out.push_back(digits[c & 15]);
  if (c >= 0x21 && c < 0x7F) {
    out += " '";
    out.push_back(static_cast<char>(c));
    out += "'";
  }
  return out;
}

}  // namespace

std::size_t utf8_sequence_length(std::string_view text, std::size_t pos) {
  const auto at = [&](std::size_t i) -> int {
    return pos + i < text.size() ? static_cast<unsigned char>(text[pos + i]) : -1;
  };
  const int b0 = at(0);
  if (b0 < 0) return 0;
  if (b0 < 0x80) return 1;
  const auto cont = [&](std::size_t i, int lo, int hi) {
    const int b = at(i);
    return b >= lo && b <= hi;
  };
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1, 0x80, 0xBF) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    const int lo = b0 == 0xE0 ? 0xA0 : 0x80;  // E0 80..9F: overlong
    const int hi = b0 == 0xED ? 0x9F : 0xBF;  // ED A0..BF: surrogates
    return cont(1, lo, hi) && cont(2, 0x80, 0xBF) ? 3 : 0;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    const int lo = b0 == 0xF0 ? 0x90 : 0x80;  // F0 80..8F: overlong
    const int hi = b0 == 0xF4 ? 0x8F : 0xBF;  // F4 90..: above U+10FFFF
    return cont(1, lo, hi) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  }
  return 0;  // C0, C1 (overlong), F5..FF, or a stray continuation byte
}

std::size_t find_invalid_utf8(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t length = utf8_sequence_length(text, pos);
    if (length == 0) return pos;
    pos += length;
  }
  return std::string_view::npos;
}

std::string printable(std::string_view text, std::size_t max_bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (pos >= max_bytes) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(text[pos]);
    std::size_t length = utf8_sequence_length(text, pos);
    const bool c1_control =
        length == 2 && c == 0xC2 && static_cast<unsigned char>(text[pos + 1]) < 0xA0;
    if (c == '\\') {
      out += "\\\\";
    } else if (length > 1 && !c1_control) {
      out.append(text.substr(pos, length));
    } else if (length == 1 && c >= 0x20 && c != 0x7F) {
      out.push_back(static_cast<char>(c));
    } else {
      if (length == 0) length = 1;
      for (std::size_t i = 0; i < length; ++i) {
        const auto b = static_cast<unsigned char>(text[pos + i]);
        out += "\\x";
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 15]);
      }
    }
    pos += length;
  }
  return out;
}

std::string_view json_error_kind_name(JsonErrorKind kind) {
  switch (kind) {
    case JsonErrorKind::not_utf8:
      return "not_utf8";
    case JsonErrorKind::syntax:
      return "syntax";
    case JsonErrorKind::trailing:
      return "trailing_bytes";
    case JsonErrorKind::duplicate_key:
      return "duplicate_key";
    case JsonErrorKind::out_of_memory:
      return "out_of_memory";
  }
  return "unknown";
}

// ---- JsonKeySet ----

void JsonKeySet::rebuild(std::size_t slot_count) {
  slots_.assign(slot_count, 0);
  hashes_.resize(keys_.size());
  const std::size_t mask = slot_count - 1;
  for (std::size_t k = 0; k < keys_.size(); ++k) {
    hashes_[k] = std::hash<std::string_view>{}(keys_[k]);
    std::size_t i = hashes_[k] & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = static_cast<std::uint32_t>(k + 1);
  }
}

bool JsonKeySet::insert(std::string_view key) {
  if (slots_.empty()) {
    for (const std::string_view seen : keys_) {
      if (seen == key) return false;
    }
    keys_.push_back(key);
    if (keys_.size() == kLinearKeys) rebuild(4 * kLinearKeys);
    return true;
  }
  if (keys_.size() >= std::numeric_limits<std::uint32_t>::max() - 1) throw std::bad_alloc();
  if (2 * (keys_.size() + 1) > slots_.size()) rebuild(2 * slots_.size());
  const std::size_t hash = std::hash<std::string_view>{}(key);
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = hash & mask;
  while (slots_[i] != 0) {
    const std::size_t k = slots_[i] - 1;
    if (hashes_[k] == hash && keys_[k] == key) return false;
    i = (i + 1) & mask;
  }
  slots_[i] = static_cast<std::uint32_t>(keys_.size() + 1);
  keys_.push_back(key);
  hashes_.push_back(hash);
  return true;
}

// ---- JsonReader ----

JsonReader::JsonReader(std::string_view text, JsonReaderOptions options)
    : text_(text), options_(options) {}

std::string_view JsonReader::current_object_key() const {
  for (auto it = stack_.rbegin(); it != stack_.rend(); ++it) {
    if (it->is_object) return it->key;
  }
  return {};
}

bool JsonReader::fail(JsonErrorKind kind, std::size_t offset, std::string message) {
  failed_ = true;
  error_.kind = kind;
  error_.offset = offset;
  error_.message = std::move(message);
  return false;
}

bool JsonReader::fail_unexpected(std::size_t offset, std::string_view expected) {
  if (offset >= text_.size()) {
    return fail(JsonErrorKind::syntax, offset,
                "unexpected end of input at byte " + std::to_string(offset) + ", expected " +
                    std::string(expected));
  }
  const auto c = static_cast<unsigned char>(text_[offset]);
  if (c >= 0x80 && utf8_sequence_length(text_, offset) == 0) {
    return fail(JsonErrorKind::not_utf8, offset,
                "byte " + byte_text(c) + " at byte " + std::to_string(offset) +
                    " is not well-formed UTF-8");
  }
  return fail(JsonErrorKind::syntax, offset,
              "unexpected byte " + byte_text(c) + " at byte " + std::to_string(offset) +
                  ", expected " + std::string(expected));
}

void JsonReader::skip_whitespace() {
  while (pos_ < text_.size() && is_json_space(static_cast<unsigned char>(text_[pos_]))) ++pos_;
}

bool JsonReader::read_string(std::string& out) {
  const std::size_t start = pos_;
  out.clear();
  raw_string_valid_ = false;
  bool escaped = false;
  ++pos_;  // opening quote
  while (true) {
    // Copy a run of plain bytes in one go.
    std::size_t run = pos_;
    while (run < text_.size()) {
      const auto c = static_cast<unsigned char>(text_[run]);
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
      ++run;
    }
    out.append(text_.substr(pos_, run - pos_));
    pos_ = run;
    if (pos_ >= text_.size()) {
      return fail(JsonErrorKind::syntax, start,
                  "unterminated string starting at byte " + std::to_string(start));
    }
    const auto c = static_cast<unsigned char>(text_[pos_]);
    if (c == '"') {
      if (!escaped) {
        raw_string_ = text_.substr(start + 1, pos_ - start - 1);
        raw_string_valid_ = true;
      }
      ++pos_;
      return true;
    }
    if (c < 0x20) {
      return fail(JsonErrorKind::syntax, pos_,
                  "raw control character " + byte_text(c) + " inside a string at byte " +
                      std::to_string(pos_) + " (RFC 8259 requires an escape)");
    }
    if (c >= 0x80) {
      const std::size_t length = utf8_sequence_length(text_, pos_);
      if (length == 0) {
        return fail(JsonErrorKind::not_utf8, pos_,
                    "byte " + byte_text(c) + " at byte " + std::to_string(pos_) +
                        " is not well-formed UTF-8 (overlong, surrogate, above U+10FFFF or "
                        "cut short)");
      }
      out.append(text_.substr(pos_, length));
      pos_ += length;
      continue;
    }
    // Escape.
    escaped = true;
    const std::size_t escape_at = pos_;
    if (pos_ + 1 >= text_.size()) {
      return fail(JsonErrorKind::syntax, escape_at,
                  "unterminated string starting at byte " + std::to_string(start));
    }
    const char e = text_[pos_ + 1];
    pos_ += 2;
    switch (e) {
      case '"':
        out.push_back('"');
        continue;
      case '\\':
        out.push_back('\\');
        continue;
      case '/':
        out.push_back('/');
        continue;
      case 'b':
        out.push_back('\b');
        continue;
      case 'f':
        out.push_back('\f');
        continue;
      case 'n':
        out.push_back('\n');
        continue;
      case 'r':
        out.push_back('\r');
        continue;
      case 't':
        out.push_back('\t');
        continue;
      case 'u':
        break;
      default:
        return fail(JsonErrorKind::syntax, escape_at,
                    "invalid escape '\\" + printable(std::string_view(&e, 1)) + "' at byte " +
                        std::to_string(escape_at));
    }
    const auto read_hex4 = [&](std::size_t at, std::uint32_t& value) {
      if (at + 4 > text_.size()) return false;
      value = 0;
      for (std::size_t i = 0; i < 4; ++i) {
        const int h = hex_value(text_[at + i]);
        if (h < 0) return false;
        value = value * 16 + static_cast<std::uint32_t>(h);
      }
      return true;
    };
    std::uint32_t cp = 0;
    if (!read_hex4(pos_, cp)) {
      return fail(
          JsonErrorKind::syntax, escape_at,
          "\\u escape at byte " + std::to_string(escape_at) + " needs four hexadecimal digits");
    }
    pos_ += 4;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
      return fail(JsonErrorKind::syntax, escape_at,
                  "lone low surrogate \\u escape at byte " + std::to_string(escape_at));
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      std::uint32_t low = 0;
      if (pos_ + 2 > text_.size() || text_[pos_] != '\\' || text_[pos_ + 1] != 'u' ||
          !read_hex4(pos_ + 2, low) || low < 0xDC00 || low > 0xDFFF) {
        return fail(JsonErrorKind::syntax, escape_at,
                    "lone high surrogate \\u escape at byte " + std::to_string(escape_at) +
                        " (not followed by a low surrogate)");
      }
      pos_ += 6;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(out, cp);
  }
}

bool JsonReader::read_number(JsonEvent& event) {
  const std::size_t start = pos_;
  const auto digit_at = [&](std::size_t i) {
    return i < text_.size() && text_[i] >= '0' && text_[i] <= '9';
  };
  bool is_integer = true;
  if (text_[pos_] == '-') {
    is_integer = false;
    ++pos_;
  }
  if (!digit_at(pos_)) return fail_unexpected(pos_, "a digit");
  if (text_[pos_] == '0') {
    ++pos_;
    if (digit_at(pos_)) {
      return fail(JsonErrorKind::syntax, start,
                  "number with a leading zero at byte " + std::to_string(start));
    }
  } else {
    while (digit_at(pos_)) ++pos_;
  }
  if (pos_ < text_.size() && text_[pos_] == '.') {
    is_integer = false;
    ++pos_;
    if (!digit_at(pos_)) return fail_unexpected(pos_, "a digit after '.'");
    while (digit_at(pos_)) ++pos_;
  }
  if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
    is_integer = false;
    ++pos_;
    if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
    if (!digit_at(pos_)) return fail_unexpected(pos_, "a digit in the exponent");
    while (digit_at(pos_)) ++pos_;
  }
  const std::string_view literal = text_.substr(start, pos_ - start);
  event.offset = start;
  event.text.assign(literal);
  if (is_integer) {
    std::uint64_t value = 0;
    const auto [ptr, ec] = std::from_chars(literal.data(), literal.data() + literal.size(), value);
    if (ec == std::errc() && ptr == literal.data() + literal.size()) {
      event.type = JsonEventType::integer;
      event.integer = value;
      event.number = static_cast<double>(value);
      return true;
    }
  }
  // Out-of-range literals are still valid JSON; the value saturates.
  double value = 0.0;
  const auto [ptr, ec] = std::from_chars(literal.data(), literal.data() + literal.size(), value);
  (void)ptr;
  if (ec == std::errc::result_out_of_range) {
    const bool negative = literal[0] == '-';
    const std::size_t e_at = literal.find_first_of("eE");
    const bool tiny =
        e_at != std::string_view::npos && literal.size() > e_at + 1 && literal[e_at + 1] == '-';
    value = tiny ? (negative ? -0.0 : 0.0)
                 : (negative ? -std::numeric_limits<double>::infinity()
                             : std::numeric_limits<double>::infinity());
  }
  event.type = JsonEventType::number;
  event.number = value;
  return true;
}

bool JsonReader::read_literal(std::string_view word) {
  if (text_.substr(pos_, word.size()) != word) {
    // Find the first mismatching byte for the message.
    std::size_t at = pos_;
    for (std::size_t i = 0; i < word.size() && at < text_.size() && text_[at] == word[i]; ++i) {
      ++at;
    }
    return fail_unexpected(at, "'" + std::string(word) + "'");
  }
  pos_ += word.size();
  return true;
}

bool JsonReader::read_value(JsonEvent& event) {
  if (pos_ >= text_.size()) return fail_unexpected(pos_, "a value");
  event.offset = pos_;
  const char c = text_[pos_];
  if (c == '{' || c == '[') {
    if (stack_.size() + 1 > options_.max_depth) {
      return fail(JsonErrorKind::syntax, pos_,
                  std::string("'") + c + "' at byte " + std::to_string(pos_) +
                      " nests deeper than the limit of " + std::to_string(options_.max_depth));
    }
    Frame frame;
    frame.is_object = c == '{';
    frame.state = frame.is_object ? State::object_start : State::array_start;
    frame.key = std::move(pending_key_);
    pending_key_.clear();
    stack_.push_back(std::move(frame));
    ++pos_;
    event.type = c == '{' ? JsonEventType::object_begin : JsonEventType::array_begin;
    event.depth = stack_.size();
    return true;
  }
  event.depth = stack_.size();
  bool ok = true;
  if (c == '"') {
    ok = read_string(event.text);
    event.type = JsonEventType::string;
  } else if (c == '-' || (c >= '0' && c <= '9')) {
    ok = read_number(event);
  } else if (c == 't' || c == 'f') {
    const bool value = c == 't';
    ok = read_literal(value ? "true" : "false");
    event.type = JsonEventType::boolean;
    event.boolean = value;
  } else if (c == 'n') {
    ok = read_literal("null");
    event.type = JsonEventType::null;
  } else {
    return fail_unexpected(pos_, "a value");
  }
  return ok;
}

bool JsonReader::finish(JsonEvent& event) {
  while (pos_ < text_.size()) {
    const auto c = static_cast<unsigned char>(text_[pos_]);
    const bool allowed =
        options_.trailing == JsonTrailing::spaces_only ? c == ' ' : is_json_space(c);
    if (!allowed) {
      if (c >= 0x80 && utf8_sequence_length(text_, pos_) == 0) return fail_unexpected(pos_, "");
      return fail(JsonErrorKind::trailing, pos_,
                  "byte " + byte_text(c) + " at byte " + std::to_string(pos_) +
                      " after the end of the JSON value (only " +
                      (options_.trailing == JsonTrailing::spaces_only ? std::string("0x20 padding")
                                                                      : std::string("whitespace")) +
                      " may follow)");
    }
    ++pos_;
  }
  done_ = true;
  event = JsonEvent{};
  event.type = JsonEventType::end;
  event.offset = pos_;
  return true;
}

bool JsonReader::next(JsonEvent& event) {
  if (failed_) return false;
  try {
    if (done_) {
      event = JsonEvent{};
      event.type = JsonEventType::end;
      event.offset = pos_;
      return true;
    }
    if (!started_) {
      started_ = true;
      if (options_.allow_leading_whitespace) skip_whitespace();
      if (pos_ >= text_.size()) {
        return fail(JsonErrorKind::syntax, pos_,
                    "empty document: no JSON value at byte " + std::to_string(pos_));
      }
      if (options_.require_object_root && text_[pos_] != '{') {
        return fail_unexpected(pos_, "'{' (the document must be one JSON object)");
      }
      return read_value(event);
    }
    return step(event);
  } catch (const std::bad_alloc&) {
    return fail(JsonErrorKind::out_of_memory, pos_, "out of memory while parsing JSON");
  }
}

bool JsonReader::close_container(JsonEvent& event) {
  event.offset = pos_;
  event.type = stack_.back().is_object ? JsonEventType::object_end : JsonEventType::array_end;
  ++pos_;
  stack_.pop_back();
  event.depth = stack_.size();
  return true;
}

bool JsonReader::step(JsonEvent& event) {
  if (stack_.empty()) return finish(event);
  Frame& frame = stack_.back();
  const char* closer_name = frame.is_object ? "'}'" : "']'";
  skip_whitespace();
  if (pos_ >= text_.size()) return fail_unexpected(pos_, closer_name);
  char c = text_[pos_];
  if (frame.state == State::after_item) {
    if (c == (frame.is_object ? '}' : ']')) return close_container(event);
    if (c != ',') {
      return fail_unexpected(pos_, frame.is_object ? "',' or '}'" : "',' or ']'");
    }
    ++pos_;
    frame.state = frame.is_object ? State::object_key : State::array_value;
    skip_whitespace();
    if (pos_ >= text_.size()) return fail_unexpected(pos_, frame.is_object ? "a key" : "a value");
    c = text_[pos_];
  }
  switch (frame.state) {
    case State::object_start:
    case State::object_key: {
      if (c == '}') {
        if (frame.state == State::object_start) return close_container(event);
        return fail(JsonErrorKind::syntax, pos_,
                    "trailing comma before '}' at byte " + std::to_string(pos_));
      }
      if (c != '"') return fail_unexpected(pos_, "a string key");
      const std::size_t key_offset = pos_;
      if (!read_string(event.text)) return false;
      std::string_view key_view = raw_string_;
      if (!raw_string_valid_) {
        frame.owned_keys.push_back(std::make_unique<std::string>(event.text));
        key_view = *frame.owned_keys.back();
      }
      if (!frame.keys.insert(key_view)) {
        const std::string where = stack_.size() == 1 ? std::string("the root object")
                                                     : "the object '" + printable(frame.key) + "'";
        return fail(JsonErrorKind::duplicate_key, key_offset,
                    "duplicate key '" + printable(event.text) + "' at byte " +
                        std::to_string(key_offset) + " in " + where);
      }
      skip_whitespace();
      if (pos_ >= text_.size() || text_[pos_] != ':') return fail_unexpected(pos_, "':'");
      ++pos_;
      frame.state = State::object_value;
      pending_key_ = event.text;
      event.type = JsonEventType::key;
      event.offset = key_offset;
      event.depth = stack_.size();
      return true;
    }
    case State::object_value:
      frame.state = State::after_item;
      return read_value(event);
    case State::array_start:
    case State::array_value:
      if (c == ']') {
        if (frame.state == State::array_start) return close_container(event);
        return fail(JsonErrorKind::syntax, pos_,
                    "trailing comma before ']' at byte " + std::to_string(pos_));
      }
      frame.state = State::after_item;
      return read_value(event);
    case State::after_item:
      break;
  }
  return fail(JsonErrorKind::syntax, pos_, "internal reader state error");
}

bool JsonReader::skip_container(JsonEvent& scratch) {
  if (stack_.empty()) return true;
  const std::size_t target = stack_.size() - 1;
  while (stack_.size() > target) {
    if (!next(scratch)) return false;
  }
  return true;
}

std::string describe_json_value(const JsonEvent& event) {
  switch (event.type) {
    case JsonEventType::string:
      return "the string \"" + printable(event.text, 40) + "\"";
    case JsonEventType::integer:
    case JsonEventType::number:
      return "the number " + printable(event.text, 40);
    case JsonEventType::boolean:
      return event.boolean ? "true" : "false";
    case JsonEventType::null:
      return "null";
    case JsonEventType::object_begin:
      return "an object";
    case JsonEventType::array_begin:
      return "an array";
    default:
      return "no value";
  }
}

}  // namespace acefit
