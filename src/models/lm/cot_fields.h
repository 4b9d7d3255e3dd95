// The metadata fields of the LM's chain of thought (spec: acestep-model.md
// 14.4), in their fixed order: bpm, caption, duration, (genres), keyscale,
// language, timesignature. The same struct carries what the user gave
// (forced into the CoT) and what the LM wrote (parsed back).
#pragma once
#include <optional>
#include <string>

namespace acefit::models::lm {

struct CotFields {
  std::optional<int> bpm;  // 30..300
  std::optional<std::string> caption;
  std::optional<int> duration_s;        // 10..the tier's max_duration_with_lm
  std::optional<std::string> genres;    // in the grammar, skipped by default
  std::optional<std::string> keyscale;  // "G major", "F# minor", "Bb minor"
  std::optional<std::string> language;  // "en", ..., "unknown"
  // The CoT writes the numerator ("4"); a user's value may be "3/4".
  std::optional<std::string> time_signature;
};

}  // namespace acefit::models::lm
