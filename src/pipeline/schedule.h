// Sampling schedules for the DiT (acestep-model.md 11.1, 11.2, 18.3): the
// turbo models' schedule of 1 to 8 steps at any shift > 0, custom turbo
// timesteps snapped to the 20 values the turbo models were trained on, and
// the base/SFT models' shifted linspace schedule. All values are computed
// in double; the reference rounds them to the model dtype (bf16), which
// acefit does not reproduce.
//
// Convention: Schedule::t holds step_count() + 1 values, from t[0] = 1 (or
// the first custom timestep) down to t.back() = 0. Step i moves from t[i] to
// t[i + 1]; the model is evaluated at t[0] .. t[step_count() - 1]. For turbo
// schedules the final 0 is the "implied" end of 11.1: the last step jumps
// straight to x0 = x - v * t[n - 1], which is an Euler step to t = 0.
#pragma once

#include <array>
#include <span>
#include <vector>

#include "core/status.h"

namespace acefit {

inline constexpr int kTurboStepCount = 8;  // the default and the most a turbo model takes
inline constexpr int kMaxCustomTimesteps = 20;
inline constexpr int kMinBaseSteps = 1;
inline constexpr int kMaxBaseSteps = 1000;

struct Schedule {
  std::vector<double> t;  // step_count() + 1 values, decreasing to exactly 0
  bool turbo = false;     // turbo rules: SDE noise level t[i + 1]; else 1 - (i + 1) / steps

  int step_count() const { return t.empty() ? 0 : static_cast<int>(t.size()) - 1; }
};

// s * u / (1 + (s - 1) * u), the shift applied to a time value u in [0, 1].
double shift_timestep(double u, double shift);

// The 20 distinct turbo timesteps (the union of the shift 1, 2, 3
// schedules), in decreasing order.
const std::array<double, 20>& turbo_valid_timesteps();

// The nearest valid turbo timestep (a tie goes to the larger value).
double snap_turbo_timestep(double t);

// The turbo schedule of `steps` steps (18.3): u_i = 1 - i / steps and
// t_i = shift * u_i / (1 + (shift - 1) * u_i) for i = 0 .. steps - 1, any
// real shift > 0 (no snapping), then the final 0. For 8 steps and shift 1,
// 2, 3 these are the tables of 11.1. invalid_argument unless 1 <= steps <= 8
// and shift is finite and > 0.
Expected<Schedule> turbo_schedule(double shift, int steps = kTurboStepCount);

// Custom turbo timesteps: trailing zeros are stripped; an empty list gives
// turbo_schedule(shift); only the first 20 values are kept; each is snapped
// to the nearest valid value. Values must be finite and in [0, 1]. The step
// count is the (kept) list length; a final 0 is appended.
Expected<Schedule> turbo_custom_schedule(std::span<const double> timesteps, double shift);

// The base/SFT schedule: linspace(1, 0, steps + 1), shifted when shift != 1.
// invalid_argument unless 1 <= steps <= 1000 and shift is finite and > 0.
Expected<Schedule> base_schedule(int steps, double shift);

}  // namespace acefit
