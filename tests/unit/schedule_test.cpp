// Sampling schedules against the literal tables of acestep-model.md 11.1 and
// the base schedule formula of 11.2.
#include "pipeline/schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace acefit {
namespace {

const std::vector<double> kShift1 = {1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125};
const std::vector<double> kShift2 = {1.0,
                                     0.9333333333333333,
                                     0.8571428571428571,
                                     0.7692307692307693,
                                     0.6666666666666666,
                                     0.5454545454545454,
                                     0.4,
                                     0.2222222222222222};
const std::vector<double> kShift3 = {1.0,  0.9545454545454546, 0.9, 0.8333333333333334,
                                     0.75, 0.6428571428571429, 0.5, 0.3};
const std::vector<double> kValid = {1.0,
                                    0.9545454545454546,
                                    0.9333333333333333,
                                    0.9,
                                    0.875,
                                    0.8571428571428571,
                                    0.8333333333333334,
                                    0.7692307692307693,
                                    0.75,
                                    0.6666666666666666,
                                    0.6428571428571429,
                                    0.625,
                                    0.5454545454545454,
                                    0.5,
                                    0.4,
                                    0.375,
                                    0.3,
                                    0.25,
                                    0.2222222222222222,
                                    0.125};

void expect_turbo(const Schedule& schedule, const std::vector<double>& expected) {
  EXPECT_TRUE(schedule.turbo);
  ASSERT_EQ(schedule.t.size(), expected.size() + 1);
  EXPECT_EQ(schedule.step_count(), static_cast<int>(expected.size()));
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_DOUBLE_EQ(schedule.t[i], expected[i]) << "t[" << i << "]";
  }
  EXPECT_EQ(schedule.t.back(), 0.0);
}

TEST(Schedule, TurboTablesMatchSpec) {
  auto s1 = turbo_schedule(1.0);
  auto s2 = turbo_schedule(2.0);
  auto s3 = turbo_schedule(3.0);
  ASSERT_TRUE(s1.ok() && s2.ok() && s3.ok());
  expect_turbo(*s1, kShift1);
  expect_turbo(*s2, kShift2);
  expect_turbo(*s3, kShift3);
}

// 18.3: n = 1..8 steps, u_i = 1 - i/n, t_i = s u_i / (1 + (s - 1) u_i), any
// real s > 0, no snapping; the final value is 0.
TEST(Schedule, TurboStepsAndShiftFollowTheFormula) {
  for (const double shift : {1.0, 2.5, 3.0, 0.3, 2.7}) {
    for (int n = 1; n <= kTurboStepCount; ++n) {
      auto schedule = turbo_schedule(shift, n);
      ASSERT_TRUE(schedule.ok()) << schedule.status().to_string();
      EXPECT_TRUE(schedule->turbo);
      ASSERT_EQ(schedule->step_count(), n);
      ASSERT_EQ(schedule->t.size(), static_cast<std::size_t>(n) + 1);
      for (int i = 0; i < n; ++i) {
        const double u = 1.0 - static_cast<double>(i) / n;
        const double expected = shift * u / (1.0 + (shift - 1.0) * u);
        EXPECT_DOUBLE_EQ(schedule->t[static_cast<std::size_t>(i)], expected)
            << "shift " << shift << " n " << n << " i " << i;
      }
      EXPECT_EQ(schedule->t.front(), 1.0);
      EXPECT_EQ(schedule->t.back(), 0.0);
      for (int i = 0; i < n; ++i) EXPECT_GT(schedule->t[i], schedule->t[i + 1]);
    }
  }
  // A few values written out: 5 steps at shift 2.5, 1 step, shift 0.3.
  expect_turbo(*turbo_schedule(2.5, 5), {1.0, 2.0 / 2.2, 1.5 / 1.9, 1.0 / 1.6, 0.5 / 1.3});
  expect_turbo(*turbo_schedule(3.0, 1), {1.0});
  expect_turbo(*turbo_schedule(0.3, 2), {1.0, 0.15 / 0.65});
  // No snapping: 2.7 is not the shift 3 table, and 8 steps is the default.
  EXPECT_NE(turbo_schedule(2.7)->t[1], kShift3[1]);
  EXPECT_EQ(turbo_schedule(3.0)->t, turbo_schedule(3.0, 8)->t);
}

TEST(Schedule, TurboEightStepsAtShiftsOneTwoThreeAreTheTables) {
  expect_turbo(*turbo_schedule(1.0, 8), kShift1);
  expect_turbo(*turbo_schedule(2.0, 8), kShift2);
  expect_turbo(*turbo_schedule(3.0, 8), kShift3);
}

TEST(Schedule, TurboRejectsStepCountsOutsideOneToEight) {
  for (const int steps : {0, -1, 9, 50}) {
    auto schedule = turbo_schedule(3.0, steps);
    ASSERT_FALSE(schedule.ok()) << steps;
    EXPECT_EQ(schedule.status().code(), ErrorCode::invalid_argument);
    EXPECT_NE(schedule.status().message().find("steps"), std::string::npos);
  }
}

TEST(Schedule, RejectsBadShift) {
  for (double shift : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(),
                       std::numeric_limits<double>::infinity()}) {
    auto turbo = turbo_schedule(shift);
    ASSERT_FALSE(turbo.ok());
    EXPECT_EQ(turbo.status().code(), ErrorCode::invalid_argument);
    EXPECT_NE(turbo.status().message().find("shift"), std::string::npos);
    EXPECT_FALSE(base_schedule(10, shift).ok());
  }
}

TEST(Schedule, ValidTimestepsAreTheSpecList) {
  const auto& valid = turbo_valid_timesteps();
  ASSERT_EQ(valid.size(), kValid.size());
  for (std::size_t i = 0; i < kValid.size(); ++i) EXPECT_DOUBLE_EQ(valid[i], kValid[i]) << i;
}

TEST(Schedule, CustomTimestepsSnapStripAndTruncate) {
  const std::vector<double> custom = {0.97, 0.8, 0.52, 0.11, 0.0, 0.0};
  auto schedule = turbo_custom_schedule(custom, 3.0);
  ASSERT_TRUE(schedule.ok()) << schedule.status().to_string();
  expect_turbo(*schedule, {0.9545454545454546, 0.7692307692307693, 0.5, 0.125});

  // Empty, or only zeros: the shift schedule.
  auto empty = turbo_custom_schedule({}, 2.0);
  ASSERT_TRUE(empty.ok());
  expect_turbo(*empty, kShift2);
  const std::vector<double> zeros = {0.0, 0.0};
  auto only_zeros = turbo_custom_schedule(zeros, 1.0);
  ASSERT_TRUE(only_zeros.ok());
  expect_turbo(*only_zeros, kShift1);

  // More than 20: the first 20 are kept.
  std::vector<double> many(25, 0.5);
  many[19] = 0.3;
  many[20] = 0.125;
  auto truncated = turbo_custom_schedule(many, 3.0);
  ASSERT_TRUE(truncated.ok());
  EXPECT_EQ(truncated->step_count(), 20);
  EXPECT_DOUBLE_EQ(truncated->t[19], 0.3);
  EXPECT_EQ(truncated->t[20], 0.0);

  // A zero inside the list is kept (snapped to 0.125).
  const std::vector<double> inner_zero = {1.0, 0.0, 0.5};
  auto inner = turbo_custom_schedule(inner_zero, 3.0);
  ASSERT_TRUE(inner.ok());
  expect_turbo(*inner, {1.0, 0.125, 0.5});
}

TEST(Schedule, CustomTimestepsRejectOutOfRange) {
  for (double bad : {1.5, -0.1, std::numeric_limits<double>::quiet_NaN()}) {
    const std::vector<double> custom = {1.0, bad};
    auto schedule = turbo_custom_schedule(custom, 3.0);
    ASSERT_FALSE(schedule.ok());
    EXPECT_NE(schedule.status().message().find("timestep 1"), std::string::npos)
        << schedule.status().message();
  }
}

TEST(Schedule, BaseUnshiftedIsLinspace) {
  auto schedule = base_schedule(4, 1.0);
  ASSERT_TRUE(schedule.ok());
  EXPECT_FALSE(schedule->turbo);
  const std::vector<double> expected = {1.0, 0.75, 0.5, 0.25, 0.0};
  ASSERT_EQ(schedule->t, expected);
}

TEST(Schedule, BaseShifted) {
  auto schedule = base_schedule(50, 3.0);
  ASSERT_TRUE(schedule.ok());
  ASSERT_EQ(schedule->t.size(), 51u);
  EXPECT_EQ(schedule->t.front(), 1.0);
  EXPECT_EQ(schedule->t.back(), 0.0);
  for (int i = 0; i <= 50; ++i) {
    const double u = 1.0 - i / 50.0;
    EXPECT_NEAR(schedule->t[static_cast<std::size_t>(i)], 3.0 * u / (1.0 + 2.0 * u), 1e-15);
  }
  // With 8 steps and shift 3 the base schedule is the turbo table.
  auto eight = base_schedule(8, 3.0);
  ASSERT_TRUE(eight.ok());
  for (std::size_t i = 0; i < kShift3.size(); ++i) EXPECT_DOUBLE_EQ(eight->t[i], kShift3[i]);
}

TEST(Schedule, BaseRejectsBadSteps) {
  for (int steps : {0, -3, 1001}) {
    auto schedule = base_schedule(steps, 1.0);
    ASSERT_FALSE(schedule.ok());
    EXPECT_NE(schedule.status().message().find("steps"), std::string::npos);
  }
  EXPECT_TRUE(base_schedule(1, 1.0).ok());
  EXPECT_TRUE(base_schedule(1000, 1.0).ok());
}

}  // namespace
}  // namespace acefit
