// DCW, the differential correction in the wavelet domain (acestep-model.md
// 18.4): after each sampler step, the last included, the new state x_next is
// pushed away from the step's predicted clean sample denoised = x - v * t
// band by band, in a one-level Haar DWT along the time axis of [B, T, C]
// (zero padding: an odd T gets one zero frame on the right, trimmed after
// the inverse). With d = x_next - denoised and, per pair of frames
// (2k, 2k + 1), m_k = (d[2k] + d[2k + 1]) / 2 (d[T] = 0 for an odd T):
//   x_next[j] += s_low * m_k + s_high * (d[j] - m_k)      j in {2k, 2k + 1}
// which is IDWT(s_low * low(d), s_high * high(d)) for the orthonormal Haar
// filters. Per-step strengths at the step's timestep t:
//   low     s_low = t * scaler               s_high = 0
//   high    s_low = 0                        s_high = (1 - t) * scaler
//   double  s_low = t * scaler               s_high = (1 - t) * high_scaler
//   pix     x_next += scaler * d             (no wavelet)
// Arithmetic is done in double per element and stored as float.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "core/status.h"
#include "pipeline/sampler.h"

namespace acefit {

enum class DcwMode { low, high, both, pix };  // both: "double"

inline constexpr double kDefaultDcwScaler = 0.05;
inline constexpr double kDefaultDcwHighScaler = 0.02;
// The largest |scaler| accepted: the correction adds up to that fraction of
// x_next - denoised per step.
inline constexpr double kMaxDcwScaler = 1.0;

struct DcwOptions {
  bool enabled = false;  // on by default for turbo models, off for base/SFT (the caller's choice)
  DcwMode mode = DcwMode::both;
  double scaler = kDefaultDcwScaler;
  double high_scaler = kDefaultDcwHighScaler;  // the high band of mode double only
};

// "low", "high", "double", "pix".
std::string_view dcw_mode_name(DcwMode mode);
// The mode of a name dcw_mode_name gives; nullopt for any other text.
std::optional<DcwMode> parse_dcw_mode(std::string_view name);

// invalid_argument unless both scalers are finite with |scaler| <= 1.
Status validate_dcw_options(const DcwOptions& options);

// The band strengths of a step at timestep t (pix: low = high = scaler,
// which is the same correction without the transform).
struct DcwStrengths {
  double low = 0;
  double high = 0;
};
DcwStrengths dcw_strengths(const DcwOptions& options, double t);

// Corrects x_next in place after a step from x_before with velocity v (the
// guided one, as the step used it) at timestep t. Nothing happens when
// options.enabled is false. invalid_argument for mismatched sizes, an
// invalid shape or options, or a non-finite t.
Status apply_dcw(const DcwOptions& options, LatentShape shape, std::span<float> x_next,
                 std::span<const float> x_before, std::span<const float> v, double t);

}  // namespace acefit
