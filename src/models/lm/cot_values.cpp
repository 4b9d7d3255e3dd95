#include "models/lm/cot_values.h"

#include <algorithm>
#include <array>

namespace acefit::models::lm {
// Named (not anonymous): the unity build puts other files beside this one.
namespace cot_values_internal {

constexpr std::array<std::string_view, 51> kLanguages = {
    "ar", "az", "bg", "bn", "ca", "cs", "da", "de", "el", "en",  "es", "fa",     "fi",
    "fr", "he", "hi", "hr", "ht", "hu", "id", "is", "it", "ja",  "ko", "la",     "lt",
    "ms", "ne", "nl", "no", "pa", "pl", "pt", "ro", "ru", "sa",  "sk", "sr",     "sv",
    "sw", "ta", "te", "th", "tl", "tr", "uk", "ur", "vi", "yue", "zh", "unknown"};
constexpr std::array<std::string_view, 7> kNotes = {"A", "B", "C", "D", "E", "F", "G"};
constexpr std::array<std::string_view, 5> kAccidentals = {"", "#", "b", "\u266F", "\u266D"};
constexpr std::array<std::string_view, 2> kModes = {"major", "minor"};
constexpr std::array<std::string_view, 4> kTimeSignatures = {"2", "3", "4", "6"};

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

}  // namespace cot_values_internal

std::span<const std::string_view> cot_language_codes() {
  return cot_values_internal::kLanguages;
}

std::span<const std::string_view> cot_time_signatures() {
  return cot_values_internal::kTimeSignatures;
}

std::vector<std::string> cot_keyscales() {
  using namespace cot_values_internal;
  std::vector<std::string> out;
  for (std::string_view note : kNotes) {
    for (std::string_view accidental : kAccidentals) {
      for (std::string_view mode : kModes) {
        out.push_back(std::string(note) + std::string(accidental) + " " + std::string(mode));
      }
    }
  }
  return out;
}

std::string collapse_white_space(std::string_view text) {
  std::string out;
  bool pending_space = false;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

Expected<std::string> normalize_keyscale(std::string_view text) {
  using namespace cot_values_internal;
  const std::string value = collapse_white_space(text);
  const std::size_t space = value.find(' ');
  const auto error = [&] {
    return invalid_argument("keyscale \"" + std::string(text) +
                            "\" is not a key: expected a note A-G, an optional accidental "
                            "(#, b, \u266F, \u266D), a space and major or minor, e.g. "
                            "\"F# minor\"");
  };
  if (space == std::string::npos || space == 0) return error();
  std::string note = value.substr(0, 1);
  if (note[0] >= 'a' && note[0] <= 'g') note[0] = static_cast<char>(note[0] - 'a' + 'A');
  const std::string accidental = value.substr(1, space - 1);
  const std::string mode = lower_ascii(value.substr(space + 1));
  if (!contains(kNotes, note) || !contains(kAccidentals, accidental) || !contains(kModes, mode)) {
    return error();
  }
  return note + accidental + " " + mode;
}

Expected<std::string> normalize_language(std::string_view text) {
  using namespace cot_values_internal;
  const std::string value = lower_ascii(collapse_white_space(text));
  if (!contains(kLanguages, value)) {
    std::string known;
    for (std::string_view code : kLanguages) {
      known += (known.empty() ? "" : " ") + std::string(code);
    }
    return invalid_argument("language \"" + std::string(text) + "\" is not one of: " + known);
  }
  return value;
}

Expected<std::string> normalize_time_signature(std::string_view text) {
  using namespace cot_values_internal;
  const std::string value = collapse_white_space(text);
  const std::size_t slash = value.find('/');
  const std::string numerator = value.substr(0, slash);
  bool ok = contains(kTimeSignatures, numerator);
  if (ok && slash != std::string::npos) {
    const std::string denominator = value.substr(slash + 1);
    ok = denominator == "2" || denominator == "4" || denominator == "8";
  }
  if (!ok) {
    return invalid_argument("timesignature \"" + std::string(text) +
                            "\" is not 2, 3, 4 or 6 (or 2/4, 3/4, 4/4, 6/8)");
  }
  return numerator;
}

}  // namespace acefit::models::lm
