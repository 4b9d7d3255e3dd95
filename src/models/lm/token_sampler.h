// The 5 Hz LM's token sampling on host f32 logits (spec: acestep-model.md
// 14.8), one function per step so each can be checked alone, and
// sample_next() running them in upstream's order:
//   1. CFG: logits = uncond + s (cond - uncond), only when s > 1;
//   2. the constrained-decoding mask (the caller's, through a callback);
//   3. repetition penalty (when != 1);
//   4. top-k (k > 0);
//   5. top-p (0 < p < 1);
//   6. temperature and a draw from the softmax (T = 0: argmax).
// Logits may cover a part of the vocabulary: logits[i] is token first_id + i.
// A logit of -inf is a forbidden token and is never sampled; every logit
// -inf, or a NaN / +inf logit, is an error.
#pragma once
#include <cstdint>
#include <functional>
#include <span>

#include "core/rng.h"
#include "core/status.h"

namespace acefit::models::lm {

// Upstream's defaults (ACE-Step 1.5 generate_with_stop_condition).
struct SamplerOptions {
  float temperature = 0.85f;        // >= 0; 0 = argmax
  float cfg_scale = 2.0f;           // >= 0 (not NaN); CFG only when > 1
  float top_p = 0.9f;               // (0, 1]; 1 = off
  int top_k = 0;                    // >= 0; 0 = off
  float repetition_penalty = 1.0f;  // > 0; 1 = off
};

// invalid_argument naming the option ("temperature", "cfg_scale", "top_p",
// "top_k", "repetition_penalty") and its value, for NaN, infinite or
// out-of-range values.
Status validate_sampler_options(const SamplerOptions& options);

// 1. cond[i] = uncond[i] + cfg_scale (cond[i] - uncond[i]), in place, in
// fp32. A token at -inf in either input stays at -inf. invalid_argument
// when the sizes differ. (Callers apply it only when cfg_scale > 1.)
Status apply_cfg(std::span<float> cond_logits, std::span<const float> uncond_logits,
                 float cfg_scale);

// 3. Hugging Face's RepetitionPenaltyLogitsProcessor: each distinct token in
// `seen_ids` (the conditional sequence so far, prompt included, as
// upstream passes it) that falls in [first_id, first_id + logits.size())
// has its logit divided by `penalty` when positive, multiplied when
// negative; a token seen several times is penalised once; others untouched.
void apply_repetition_penalty(std::span<float> logits, std::int32_t first_id,
                              std::span<const std::int32_t> seen_ids, float penalty);

// 4. Sets to -inf every logit below the top_k-th largest (ties with it
// are kept, so more than top_k may stay). top_k <= 0 or >= size: no-op.
void apply_top_k(std::span<float> logits, int top_k);

// 5. Nucleus filter: with the logits sorted descending (ties by ascending
// index) and softmax probabilities (fp32) summed in that order, a token is
// set to -inf when the probability of the tokens ranked above it already
// exceeds top_p; the top token always stays. Only 0 < top_p < 1 filters.
// Logits must not be NaN or +inf (sample_next checks).
void apply_top_p(std::span<float> logits, float top_p);

// 6. The index of the token drawn from softmax(logits / temperature) with
// one draw from `rng` (temperature 0: the first largest logit, no draw).
// -inf logits have probability 0 and are never drawn. invalid_argument
// when every logit is -inf (naming `first_id` for the range), or a logit
// is NaN or +inf.
Expected<std::int32_t> sample_index(std::span<const float> logits, float temperature, Rng& rng,
                                    std::int32_t first_id = 0);

// The caller's constrained-decoding mask (step 2): sets forbidden tokens'
// logits to -inf (logits[i] is token first_id + i); a non-ok Status stops
// the step.
using LogitsMask = std::function<Status(std::span<float> logits)>;

struct SampleStep {
  std::span<float> logits;                 // the conditional logits, modified in place
  std::span<const float> uncond_logits;    // the unconditional logits (needed when cfg_scale > 1)
  std::int32_t first_id = 0;               // logits[i] is token first_id + i
  std::span<const std::int32_t> seen_ids;  // for the repetition penalty
  LogitsMask mask;                         // optional
};

// Steps 1-6 in order; returns the sampled token id (first_id + index).
// Errors: the options (validate_sampler_options), cfg_scale > 1 without
// unconditional logits of the same size, the mask's, and sample_index's.
Expected<std::int32_t> sample_next(const SampleStep& step, const SamplerOptions& options, Rng& rng);

}  // namespace acefit::models::lm
