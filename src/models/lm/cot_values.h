// The value sets of the LM's chain-of-thought fields (acestep-model.md
// 14.4) and the normalisation of values a user gives for them.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace acefit::models::lm {

// The 50 language codes of 14.4, then "unknown".
std::span<const std::string_view> cot_language_codes();
// The 70 keyscales: note A-G x accidental (none, #, b, ♯, ♭) x major/minor,
// written "F# minor".
std::vector<std::string> cot_keyscales();
// The time signatures the CoT writes: "2", "3", "4", "6".
std::span<const std::string_view> cot_time_signatures();

// A user's keyscale in the CoT's form ("f# Minor" -> "F# minor"): note A-G,
// an optional accidental (#, b, ♯, ♭), one space, major or minor.
// invalid_argument naming "keyscale" otherwise.
Expected<std::string> normalize_keyscale(std::string_view text);
// A user's language code ("EN" -> "en"): one of cot_language_codes().
// invalid_argument naming "language" otherwise.
Expected<std::string> normalize_language(std::string_view text);
// A user's time signature as the CoT writes it: "4" or "4/4" -> "4";
// numerator 2, 3, 4 or 6 (over 2, 4 or 8). invalid_argument naming
// "timesignature" otherwise.
Expected<std::string> normalize_time_signature(std::string_view text);

// White space runs (newlines included) become one space; ends trimmed.
std::string collapse_white_space(std::string_view text);

}  // namespace acefit::models::lm
