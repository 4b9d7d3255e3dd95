#include "pipeline/audio_codes.h"

#include <cctype>

#include "io/tokenizer/tokenizer.h"

namespace acefit {

namespace {

constexpr std::string_view kCodePrefix = "<|audio_code_";
constexpr std::string_view kCodeSuffix = "|>";
constexpr std::int64_t kLargestCode = 63999;

Status bad_codes(const std::string& what) {
  return Status(ErrorCode::invalid_argument, "audio codes: " + what);
}

// Digits at text[pos...] -> value; pos moves past them. Values above
// 10^12 stop being read (they are out of range anyway).
std::int64_t read_digits(std::string_view text, std::size_t& pos) {
  std::int64_t value = 0;
  while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
    if (value < 1000000000000ll) value = value * 10 + (text[pos] - '0');
    ++pos;
  }
  return value;
}

Status check_range(std::int64_t code, std::size_t index) {
  if (code > kLargestCode)
    return bad_codes("code " + std::to_string(code) + " (number " + std::to_string(index + 1) +
                     ") is outside 0..63999");
  return Status();
}

}  // namespace

Expected<std::vector<std::int64_t>> parse_audio_codes(std::string_view text) {
  std::vector<std::int64_t> codes;
  if (text.find(kCodePrefix) != std::string_view::npos) {
    std::size_t pos = 0;
    while ((pos = text.find(kCodePrefix, pos)) != std::string_view::npos) {
      const std::size_t start = pos;
      pos += kCodePrefix.size();
      const std::size_t digits = pos;
      const std::int64_t code = read_digits(text, pos);
      if (pos == digits || text.substr(pos, kCodeSuffix.size()) != kCodeSuffix)
        return bad_codes("malformed token at byte " + std::to_string(start) +
                         " (expected <|audio_code_N|>)");
      pos += kCodeSuffix.size();
      ACEFIT_TRY(check_range(code, codes.size()));
      codes.push_back(code);
    }
  } else {
    std::size_t pos = 0;
    while (pos < text.size()) {
      const char ch = text[pos];
      if (ch == ',' || std::isspace(static_cast<unsigned char>(ch))) {
        ++pos;
        continue;
      }
      if (!std::isdigit(static_cast<unsigned char>(ch)))
        return bad_codes("unexpected '" + std::string(1, ch) + "' at byte " + std::to_string(pos) +
                         " (give <|audio_code_N|> tokens or integers 0..63999 separated by "
                         "commas or spaces)");
      const std::int64_t code = read_digits(text, pos);
      ACEFIT_TRY(check_range(code, codes.size()));
      codes.push_back(code);
    }
  }
  if (codes.empty()) return bad_codes("none given");
  return codes;
}

std::string audio_code_string(const std::vector<std::int64_t>& codes) {
  std::string text;
  for (const std::int64_t code : codes) text += audio_code_token_text(code);
  return text;
}

}  // namespace acefit
