#define PCRE2_CODE_UNIT_WIDTH 8
#include "models/lm/cot_text.h"

#include <pcre2.h>

#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/text/utf8.h"

namespace acefit::models::lm {

namespace {

// ---- the YAML scalar emitter (PyYAML's Emitter, block context) ----

constexpr int kYamlBestWidth = 80;   // PyYAML's default width
constexpr int kYamlValueIndent = 2;  // a top-level mapping value's scalar indent

std::u32string cot_code_points(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  std::size_t offset = 0;
  while (offset < text.size()) {
    const Utf8Char ch = decode_utf8_at(text, offset);
    if (ch.length == 0) {
      out.push_back(U'\uFFFD');
      ++offset;
    } else {
      out.push_back(ch.code_point);
      offset += ch.length;
    }
  }
  return out;
}

bool yaml_is_break(char32_t ch) {
  return ch == U'\n' || ch == U'\x85' || ch == U'\u2028' || ch == U'\u2029';
}

// '\0', space, tab, '\r' and the breaks: what PyYAML treats as white space
// around indicators.
bool yaml_is_blank_or_break(char32_t ch) {
  return ch == U'\0' || ch == U' ' || ch == U'\t' || ch == U'\r' || yaml_is_break(ch);
}

bool yaml_is_printable_ascii(char32_t ch) {
  return ch >= 0x20 && ch <= 0x7E;
}

// Characters allow_unicode lets through unescaped (besides printable ASCII
// and '\n'); every other one makes the scalar double-quoted.
bool yaml_is_allowed_unicode(char32_t ch) {
  return (ch == 0x85 || (ch >= 0xA0 && ch <= 0xD7FF) || (ch >= 0xE000 && ch <= 0xFFFD) ||
          (ch >= 0x10000 && ch < 0x10FFFF)) &&
         ch != 0xFEFF;
}

struct YamlScalarAnalysis {
  bool allow_block_plain = true;
  bool allow_single_quoted = true;
};

YamlScalarAnalysis yaml_analyze_scalar(const std::u32string& text) {
  if (text.empty()) return {};
  bool block_indicators = false;
  bool line_breaks = false;
  bool special_characters = false;
  bool leading_space = false;
  bool leading_break = false;
  bool trailing_space = false;
  bool trailing_break = false;
  bool break_space = false;
  bool space_break = false;

  const auto starts_with = [&](std::u32string_view prefix) {
    return std::u32string_view(text).substr(0, prefix.size()) == prefix;
  };
  if (starts_with(U"---") || starts_with(U"...")) block_indicators = true;

  const std::size_t n = text.size();
  bool preceded_by_whitespace = true;
  bool followed_by_whitespace = n == 1 || yaml_is_blank_or_break(text[1]);
  bool previous_space = false;
  bool previous_break = false;
  for (std::size_t index = 0; index < n; ++index) {
    const char32_t ch = text[index];
    if (index == 0) {
      if (std::u32string_view(U"#,[]{}&*!|>'\"%@`").find(ch) != std::u32string_view::npos) {
        block_indicators = true;
      }
      if ((ch == U'?' || ch == U':') && followed_by_whitespace) block_indicators = true;
      if (ch == U'-' && followed_by_whitespace) block_indicators = true;
    } else {
      if (ch == U':' && followed_by_whitespace) block_indicators = true;
      if (ch == U'#' && preceded_by_whitespace) block_indicators = true;
    }
    if (yaml_is_break(ch)) line_breaks = true;
    if (!(ch == U'\n' || yaml_is_printable_ascii(ch)) && !yaml_is_allowed_unicode(ch)) {
      special_characters = true;
    }
    if (ch == U' ') {
      if (index == 0) leading_space = true;
      if (index == n - 1) trailing_space = true;
      if (previous_break) break_space = true;
      previous_space = true;
      previous_break = false;
    } else if (yaml_is_break(ch)) {
      if (index == 0) leading_break = true;
      if (index == n - 1) trailing_break = true;
      if (previous_space) space_break = true;
      previous_space = false;
      previous_break = true;
    } else {
      previous_space = false;
      previous_break = false;
    }
    preceded_by_whitespace = yaml_is_blank_or_break(ch);
    followed_by_whitespace = index + 2 >= n || yaml_is_blank_or_break(text[index + 2]);
  }

  YamlScalarAnalysis analysis;
  if (leading_space || leading_break || trailing_space || trailing_break) {
    analysis.allow_block_plain = false;
  }
  if (break_space || space_break || special_characters) {
    analysis.allow_block_plain = false;
    analysis.allow_single_quoted = false;
  }
  if (line_breaks || block_indicators) analysis.allow_block_plain = false;
  return analysis;
}

// Whether PyYAML's resolver reads `text` written plain back as a string
// (not a bool, int, float, null, timestamp, merge or value key). The
// patterns are those of yaml/resolver.py; a match needs only ASCII.
bool yaml_plain_resolves_to_string(const std::string& text) {
  // Compiled once (PCRE2, anchored at both ends: the whole text must match).
  static constexpr std::string_view kImplicit =
      // bool
      "(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)"
      // float
      "|[-+]?[0-9][0-9_]*\\.[0-9_]*(?:[eE][-+][0-9]+)?"
      "|\\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
      "|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*"
      "|[-+]?\\.(?:inf|Inf|INF)"
      "|\\.(?:nan|NaN|NAN)"
      // int
      "|[-+]?0b[0-1_]+"
      "|[-+]?0[0-7_]+"
      "|[-+]?(?:0|[1-9][0-9_]*)"
      "|[-+]?0x[0-9a-fA-F_]+"
      "|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"
      // merge, null, value
      "|<<|~|null|Null|NULL|="
      // timestamp
      "|[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
      "|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \\t]+)[0-9][0-9]?:[0-9][0-9]"
      ":[0-9][0-9](?:\\.[0-9]*)?(?:[ \\t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?";
  struct Pattern {
    pcre2_code* code = nullptr;
    Pattern() {
      int error = 0;
      PCRE2_SIZE offset = 0;
      code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kImplicit.data()), kImplicit.size(),
                           PCRE2_ANCHORED | PCRE2_ENDANCHORED, &error, &offset, nullptr);
    }
    ~Pattern() { pcre2_code_free(code); }
    Pattern(const Pattern&) = delete;
    Pattern& operator=(const Pattern&) = delete;
  };
  static const Pattern pattern;
  if (text.empty()) return false;            // null
  if (pattern.code == nullptr) return true;  // a constant pattern: never happens
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(pattern.code, nullptr);
  if (data == nullptr) return true;
  const int rc = pcre2_match(pattern.code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(),
                             0, 0, data, nullptr);
  pcre2_match_data_free(data);
  return rc < 0;  // no match: a string
}

// The writer state PyYAML keeps while emitting one "key: value" line.
class YamlScalarWriter {
 public:
  explicit YamlScalarWriter(std::string& out, int column) : out_(out), column_(column) {}

  void plain(const std::u32string& text) {
    if (!whitespace_) put(U" ");
    whitespace_ = false;
    indention_ = false;
    bool spaces = false;
    std::size_t start = 0;
    for (std::size_t end = 0; end <= text.size(); ++end) {
      const bool at_end = end == text.size();
      const char32_t ch = at_end ? 0 : text[end];
      if (spaces) {
        if (at_end || ch != U' ') {
          if (start + 1 == end && column_ > kYamlBestWidth) {
            write_indent();
            whitespace_ = false;
            indention_ = false;
          } else {
            put(text.substr(start, end - start));
          }
          start = end;
        }
      } else if (at_end || ch == U' ') {
        // (Plain scalars never hold line breaks.)
        put(text.substr(start, end - start));
        start = end;
      }
      if (!at_end) spaces = ch == U' ';
    }
  }

  void single_quoted(const std::u32string& text) {
    indicator(U"'", true);
    bool spaces = false;
    bool breaks = false;
    std::size_t start = 0;
    const std::size_t n = text.size();
    for (std::size_t end = 0; end <= n; ++end) {
      const bool at_end = end == n;
      const char32_t ch = at_end ? 0 : text[end];
      if (spaces) {
        if (at_end || ch != U' ') {
          if (start + 1 == end && column_ > kYamlBestWidth && start != 0 && end != n) {
            write_indent();
          } else {
            put(text.substr(start, end - start));
          }
          start = end;
        }
      } else if (breaks) {
        if (at_end || !yaml_is_break(ch)) {
          if (text[start] == U'\n') line_break(U'\n');
          for (std::size_t i = start; i < end; ++i) line_break(text[i]);
          write_indent();
          start = end;
        }
      } else if (at_end || ch == U' ' || yaml_is_break(ch) || ch == U'\'') {
        if (start < end) {
          put(text.substr(start, end - start));
          start = end;
        }
      }
      if (ch == U'\'' && !at_end) {
        put(U"''");
        start = end + 1;
      }
      if (!at_end) {
        spaces = ch == U' ';
        breaks = yaml_is_break(ch);
      }
    }
    indicator(U"'", false);
  }

  void double_quoted(const std::u32string& text) {
    indicator(U"\"", true);
    std::size_t start = 0;
    const std::size_t n = text.size();
    for (std::size_t end = 0; end <= n; ++end) {
      const bool at_end = end == n;
      const char32_t ch = at_end ? 0 : text[end];
      const bool escaped =
          !at_end && (ch == U'"' || ch == U'\\' || ch == 0x85 || ch == 0x2028 || ch == 0x2029 ||
                      ch == 0xFEFF ||
                      !(yaml_is_printable_ascii(ch) || (ch >= 0xA0 && ch <= 0xD7FF) ||
                        (ch >= 0xE000 && ch <= 0xFFFD)));
      if (at_end || escaped) {
        if (start < end) {
          put(text.substr(start, end - start));
          start = end;
        }
        if (escaped) {
          put(escape(ch));
          start = end + 1;
        }
      }
      if (end > 0 && end + 1 < n && (ch == U' ' || start >= end) &&
          column_ + static_cast<int>(end - start) > kYamlBestWidth) {
        std::u32string data = start < end ? text.substr(start, end - start) : std::u32string();
        data += U'\\';
        if (start < end) start = end;
        put(data);
        write_indent();
        whitespace_ = false;
        indention_ = false;
        if (text[start] == U' ') put(U"\\");
      }
    }
    indicator(U"\"", false);
  }

 private:
  static std::u32string escape(char32_t ch) {
    switch (ch) {
      case 0x00:
        return U"\\0";
      case 0x07:
        return U"\\a";
      case 0x08:
        return U"\\b";
      case 0x09:
        return U"\\t";
      case 0x0A:
        return U"\\n";
      case 0x0B:
        return U"\\v";
      case 0x0C:
        return U"\\f";
      case 0x0D:
        return U"\\r";
      case 0x1B:
        return U"\\e";
      case U'"':
        return U"\\\"";
      case U'\\':
        return U"\\\\";
      case 0x85:
        return U"\\N";
      case 0xA0:
        return U"\\_";
      case 0x2028:
        return U"\\L";
      case 0x2029:
        return U"\\P";
      default:
        break;
    }
    static constexpr char kHex[] = "0123456789ABCDEF";
    const int digits = ch <= 0xFF ? 2 : (ch <= 0xFFFF ? 4 : 8);
    std::u32string data = ch <= 0xFF ? U"\\x" : (ch <= 0xFFFF ? U"\\u" : U"\\U");
    for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4) {
      data += static_cast<char32_t>(kHex[(ch >> shift) & 0xF]);
    }
    return data;
  }

  void put(std::u32string_view data) {
    for (const char32_t ch : data) append_utf8(out_, ch);
    column_ += static_cast<int>(data.size());
  }

  void indicator(std::u32string_view text, bool need_whitespace) {
    if (!whitespace_ && need_whitespace) put(U" ");
    put(text);
    whitespace_ = false;
    indention_ = false;
  }

  void line_break(char32_t ch) {
    whitespace_ = true;
    indention_ = true;
    column_ = 0;
    append_utf8(out_, ch);
  }

  void write_indent() {
    if (!indention_ || column_ > kYamlValueIndent ||
        (column_ == kYamlValueIndent && !whitespace_)) {
      line_break(U'\n');
    }
    if (column_ < kYamlValueIndent) {
      whitespace_ = true;
      out_.append(static_cast<std::size_t>(kYamlValueIndent - column_), ' ');
      column_ = kYamlValueIndent;
    }
  }

  std::string& out_;
  int column_ = 0;
  // After "key:" (PyYAML's write_indicator(':', False)).
  bool whitespace_ = false;
  bool indention_ = false;
};

void cot_append_string_value(std::string& out, std::string_view key, std::string_view value) {
  out += key;
  out += ':';
  YamlScalarWriter writer(out, static_cast<int>(key.size()) + 1);
  const std::u32string text = cot_code_points(value);
  const YamlScalarAnalysis analysis = yaml_analyze_scalar(text);
  std::string utf8;
  for (const char32_t ch : text) append_utf8(utf8, ch);
  if (analysis.allow_block_plain && yaml_plain_resolves_to_string(utf8)) {
    writer.plain(text);
  } else if (analysis.allow_single_quoted) {
    writer.single_quoted(text);
  } else {
    writer.double_quoted(text);
  }
}

bool cot_all_ascii_digits(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Upstream turns a string of digits into an int before dumping it.
void cot_append_value(std::string& out, std::string_view key, std::string_view value) {
  if (cot_all_ascii_digits(value)) {
    const std::size_t first = value.find_first_not_of('0');
    out += key;
    out += ": ";
    out += first == std::string_view::npos ? std::string_view("0") : value.substr(first);
    return;
  }
  cot_append_string_value(out, key, value);
}

void cot_append_line(std::string& out, std::string_view key, std::optional<int> value) {
  if (!value) return;
  if (!out.empty()) out += '\n';
  out += key;
  out += ": ";
  out += std::to_string(*value);
}

void cot_append_line(std::string& out, std::string_view key,
                     const std::optional<std::string>& value) {
  if (!value) return;
  if (!out.empty()) out += '\n';
  cot_append_value(out, key, *value);
}

// ---- parsing ----

// Python's str.isspace() over one code point.
bool cot_is_py_space(char32_t ch) {
  return (ch >= 0x09 && ch <= 0x0D) || (ch >= 0x1C && ch <= 0x20) || ch == 0x85 || ch == 0xA0 ||
         ch == 0x1680 || (ch >= 0x2000 && ch <= 0x200A) || ch == 0x2028 || ch == 0x2029 ||
         ch == 0x202F || ch == 0x205F || ch == 0x3000;
}

// Whether `text` starts with a white-space code point (and how long it is).
std::size_t cot_leading_space_length(std::string_view text) {
  if (text.empty()) return 0;
  const Utf8Char ch = decode_utf8_at(text, 0);
  return ch.length != 0 && cot_is_py_space(ch.code_point) ? ch.length : 0;
}

// Python's str.strip(): white space off both ends (bytes that are not UTF-8
// are kept).
std::string_view cot_py_strip(std::string_view text) {
  while (const std::size_t n = cot_leading_space_length(text)) text.remove_prefix(n);
  while (!text.empty()) {
    std::size_t start = text.size() - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    const Utf8Char ch = decode_utf8_at(text, start);
    if (ch.length != text.size() - start || !cot_is_py_space(ch.code_point)) break;
    text.remove_suffix(ch.length);
  }
  return text;
}

std::optional<int> cot_parse_int(std::string_view text) {
  text = cot_py_strip(text);
  const bool had_plus = !text.empty() && text.front() == '+';
  if (had_plus) text.remove_prefix(1);
  if (text.empty() || text.front() == '+' || (had_plus && text.front() == '-')) {
    return std::nullopt;
  }
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string cot_ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string cot_join_caption(const std::vector<std::string_view>& lines) {
  std::string out;
  for (const std::string_view line : lines) {
    const std::string_view stripped = cot_py_strip(line);
    if (stripped.empty()) continue;
    if (!out.empty()) out += ' ';
    out += stripped;
  }
  return out;
}

std::string cot_join_lines(const std::vector<std::string_view>& lines) {
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += '\n';
    out += lines[i];
  }
  return out;
}

void cot_save_field(CotFields& fields, const std::string& key,
                    const std::vector<std::string_view>& value_lines) {
  if (key.empty() || value_lines.empty()) return;
  const auto set_text = [](std::optional<std::string>& field, std::string_view value) {
    field = value.empty() ? std::nullopt : std::optional<std::string>(value);
  };
  if (key == "bpm") {
    fields.bpm = cot_parse_int(cot_join_lines(value_lines));
  } else if (key == "duration") {
    fields.duration_s = cot_parse_int(cot_join_lines(value_lines));
  } else if (key == "caption") {
    set_text(fields.caption, cot_join_caption(value_lines));
  } else if (key == "genres") {
    set_text(fields.genres, cot_py_strip(cot_join_lines(value_lines)));
  } else if (key == "keyscale") {
    set_text(fields.keyscale, cot_py_strip(cot_join_lines(value_lines)));
  } else if (key == "language") {
    set_text(fields.language, cot_py_strip(cot_join_lines(value_lines)));
  } else if (key == "timesignature") {
    set_text(fields.time_signature, cot_py_strip(cot_join_lines(value_lines)));
  }
}

}  // namespace

std::string cot_yaml(const CotFields& fields) {
  std::string out;
  cot_append_line(out, "bpm", fields.bpm);
  cot_append_line(out, "caption", fields.caption);
  cot_append_line(out, "duration", fields.duration_s);
  cot_append_line(out, "keyscale", fields.keyscale);
  cot_append_line(out, "language", fields.language);
  if (fields.time_signature) {
    std::string_view value = *fields.time_signature;
    if (value.size() >= 2 && value.substr(value.size() - 2) == "/4") {
      value = value.substr(0, value.find('/'));
    }
    cot_append_line(out, "timesignature", std::optional<std::string>(std::string(value)));
  }
  // yaml.dump(...).strip(): a plain scalar may end in white space other than
  // ' ' (U+00A0, U+3000, ...), which Python's strip() takes off the last line.
  return std::string(cot_py_strip(out));
}

std::string cot_think_block(const CotFields& fields) {
  return "<think>\n" + cot_yaml(fields) + "\n</think>";
}

CotFields parse_cot(std::string_view generated_text) {
  std::string_view reasoning;
  if (const std::size_t open = generated_text.find("<think>"); open != std::string_view::npos) {
    const std::size_t body = open + 7;
    if (const std::size_t close = generated_text.find("</think>", body);
        close != std::string_view::npos) {
      reasoning = cot_py_strip(generated_text.substr(body, close - body));
    }
  }
  if (reasoning.empty()) {
    std::string_view before = generated_text.substr(0, generated_text.find("<|audio_code_"));
    before = before.substr(0, before.find("<|im_end|>"));
    reasoning = cot_py_strip(before);
  }

  CotFields fields;
  std::string key;
  std::vector<std::string_view> value_lines;
  while (true) {
    const std::size_t newline = reasoning.find('\n');
    const std::string_view line = reasoning.substr(0, newline);
    if (!cot_py_strip(line).starts_with('<')) {
      const std::size_t colon = line.find(':');
      if (!line.empty() && cot_leading_space_length(line) == 0 && colon != std::string_view::npos) {
        cot_save_field(fields, key, value_lines);
        value_lines.clear();
        key = cot_ascii_lower(cot_py_strip(line.substr(0, colon)));
        const std::string_view first_value = line.substr(colon + 1);
        if (!cot_py_strip(first_value).empty()) value_lines.push_back(first_value);
      } else if ((line.starts_with(' ') || line.starts_with('\t')) && !key.empty()) {
        value_lines.push_back(line);
      }
    }
    if (newline == std::string_view::npos) break;
    reasoning.remove_prefix(newline + 1);
  }
  cot_save_field(fields, key, value_lines);
  return fields;
}

}  // namespace acefit::models::lm
