// DCW: the Haar-domain correction after a sampler step (acestep-model.md 18.4).
#include "pipeline/dcw.h"

#include <cmath>
#include <string>

namespace acefit {

std::string_view dcw_mode_name(DcwMode mode) {
  switch (mode) {
    case DcwMode::low:
      return "low";
    case DcwMode::high:
      return "high";
    case DcwMode::both:
      return "double";
    case DcwMode::pix:
      return "pix";
  }
  return "unknown";
}

std::optional<DcwMode> parse_dcw_mode(std::string_view name) {
  for (const DcwMode mode : {DcwMode::low, DcwMode::high, DcwMode::both, DcwMode::pix}) {
    if (name == dcw_mode_name(mode)) return mode;
  }
  return std::nullopt;
}

Status validate_dcw_options(const DcwOptions& options) {
  const auto check = [](const char* what, double value) -> Status {
    if (!std::isfinite(value) || std::fabs(value) > kMaxDcwScaler) {
      return invalid_argument(std::string("DCW ") + what +
                              " must be a finite number in [-1, 1], got " + std::to_string(value));
    }
    return {};
  };
  ACEFIT_TRY(check("scaler", options.scaler));
  ACEFIT_TRY(check("high scaler", options.high_scaler));
  if (dcw_mode_name(options.mode) == "unknown") return invalid_argument("unknown DCW mode");
  return {};
}

DcwStrengths dcw_strengths(const DcwOptions& options, double t) {
  switch (options.mode) {
    case DcwMode::low:
      return {t * options.scaler, 0.0};
    case DcwMode::high:
      return {0.0, (1.0 - t) * options.scaler};
    case DcwMode::both:
      return {t * options.scaler, (1.0 - t) * options.high_scaler};
    case DcwMode::pix:
      return {options.scaler, options.scaler};
  }
  return {};
}

Status apply_dcw(const DcwOptions& options, LatentShape shape, std::span<float> x_next,
                 std::span<const float> x_before, std::span<const float> v, double t) {
  if (!options.enabled) return {};
  ACEFIT_TRY(validate_dcw_options(options));
  ACEFIT_TRY(shape.validate());
  const auto count = static_cast<std::size_t>(shape.element_count());
  if (x_next.size() != count || x_before.size() != count || v.size() != count) {
    return invalid_argument("DCW: x_next, x and v must each have " + std::to_string(count) +
                            " values for the shape, got " + std::to_string(x_next.size()) + ", " +
                            std::to_string(x_before.size()) + " and " + std::to_string(v.size()));
  }
  if (!std::isfinite(t)) return invalid_argument("DCW: the timestep is not finite");
  const DcwStrengths s = dcw_strengths(options, t);
  const auto frames = static_cast<std::size_t>(shape.frames);
  const auto channels = static_cast<std::size_t>(shape.channels);
  // d = x_next - denoised, with denoised rounded to float as the step rounds
  // x_next (so the last step, whose x_next is denoised, gets d = 0 exactly).
  const auto difference = [&](std::size_t i) {
    const auto denoised =
        static_cast<float>(static_cast<double>(x_before[i]) - static_cast<double>(v[i]) * t);
    return static_cast<double>(x_next[i]) - static_cast<double>(denoised);
  };
  for (std::size_t b = 0; b < static_cast<std::size_t>(shape.batch); ++b) {
    const std::size_t item = b * frames * channels;
    for (std::size_t f = 0; f < frames; f += 2) {
      const bool pair = f + 1 < frames;  // else the zero padding frame
      for (std::size_t c = 0; c < channels; ++c) {
        const std::size_t i0 = item + f * channels + c;
        const std::size_t i1 = i0 + channels;
        const double d0 = difference(i0);
        const double d1 = pair ? difference(i1) : 0.0;
        const double mean = 0.5 * (d0 + d1);
        x_next[i0] = static_cast<float>(static_cast<double>(x_next[i0]) + s.low * mean +
                                        s.high * (d0 - mean));
        if (pair) {
          x_next[i1] = static_cast<float>(static_cast<double>(x_next[i1]) + s.low * mean +
                                          s.high * (d1 - mean));
        }
      }
    }
  }
  return {};
}

}  // namespace acefit
