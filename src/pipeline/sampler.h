// The flow-matching update rules of acestep-model.md 11 on host float
// buffers laid out [B, T, C] (batch item, frame, channel; C fastest):
// Euler/ODE steps, the turbo last-step jump to x0, the turbo and base SDE
// steps with caller-supplied noise, classifier-free guidance (APG by
// default, plain CFG as an option) with its t interval, and the 11.4 check
// of a finished result. Convention: x_t = t * noise + (1 - t) * x0, the
// model predicts v = noise - x0, so x0 = x_t - t * v. Arithmetic is done in
// double per element and stored as float.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "pipeline/schedule.h"

namespace acefit {

// The [B, T, C] layout of a latent buffer.
struct LatentShape {
  std::int64_t batch = 0;
  std::int64_t frames = 0;
  std::int64_t channels = 0;

  std::int64_t element_count() const { return batch * frames * channels; }
  // invalid_argument unless every dim is > 0 (and the count fits).
  Status validate() const;
};

// ---- elementary updates (every span must have the same size) ----

// x <- x - v * (t_from - t_to): one Euler (ODE) step.
Status euler_step(std::span<float> x, std::span<const float> v, double t_from, double t_to);

// x <- x - v * t: the jump straight to t = 0 (turbo last step).
Status jump_to_x0(std::span<float> x, std::span<const float> v, double t);

// x0_hat = x - v * t; x <- level * noise + (1 - level) * x0_hat.
Status sde_step(std::span<float> x, std::span<const float> v, std::span<const float> noise,
                double t, double level);

// ---- schedule-driven steps ----

enum class InferMethod { ode, sde };

// The noise level an SDE step re-noises to after step `step` (0-based):
// turbo t[step + 1]; base 1 - (step + 1) / steps (unshifted, a reference
// quirk). 0 for the last step.
double sde_noise_level(const Schedule& schedule, int step);

// Applies step `step` of `schedule` to x given the model's v at t[step].
// ode: Euler to t[step + 1] (the last step is the jump to x0). sde: every
// step but the last re-noises with `noise` (same size as x; it may be empty
// for ode and for the last step); the last step is the jump to x0.
Status sampler_step(const Schedule& schedule, int step, InferMethod method, std::span<float> x,
                    std::span<const float> v, std::span<const float> noise = {});

// ---- guidance (11.2) ----

// Whether CFG applies at time t: cfg_interval_start <= t <= cfg_interval_end.
bool cfg_active(double t, double cfg_interval_start, double cfg_interval_end);

// v = v_uncond + g * (v_cond - v_uncond), into `out` (which may alias
// v_cond or v_uncond).
Status plain_cfg(std::span<const float> v_cond, std::span<const float> v_uncond, double guidance,
                 std::span<float> out);

struct ApgOptions {
  double momentum = -0.75;      // m <- d + momentum * m
  double norm_threshold = 2.5;  // clip ||d|| over the time axis to this (<= 0: no clip)
  double eta = 0.0;             // weight of the parallel component
};

// Adaptive projected guidance. Create one per generation: the momentum
// buffer starts at 0 and is updated on each apply() call, which the caller
// makes only on CFG steps. Per (batch item, channel), over the time axis:
//   m <- d + momentum * m, d <- m            (d = v_cond - v_uncond)
//   d <- d * min(1, threshold / ||d||)
//   u = v_cond / ||v_cond||, d_par = (sum_t d * u) u, d_orth = d - d_par (double)
//   v = v_cond + (g - 1) (d_orth + eta d_par)
class ApgState {
 public:
  // invalid_argument for an invalid shape or non-finite options.
  static Expected<ApgState> create(LatentShape shape, ApgOptions options = {});

  // Writes the guided v into `out` (shape-sized; it may alias v_cond or
  // v_uncond) and updates the momentum.
  Status apply(std::span<const float> v_cond, std::span<const float> v_uncond, double guidance,
               std::span<float> out);

  // Sets the momentum back to 0 (a new generation with the same shape).
  void reset();

  const LatentShape& shape() const { return shape_; }
  const std::vector<float>& momentum_buffer() const { return momentum_; }

 private:
  ApgState(LatentShape shape, ApgOptions options);
  LatentShape shape_;
  ApgOptions options_;
  std::vector<float> momentum_;
};

enum class GuidanceMethod { apg, cfg };

struct GuidanceOptions {
  double scale = 7.0;  // guidance > 1 enables CFG
  GuidanceMethod method = GuidanceMethod::apg;
  double interval_start = 0.0;
  double interval_end = 1.0;
};

// The guided prediction for a step at time t, into `out`: v_cond as is
// when scale <= 1 or t is outside the interval; else APG (apg must be
// non-null) or plain CFG. Returns whether guidance was applied.
Expected<bool> apply_guidance(const GuidanceOptions& options, double t, ApgState* apg,
                              std::span<const float> v_cond, std::span<const float> v_uncond,
                              std::span<float> out);

// ---- 11.4 ----

// ok when x is finite and not all zeros; otherwise internal error naming
// `what`, the number of NaN / Inf values and the first one's [b, t, c]
// position, or that every value is zero. An empty buffer is an error too.
Status check_sampled_latents(std::span<const float> x, LatentShape shape,
                             std::string_view what = "sampled latents");

}  // namespace acefit
