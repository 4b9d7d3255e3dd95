#include "models/lm/codes_constraint.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "models/lm/lm_tokens.h"

namespace acefit::models::lm {
namespace codes_internal {

constexpr float kCodesMasked = -std::numeric_limits<float>::infinity();
constexpr std::int64_t kFirstCode = kFirstAudioCodeTokenId;
constexpr std::int64_t kEndCode = kFirstAudioCodeTokenId + std::int64_t{kAudioCodeValues};
constexpr std::int64_t kContextMargin = 64;
constexpr int kMinDurationS = 10;
constexpr int kMaxDurationS = 600;

bool is_code_token(std::int64_t id) {
  return id >= kFirstCode && id < kEndCode;
}

}  // namespace codes_internal

CodesConstraint::CodesConstraint(std::int64_t target_codes)
    : target_codes_(std::max<std::int64_t>(target_codes, 0)) {}

void CodesConstraint::apply(std::span<float> logits, std::int32_t first_id) const {
  using namespace codes_internal;
  const std::int64_t size = static_cast<std::int64_t>(logits.size());
  const std::int64_t first = first_id;
  const std::int64_t eos_index = std::int64_t{kImEndTokenId} - first;
  const bool eos_inside = eos_index >= 0 && eos_index < size;
  const float eos_score = eos_inside ? logits[static_cast<std::size_t>(eos_index)] : kCodesMasked;
  if (finished_ || done()) {
    std::fill(logits.begin(), logits.end(), kCodesMasked);
    if (!finished_ && eos_inside) logits[static_cast<std::size_t>(eos_index)] = eos_score;
    return;
  }
  // Everything outside [kFirstCode, kEndCode) goes, EOS included.
  const std::int64_t keep_begin = std::clamp(kFirstCode - first, std::int64_t{0}, size);
  const std::int64_t keep_end = std::clamp(kEndCode - first, std::int64_t{0}, size);
  std::fill(logits.begin(), logits.begin() + keep_begin, kCodesMasked);
  std::fill(logits.begin() + keep_end, logits.end(), kCodesMasked);
}

Status CodesConstraint::accept(std::int32_t token) {
  using namespace codes_internal;
  if (finished_)
    return invalid_argument("audio-code token " + std::to_string(token) + " after EOS");
  if (done()) {
    if (token != kImEndTokenId) {
      return invalid_argument("token " + std::to_string(token) + " after all " +
                              std::to_string(target_codes_) + " audio codes (only EOS)");
    }
    finished_ = true;
    return {};
  }
  if (!is_code_token(token)) {
    return invalid_argument("token " + std::to_string(token) + " is not an audio code (" +
                            std::to_string(codes_) + " of " + std::to_string(target_codes_) +
                            " codes written)");
  }
  ++codes_;
  return {};
}

std::optional<std::int32_t> CodesConstraint::forced_token() const {
  using namespace codes_internal;
  if (done() && !finished_) return kImEndTokenId;
  return std::nullopt;
}

std::int64_t clamped_target_codes(double target_duration_s, int tier_max_duration_s) {
  using namespace codes_internal;
  const double high = std::max(kMinDurationS, std::min(tier_max_duration_s, kMaxDurationS));
  // NaN counts as the shortest duration, +infinity as the longest.
  const double target = std::isnan(target_duration_s) ? double{kMinDurationS} : target_duration_s;
  const double effective = std::clamp(target, double{kMinDurationS}, high);
  return static_cast<std::int64_t>(effective * 5.0);
}

namespace codes_internal {

std::int64_t budget(std::optional<double> target_duration_s, int tier_max_duration_s,
                    std::int64_t context_tokens, std::int64_t extra) {
  const std::int64_t cap = std::max<std::int64_t>(context_tokens - kContextMargin, 0);
  if (!target_duration_s || !std::isfinite(*target_duration_s)) return cap;
  return std::min(clamped_target_codes(*target_duration_s, tier_max_duration_s) + extra, cap);
}

}  // namespace codes_internal

std::int64_t max_new_tokens_codes(std::optional<double> target_duration_s, int tier_max_duration_s,
                                  std::int64_t context_tokens) {
  using namespace codes_internal;
  return budget(target_duration_s, tier_max_duration_s, context_tokens, 10);
}

std::int64_t max_new_tokens_cot(std::optional<double> target_duration_s, int tier_max_duration_s,
                                std::int64_t context_tokens) {
  using namespace codes_internal;
  return budget(target_duration_s, tier_max_duration_s, context_tokens, 500);
}

}  // namespace acefit::models::lm
