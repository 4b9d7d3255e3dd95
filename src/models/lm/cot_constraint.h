// The constrained decoding of the LM's chain of thought (phase 1; spec:
// acestep-model.md 14.4-14.6, gpu-adaptation.md 9.4). A finite-state
// machine over token ids that makes the LM write exactly
//
//   <think>\nbpm: B\ncaption: C\nduration: D\nkeyscale: K\nlanguage: L\ntimesignature: T\n
//
// and then EOS (<|im_end|>) in place of </think>, as the reference does.
// Fixed strings are forced token by token; numeric values follow prefix
// trees of every valid value tokenised in context ("bpm: " + value), with
// the end rule "newline once P(newline) > P(every allowed digit)"; keyscale,
// language and time signature follow prefix trees of their valid strings;
// the caption is free text (see CotConstraint::apply). Fields the user gave
// are injected as forced tokens; use_cot_caption / use_cot_language = false
// leave those fields out.
//
// The prefix trees are built once by create() from the tokenizer; a
// CotConstraint is then a small state over shared immutable tables, so
// copying one (a fresh machine for another request) is cheap.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"
#include "io/tokenizer/tokenizer.h"
#include "models/lm/cot_fields.h"
#include "models/lm/cot_values.h"

namespace acefit::models::lm {

inline constexpr int kCotBpmMin = 30;
inline constexpr int kCotBpmMax = 300;
inline constexpr int kCotDurationMin = 10;
inline constexpr int kCotDurationMax = 600;
inline constexpr int kCotCaptionTokensDefault = 512;

struct CotConstraintOptions {
  CotFields user;  // fields the user gave: injected as forced tokens
  bool use_cot_caption = true;
  bool use_cot_language = true;
  bool include_genres = false;
  int min_duration_s = kCotDurationMin;
  int max_duration_s = kCotDurationMax;  // the tier's max_duration_with_lm
  int max_caption_tokens = kCotCaptionTokensDefault;
};

class CotConstraint {
 public:
  // Builds the prefix trees (the duration tree for [min_duration_s,
  // max_duration_s]) and checks and tokenises the user's fields.
  // invalid_argument for a user value out of range or malformed (naming the
  // field) or bad options; internal when the tokenizer lacks a token the
  // machine needs (<think>, <|im_end|>, a single newline token).
  static Expected<CotConstraint> create(const Tokenizer& tokenizer,
                                        const CotConstraintOptions& options);

  // Masks `logits` (scores of ids [0, logits.size())): every id the machine
  // does not allow now becomes -infinity; the others keep their values.
  // Ids the span does not cover are never allowed, so pass at least
  // token_limit() scores. The logits decide, where upstream's rules let
  // them: a numeric value ends (newline only) once its value is complete
  // and the newline's logit beats every allowed digit's; the language's
  // first token is the best-scored of the valid first tokens; in the
  // caption, after a token ending a line, the line continues (only tokens
  // starting with a space or tab) when the highest-scored token of all
  // starts with one, else the caption ends (the next field's name).
  void apply(std::span<float> logits) const;

  // Advances by the token that was sampled. invalid_argument (the state
  // is then unchanged) when the grammar does not allow the token here.
  // The grammar check does not know the logits: it accepts any token some
  // logits could have let through.
  Status accept(std::int32_t token);

  // After the last field's newline: EOS (<|im_end|>) is all apply allows.
  bool done() const;
  // Whether EOS was accepted after done().
  bool finished() const { return finished_; }
  // The one token the machine allows whatever the logits are (a fixed
  // string, an injected user value, a completed value's newline, EOS), so
  // a caller may skip the model for it; nullopt when the logits decide.
  std::optional<std::int32_t> forced_token() const;
  // The fields completed so far (generated or injected), as CotFields:
  // numbers parsed, the caption's lines joined by single spaces.
  CotFields values() const;
  // One past the highest id apply can ever allow (phase 1 never emits
  // audio codes): a partial LM head over [0, token_limit()) is enough.
  std::int32_t token_limit() const;
  // EOS, the token that ends phase 1.
  std::int32_t eos_token() const;

  struct Tables;

 private:
  explicit CotConstraint(std::shared_ptr<const Tables> tables);

  std::shared_ptr<const Tables> tables_;
  std::size_t step_ = 0;      // index into the step list
  std::size_t position_ = 0;  // forced steps: tokens already emitted
  std::int32_t node_ = 0;     // prefix-tree steps: the current node
  int free_tokens_ = 0;       // caption / genres: tokens so far
  bool line_start_ = false;   // caption: the last token ended a line
  bool has_content_ = false;  // caption / genres: some non-space text
  bool finished_ = false;
  std::string value_bytes_;  // the current value's text so far
  CotFields values_;
};

}  // namespace acefit::models::lm
