#include "models/lm/token_sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace acefit::models::lm {

namespace {

constexpr float kSamplerNegInf = -std::numeric_limits<float>::infinity();

std::string sampler_number_text(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  std::string text = std::to_string(value);
  text.erase(text.find_last_not_of('0') + 1);
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

Status sampler_bad_option(const char* name, double value, const char* rule) {
  return invalid_argument(std::string("sampler option ") + name + " = " +
                          sampler_number_text(value) + ": " + rule);
}

// NaN and +inf make the softmax meaningless: an error naming the token.
Status sampler_check_logits(std::span<const float> logits, std::int32_t first_id) {
  for (std::size_t i = 0; i < logits.size(); ++i) {
    if (std::isnan(logits[i]) || logits[i] == std::numeric_limits<float>::infinity()) {
      return invalid_argument("the logit of token " + std::to_string(first_id + std::int64_t(i)) +
                              " is " + sampler_number_text(logits[i]));
    }
  }
  return {};
}

Status sampler_all_forbidden(std::span<const float> logits, std::int32_t first_id) {
  return invalid_argument("every token is forbidden (all " + std::to_string(logits.size()) +
                          " logits of tokens " + std::to_string(first_id) + ".." +
                          std::to_string(first_id + std::int64_t(logits.size()) - 1) +
                          " are -inf): nothing to sample");
}

// A uniform double in [0, 1) from 53 random bits.
double sampler_uniform_double(Rng& rng) {
  return static_cast<double>(rng.next_u64() >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace

Status validate_sampler_options(const SamplerOptions& options) {
  if (!(options.temperature >= 0.0f) || std::isinf(options.temperature)) {
    return sampler_bad_option("temperature", options.temperature, "must be a finite number >= 0");
  }
  if (!(options.cfg_scale >= 0.0f) || std::isinf(options.cfg_scale)) {
    return sampler_bad_option("cfg_scale", options.cfg_scale, "must be a finite number >= 0");
  }
  if (!(options.top_p > 0.0f && options.top_p <= 1.0f)) {
    return sampler_bad_option("top_p", options.top_p, "must be in (0, 1] (1 = off)");
  }
  if (options.top_k < 0) {
    return sampler_bad_option("top_k", options.top_k, "must be >= 0 (0 = off)");
  }
  if (!(options.repetition_penalty > 0.0f) || std::isinf(options.repetition_penalty)) {
    return sampler_bad_option("repetition_penalty", options.repetition_penalty,
                              "must be a finite number > 0 (1 = off)");
  }
  return {};
}

Status apply_cfg(std::span<float> cond_logits, std::span<const float> uncond_logits,
                 float cfg_scale) {
  if (cond_logits.size() != uncond_logits.size()) {
    return invalid_argument("CFG needs conditional and unconditional logits of the same size (" +
                            std::to_string(cond_logits.size()) + " and " +
                            std::to_string(uncond_logits.size()) + ")");
  }
  for (std::size_t i = 0; i < cond_logits.size(); ++i) {
    const float cond = cond_logits[i];
    const float uncond = uncond_logits[i];
    if (cond == kSamplerNegInf || uncond == kSamplerNegInf) {
      cond_logits[i] = kSamplerNegInf;
    } else {
      cond_logits[i] = uncond + cfg_scale * (cond - uncond);
    }
  }
  return {};
}

void apply_repetition_penalty(std::span<float> logits, std::int32_t first_id,
                              std::span<const std::int32_t> seen_ids, float penalty) {
  std::vector<std::int64_t> indices;
  indices.reserve(seen_ids.size());
  const auto size = static_cast<std::int64_t>(logits.size());
  for (const std::int32_t id : seen_ids) {
    const std::int64_t index = std::int64_t(id) - first_id;
    if (index >= 0 && index < size) indices.push_back(index);
  }
  std::sort(indices.begin(), indices.end());
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  for (const std::int64_t index : indices) {
    float& logit = logits[static_cast<std::size_t>(index)];
    logit = logit < 0.0f ? logit * penalty : logit / penalty;
  }
}

void apply_top_k(std::span<float> logits, int top_k) {
  if (top_k <= 0 || static_cast<std::size_t>(top_k) >= logits.size()) return;
  thread_local std::vector<float> values;
  values.assign(logits.begin(), logits.end());
  std::nth_element(values.begin(), values.begin() + (top_k - 1), values.end(), std::greater<>());
  const float threshold = values[static_cast<std::size_t>(top_k - 1)];
  for (float& logit : logits) {
    if (logit < threshold) logit = kSamplerNegInf;
  }
}

void apply_top_p(std::span<float> logits, float top_p) {
  if (!(top_p > 0.0f && top_p < 1.0f)) return;
  struct Candidate {
    float logit;
    std::int32_t index;
    float weight;  // exp(logit - max): the probability times the softmax's sum
  };
  // Reused between calls: a fresh buffer of this size costs page faults
  // on every step.
  thread_local std::vector<Candidate> candidates;
  candidates.clear();
  float max_logit = kSamplerNegInf;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] == kSamplerNegInf) continue;
    candidates.push_back({logits[i], static_cast<std::int32_t>(i), 0.0f});
    max_logit = std::max(max_logit, logits[i]);
  }
  if (candidates.size() <= 1) return;
  double total = 0.0;
  for (Candidate& c : candidates) {
    c.weight = std::exp(c.logit - max_logit);
    total += c.weight;
  }
  // The token at the first rank where the mass of the tokens up to it
  // exceeds top_p is the last one kept. Found by a selection over the
  // ranks (expected linear time) rather than a full sort: a range
  // [lo, hi) holds the crossing, `above` is the mass ranked before lo.
  const double limit = static_cast<double>(top_p) * total;
  const auto ranks_before = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.index < b.index);
  };
  const auto mass = [&](std::size_t from, std::size_t to) {
    double sum = 0.0;
    for (std::size_t r = from; r < to; ++r) sum += candidates[r].weight;
    return sum;
  };
  std::size_t lo = 0;
  std::size_t hi = candidates.size();
  double above = 0.0;
  std::size_t last_kept = candidates.size();
  while (hi - lo > 32 && last_kept == candidates.size()) {
    const std::size_t mid = lo + (hi - lo) / 2;
    std::nth_element(candidates.begin() + static_cast<std::ptrdiff_t>(lo),
                     candidates.begin() + static_cast<std::ptrdiff_t>(mid),
                     candidates.begin() + static_cast<std::ptrdiff_t>(hi), ranks_before);
    const double left = mass(lo, mid);
    if (above + left > limit) {
      hi = mid;
    } else if (above + left + candidates[mid].weight > limit) {
      last_kept = mid;
    } else {
      above += left + candidates[mid].weight;
      lo = mid + 1;
    }
  }
  if (last_kept == candidates.size()) {
    std::sort(candidates.begin() + static_cast<std::ptrdiff_t>(lo),
              candidates.begin() + static_cast<std::ptrdiff_t>(hi), ranks_before);
    for (std::size_t r = lo; r < hi; ++r) {
      above += candidates[r].weight;
      if (above > limit) {
        last_kept = r;
        break;
      }
    }
  }
  if (last_kept + 1 >= candidates.size()) return;  // (or rounding never passed top_p)
  std::fill(logits.begin(), logits.end(), kSamplerNegInf);
  for (std::size_t r = 0; r <= last_kept; ++r) logits[candidates[r].index] = candidates[r].logit;
}

Expected<std::int32_t> sample_index(std::span<const float> logits, float temperature, Rng& rng,
                                    std::int32_t first_id) {
  ACEFIT_TRY(sampler_check_logits(logits, first_id));
  std::size_t best = logits.size();
  for (std::size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] != kSamplerNegInf && (best == logits.size() || logits[i] > logits[best]))
      best = i;
  }
  if (best == logits.size()) return sampler_all_forbidden(logits, first_id);
  if (!(temperature > 0.0f)) return static_cast<std::int32_t>(best);

  const float max_scaled = logits[best] / temperature;
  thread_local std::vector<float> weights;
  weights.resize(logits.size());
  double total = 0.0;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    weights[i] =
        logits[i] == kSamplerNegInf ? 0.0f : std::exp(logits[i] / temperature - max_scaled);
    total += weights[i];
  }
  const double target = sampler_uniform_double(rng) * total;
  double cumulative = 0.0;
  std::size_t last_positive = best;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    if (weights[i] <= 0.0f) continue;
    cumulative += weights[i];
    last_positive = i;
    if (target < cumulative) return static_cast<std::int32_t>(i);
  }
  return static_cast<std::int32_t>(last_positive);  // rounding at the very top
}

Expected<std::int32_t> sample_next(const SampleStep& step, const SamplerOptions& options,
                                   Rng& rng) {
  ACEFIT_TRY(validate_sampler_options(options));
  if (step.logits.empty()) return invalid_argument("no logits to sample from");
  if (options.cfg_scale > 1.0f) {
    if (step.uncond_logits.empty()) {
      return invalid_argument("cfg_scale " + sampler_number_text(options.cfg_scale) +
                              " > 1 needs the unconditional logits");
    }
    ACEFIT_TRY(apply_cfg(step.logits, step.uncond_logits, options.cfg_scale));
  }
  if (step.mask) ACEFIT_TRY(step.mask(step.logits));
  ACEFIT_TRY(sampler_check_logits(step.logits, step.first_id));
  if (options.repetition_penalty != 1.0f) {
    apply_repetition_penalty(step.logits, step.first_id, step.seen_ids, options.repetition_penalty);
  }
  apply_top_k(step.logits, options.top_k);
  apply_top_p(step.logits, options.top_p);
  ACEFIT_ASSIGN(const std::int32_t index,
                sample_index(step.logits, options.temperature, rng, step.first_id));
  return step.first_id + index;
}

}  // namespace acefit::models::lm
