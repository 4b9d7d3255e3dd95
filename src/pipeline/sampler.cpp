// Flow-matching update rules, guidance and the result check
// (acestep-model.md 11.1, 11.2, 11.4).
#include "pipeline/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace acefit {

namespace {

Status check_sizes(std::string_view what, std::size_t expected, std::size_t actual) {
  if (expected != actual) {
    return invalid_argument(std::string(what) + " has " + std::to_string(actual) +
                            " elements, expected " + std::to_string(expected));
  }
  return {};
}

Status check_time(std::string_view what, double t) {
  if (!std::isfinite(t)) return invalid_argument(std::string(what) + " is not finite");
  return {};
}

}  // namespace

Status LatentShape::validate() const {
  if (batch <= 0 || frames <= 0 || channels <= 0) {
    return invalid_argument("latent shape [" + std::to_string(batch) + ", " +
                            std::to_string(frames) + ", " + std::to_string(channels) +
                            "] must have every dimension > 0");
  }
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  if (batch > max / frames || batch * frames > max / channels) {
    return invalid_argument("latent shape element count overflows");
  }
  return {};
}

Status euler_step(std::span<float> x, std::span<const float> v, double t_from, double t_to) {
  ACEFIT_TRY(check_sizes("v", x.size(), v.size()));
  ACEFIT_TRY(check_time("t_from", t_from));
  ACEFIT_TRY(check_time("t_to", t_to));
  const double dt = t_from - t_to;
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = static_cast<float>(static_cast<double>(x[i]) - static_cast<double>(v[i]) * dt);
  }
  return {};
}

Status jump_to_x0(std::span<float> x, std::span<const float> v, double t) {
  return euler_step(x, v, t, 0.0);
}

Status sde_step(std::span<float> x, std::span<const float> v, std::span<const float> noise,
                double t, double level) {
  ACEFIT_TRY(check_sizes("v", x.size(), v.size()));
  ACEFIT_TRY(check_sizes("noise", x.size(), noise.size()));
  ACEFIT_TRY(check_time("t", t));
  ACEFIT_TRY(check_time("noise level", level));
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double x0 = static_cast<double>(x[i]) - static_cast<double>(v[i]) * t;
    x[i] = static_cast<float>(level * static_cast<double>(noise[i]) + (1.0 - level) * x0);
  }
  return {};
}

double sde_noise_level(const Schedule& schedule, int step) {
  const int n = schedule.step_count();
  if (step < 0 || step >= n - 1) return 0.0;
  if (schedule.turbo) return schedule.t[static_cast<std::size_t>(step) + 1];
  return 1.0 - static_cast<double>(step + 1) / n;
}

Status sampler_step(const Schedule& schedule, int step, InferMethod method, std::span<float> x,
                    std::span<const float> v, std::span<const float> noise) {
  const int n = schedule.step_count();
  if (n <= 0) return invalid_argument("the schedule has no steps");
  if (step < 0 || step >= n) {
    return invalid_argument("step " + std::to_string(step) + " is outside the schedule's " +
                            std::to_string(n) + " steps");
  }
  const double t = schedule.t[static_cast<std::size_t>(step)];
  if (step == n - 1) return jump_to_x0(x, v, t);
  if (method == InferMethod::ode) {
    return euler_step(x, v, t, schedule.t[static_cast<std::size_t>(step) + 1]);
  }
  if (noise.empty()) {
    return invalid_argument("SDE step " + std::to_string(step) + " needs noise");
  }
  return sde_step(x, v, noise, t, sde_noise_level(schedule, step));
}

bool cfg_active(double t, double cfg_interval_start, double cfg_interval_end) {
  return cfg_interval_start <= t && t <= cfg_interval_end;
}

Status plain_cfg(std::span<const float> v_cond, std::span<const float> v_uncond, double guidance,
                 std::span<float> out) {
  ACEFIT_TRY(check_sizes("v_uncond", v_cond.size(), v_uncond.size()));
  ACEFIT_TRY(check_sizes("guidance output", v_cond.size(), out.size()));
  ACEFIT_TRY(check_time("guidance scale", guidance));
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double c = v_cond[i];
    const double u = v_uncond[i];
    out[i] = static_cast<float>(u + guidance * (c - u));
  }
  return {};
}

ApgState::ApgState(LatentShape shape, ApgOptions options)
    : shape_(shape),
      options_(options),
      momentum_(static_cast<std::size_t>(shape.element_count()), 0.0f) {}

Expected<ApgState> ApgState::create(LatentShape shape, ApgOptions options) {
  ACEFIT_TRY(shape.validate());
  if (!std::isfinite(options.momentum) || !std::isfinite(options.norm_threshold) ||
      !std::isfinite(options.eta)) {
    return invalid_argument("APG momentum, norm threshold and eta must be finite");
  }
  return ApgState(shape, options);
}

void ApgState::reset() {
  std::fill(momentum_.begin(), momentum_.end(), 0.0f);
}

Status ApgState::apply(std::span<const float> v_cond, std::span<const float> v_uncond,
                       double guidance, std::span<float> out) {
  const auto count = static_cast<std::size_t>(shape_.element_count());
  ACEFIT_TRY(check_sizes("v_cond", count, v_cond.size()));
  ACEFIT_TRY(check_sizes("v_uncond", count, v_uncond.size()));
  ACEFIT_TRY(check_sizes("guidance output", count, out.size()));
  ACEFIT_TRY(check_time("guidance scale", guidance));
  const auto frames = static_cast<std::size_t>(shape_.frames);
  const auto channels = static_cast<std::size_t>(shape_.channels);
  std::vector<double> d(frames);
  for (std::size_t b = 0; b < static_cast<std::size_t>(shape_.batch); ++b) {
    const std::size_t base = b * frames * channels;
    for (std::size_t c = 0; c < channels; ++c) {
      // Momentum (kept in float, as the reference keeps it in the model dtype).
      double d_norm2 = 0.0;
      double v_norm2 = 0.0;
      for (std::size_t t = 0; t < frames; ++t) {
        const std::size_t i = base + t * channels + c;
        const float diff = v_cond[i] - v_uncond[i];
        momentum_[i] = static_cast<float>(static_cast<double>(diff) +
                                          options_.momentum * static_cast<double>(momentum_[i]));
        d[t] = momentum_[i];
        d_norm2 += d[t] * d[t];
        v_norm2 += static_cast<double>(v_cond[i]) * static_cast<double>(v_cond[i]);
      }
      // Norm clip over the time axis.
      const double d_norm = std::sqrt(d_norm2);
      double clip = 1.0;
      if (options_.norm_threshold > 0 && d_norm > options_.norm_threshold) {
        clip = options_.norm_threshold / d_norm;
      }
      // Projection onto v_cond / ||v_cond|| (normalize's eps 1e-12).
      const double inv_v_norm = 1.0 / std::max(std::sqrt(v_norm2), 1e-12);
      double dot = 0.0;
      for (std::size_t t = 0; t < frames; ++t) {
        d[t] *= clip;
        dot += d[t] * static_cast<double>(v_cond[base + t * channels + c]) * inv_v_norm;
      }
      for (std::size_t t = 0; t < frames; ++t) {
        const std::size_t i = base + t * channels + c;
        const double vc = v_cond[i];
        const double d_par = dot * vc * inv_v_norm;
        const double d_orth = d[t] - d_par;
        out[i] = static_cast<float>(vc + (guidance - 1.0) * (d_orth + options_.eta * d_par));
      }
    }
  }
  return {};
}

Expected<bool> apply_guidance(const GuidanceOptions& options, double t, ApgState* apg,
                              std::span<const float> v_cond, std::span<const float> v_uncond,
                              std::span<float> out) {
  ACEFIT_TRY(check_sizes("guidance output", v_cond.size(), out.size()));
  const bool active =
      options.scale > 1.0 && cfg_active(t, options.interval_start, options.interval_end);
  if (!active) {
    if (out.data() != v_cond.data()) std::copy(v_cond.begin(), v_cond.end(), out.begin());
    return false;
  }
  if (options.method == GuidanceMethod::cfg) {
    ACEFIT_TRY(plain_cfg(v_cond, v_uncond, options.scale, out));
    return true;
  }
  if (apg == nullptr) return invalid_argument("APG guidance needs an ApgState");
  ACEFIT_TRY(apg->apply(v_cond, v_uncond, options.scale, out));
  return true;
}

Status check_sampled_latents(std::span<const float> x, LatentShape shape, std::string_view what) {
  const std::string name(what);
  if (x.empty()) return internal_error(name + " are empty");
  std::size_t nan_count = 0;
  std::size_t inf_count = 0;
  std::size_t first_bad = x.size();
  bool any_nonzero = false;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float value = x[i];
    if (std::isnan(value)) {
      ++nan_count;
    } else if (std::isinf(value)) {
      ++inf_count;
    } else {
      if (value != 0.0f) any_nonzero = true;
      continue;
    }
    if (first_bad == x.size()) first_bad = i;
  }
  if (nan_count + inf_count > 0) {
    std::string where = "index " + std::to_string(first_bad);
    if (shape.validate().ok() && static_cast<std::int64_t>(x.size()) == shape.element_count()) {
      const auto channels = static_cast<std::size_t>(shape.channels);
      const auto frames = static_cast<std::size_t>(shape.frames);
      where += " [item " + std::to_string(first_bad / (frames * channels)) + ", frame " +
               std::to_string(first_bad / channels % frames) + ", channel " +
               std::to_string(first_bad % channels) + "]";
    }
    return internal_error(name + " contain " + std::to_string(nan_count) + " NaN and " +
                          std::to_string(inf_count) + " infinite values (first at " + where +
                          ") of " + std::to_string(x.size()));
  }
  if (!any_nonzero) {
    return internal_error(name + " are all zeros (" + std::to_string(x.size()) + " values)");
  }
  return {};
}

}  // namespace acefit
