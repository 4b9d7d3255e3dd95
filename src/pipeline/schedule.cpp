// Sampling schedules (acestep-model.md 11.1, 11.2, 18.3).
#include "pipeline/schedule.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

namespace acefit {

namespace {

Status check_shift(double shift) {
  if (!std::isfinite(shift) || shift <= 0) {
    return invalid_argument("shift must be a finite number > 0, got " + std::to_string(shift));
  }
  return {};
}

std::vector<double> turbo_values(double shift, int steps) {
  std::vector<double> t;
  t.reserve(static_cast<std::size_t>(steps) + 1);
  for (int i = 0; i < steps; ++i) {
    const double u = 1.0 - static_cast<double>(i) / steps;
    t.push_back(shift_timestep(u, shift));
  }
  return t;
}

}  // namespace

double shift_timestep(double u, double shift) {
  return shift * u / (1.0 + (shift - 1.0) * u);
}

const std::array<double, 20>& turbo_valid_timesteps() {
  static const std::array<double, 20> values = [] {
    std::vector<double> all;
    for (double shift : {1.0, 2.0, 3.0}) {
      const std::vector<double> t = turbo_values(shift, kTurboStepCount);
      all.insert(all.end(), t.begin(), t.end());
    }
    std::sort(all.begin(), all.end(), std::greater<>());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    std::array<double, 20> out{};
    // 24 values with 1.0 three times and 0.75, 0.5 twice: 20 distinct.
    std::copy_n(all.begin(), std::min<std::size_t>(all.size(), out.size()), out.begin());
    return out;
  }();
  return values;
}

double snap_turbo_timestep(double t) {
  const auto& valid = turbo_valid_timesteps();
  double best = valid[0];
  for (double candidate : valid) {
    if (std::abs(candidate - t) < std::abs(best - t)) best = candidate;
  }
  return best;
}

Expected<Schedule> turbo_schedule(double shift, int steps) {
  ACEFIT_TRY(check_shift(shift));
  if (steps < 1 || steps > kTurboStepCount) {
    return invalid_argument("turbo steps must be between 1 and " + std::to_string(kTurboStepCount) +
                            ", got " + std::to_string(steps));
  }
  Schedule schedule;
  schedule.turbo = true;
  schedule.t = turbo_values(shift, steps);
  schedule.t.front() = 1.0;  // u_0 = 1 (s / (1 + (s - 1)) may round to 1 - 1 ulp)
  schedule.t.push_back(0.0);
  return schedule;
}

Expected<Schedule> turbo_custom_schedule(std::span<const double> timesteps, double shift) {
  ACEFIT_TRY(check_shift(shift));
  for (std::size_t i = 0; i < timesteps.size(); ++i) {
    const double t = timesteps[i];
    if (!std::isfinite(t) || t < 0.0 || t > 1.0) {
      return invalid_argument("custom timestep " + std::to_string(i) + " is " + std::to_string(t) +
                              "; timesteps must be finite and in [0, 1]");
    }
  }
  std::size_t count = timesteps.size();
  while (count > 0 && timesteps[count - 1] == 0.0) --count;
  if (count == 0) return turbo_schedule(shift);
  count = std::min<std::size_t>(count, kMaxCustomTimesteps);
  Schedule schedule;
  schedule.turbo = true;
  schedule.t.reserve(count + 1);
  for (std::size_t i = 0; i < count; ++i) schedule.t.push_back(snap_turbo_timestep(timesteps[i]));
  schedule.t.push_back(0.0);
  return schedule;
}

Expected<Schedule> base_schedule(int steps, double shift) {
  if (steps < kMinBaseSteps || steps > kMaxBaseSteps) {
    return invalid_argument("steps must be between " + std::to_string(kMinBaseSteps) + " and " +
                            std::to_string(kMaxBaseSteps) + ", got " + std::to_string(steps));
  }
  ACEFIT_TRY(check_shift(shift));
  Schedule schedule;
  schedule.turbo = false;
  schedule.t.reserve(static_cast<std::size_t>(steps) + 1);
  for (int i = 0; i <= steps; ++i) {
    const double u = 1.0 - static_cast<double>(i) / steps;
    schedule.t.push_back(shift == 1.0 ? u : shift_timestep(u, shift));
  }
  schedule.t.front() = 1.0;
  schedule.t.back() = 0.0;
  return schedule;
}

}  // namespace acefit
