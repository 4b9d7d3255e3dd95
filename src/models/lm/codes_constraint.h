// The constrained decoding of the LM's audio codes (phase 2; spec:
// acestep-model.md 14.6-14.7, gpu-adaptation.md 9.4): only
// <|audio_code_0|> .. <|audio_code_63999|> and EOS; EOS masked until
// exactly target_codes codes exist, then nothing but EOS. Also the
// max_new_tokens budgets of both phases.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "core/status.h"

namespace acefit::models::lm {

class CodesConstraint {
 public:
  // target_codes = int(target duration x 5); a negative count counts as 0.
  explicit CodesConstraint(std::int64_t target_codes);

  // Masks `logits`, the scores of ids [first_id, first_id + logits.size())
  // (a partial LM head): every id but the valid audio codes and EOS becomes
  // -infinity; EOS too while fewer than target_codes codes exist; every id
  // but EOS once they all exist. Ids outside the span are simply absent.
  void apply(std::span<float> logits, std::int32_t first_id) const;
  // Advances by the sampled token. invalid_argument when it is not allowed
  // (the state is then unchanged).
  Status accept(std::int32_t token);
  // All target_codes codes exist: EOS is the only token left.
  bool done() const { return codes_ >= target_codes_; }
  // Whether EOS was accepted.
  bool finished() const { return finished_; }
  // EOS once done() (a caller may skip the model for it), else nullopt.
  std::optional<std::int32_t> forced_token() const;
  std::int64_t codes() const { return codes_; }
  std::int64_t target_codes() const { return target_codes_; }

 private:
  std::int64_t target_codes_ = 0;
  std::int64_t codes_ = 0;
  bool finished_ = false;
};

// max_new_tokens (acestep-model.md 14.7): the target duration clamped to
// [10, min(tier_max_duration_s, 600)] gives codes = int(eff x 5); the codes
// phase may write codes + 10 tokens, the CoT phase codes + 500; without a
// target duration (nullopt or not finite) context_tokens - 64. Always at
// most context_tokens - 64 (and at least 0): acefit sizes the context
// (context_tokens) to the request instead of upstream's fixed 4096.
std::int64_t max_new_tokens_codes(std::optional<double> target_duration_s, int tier_max_duration_s,
                                  std::int64_t context_tokens);
std::int64_t max_new_tokens_cot(std::optional<double> target_duration_s, int tier_max_duration_s,
                                std::int64_t context_tokens);
// int(eff x 5) of the above: the code count the clamped duration gives.
std::int64_t clamped_target_codes(double target_duration_s, int tier_max_duration_s);

}  // namespace acefit::models::lm
