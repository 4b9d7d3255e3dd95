// Sampler update rules and guidance (acestep-model.md 11) against values
// computed naively in double in the test.
#include "pipeline/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/rng.h"

namespace acefit {
namespace {

std::vector<float> random_values(std::uint64_t seed, std::size_t count, float scale = 1.0f) {
  Rng rng(seed);
  std::vector<float> out(count);
  for (float& value : out) value = rng.normal() * scale;
  return out;
}

TEST(Sampler, EulerAndJump) {
  std::vector<float> x = {1.0f, -2.0f, 0.5f};
  const std::vector<float> v = {0.5f, 1.0f, -4.0f};
  ASSERT_TRUE(euler_step(x, v, 1.0, 0.75).ok());
  EXPECT_FLOAT_EQ(x[0], 1.0f - 0.5f * 0.25f);
  EXPECT_FLOAT_EQ(x[1], -2.0f - 0.25f);
  EXPECT_FLOAT_EQ(x[2], 0.5f + 1.0f);
  ASSERT_TRUE(jump_to_x0(x, v, 0.3).ok());
  EXPECT_FLOAT_EQ(x[0], 0.875f - 0.15f);
  EXPECT_FLOAT_EQ(x[1], -2.25f - 0.3f);
  EXPECT_FLOAT_EQ(x[2], 1.5f + 1.2f);

  const std::vector<float> short_v = {1.0f};
  const Status bad = euler_step(x, short_v, 1.0, 0.5);
  EXPECT_EQ(bad.code(), ErrorCode::invalid_argument);
  EXPECT_NE(bad.message().find("v has 1 elements, expected 3"), std::string::npos);
}

// With the exact flow (v = noise - x0 at every step) the ODE recovers x0.
TEST(Sampler, TurboOdeRecoversCleanSignalOnStraightFlow) {
  auto schedule = turbo_schedule(3.0);
  ASSERT_TRUE(schedule.ok());
  const std::vector<float> x0 = random_values(1, 64);
  const std::vector<float> eps = random_values(2, 64);
  std::vector<float> v(64);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = eps[i] - x0[i];
  std::vector<float> x = eps;
  for (int step = 0; step < schedule->step_count(); ++step) {
    ASSERT_TRUE(sampler_step(*schedule, step, InferMethod::ode, x, v).ok());
  }
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], x0[i], 1e-5);
}

TEST(Sampler, TurboStepsMatchFormulas) {
  auto schedule = turbo_schedule(3.0);
  ASSERT_TRUE(schedule.ok());
  const std::vector<float> v = {0.25f, -1.0f};
  const std::vector<float> noise = {1.5f, -0.5f};
  const std::vector<float> start = {0.8f, -0.3f};

  // ODE step 2: t 0.9 -> 0.8333...
  std::vector<float> x = start;
  ASSERT_TRUE(sampler_step(*schedule, 2, InferMethod::ode, x, v).ok());
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_FLOAT_EQ(x[i], static_cast<float>(start[i] - v[i] * (0.9 - 0.8333333333333334)));
  }
  // SDE step 2: x0 = x - 0.9 v; x = t3 eps + (1 - t3) x0 with t3 = 0.8333...
  x = start;
  ASSERT_TRUE(sampler_step(*schedule, 2, InferMethod::sde, x, v, noise).ok());
  for (std::size_t i = 0; i < 2; ++i) {
    const double x0 = start[i] - 0.9 * v[i];
    const double t = 0.8333333333333334;
    EXPECT_FLOAT_EQ(x[i], static_cast<float>(t * noise[i] + (1 - t) * x0));
  }
  // The last step jumps to x0 for both methods, without noise.
  for (InferMethod method : {InferMethod::ode, InferMethod::sde}) {
    x = start;
    ASSERT_TRUE(sampler_step(*schedule, 7, method, x, v).ok());
    for (std::size_t i = 0; i < 2; ++i) {
      EXPECT_FLOAT_EQ(x[i], static_cast<float>(start[i] - 0.3 * v[i]));
    }
  }
  // SDE without noise, and steps outside the schedule, are errors.
  x = start;
  EXPECT_FALSE(sampler_step(*schedule, 0, InferMethod::sde, x, v).ok());
  EXPECT_FALSE(sampler_step(*schedule, 8, InferMethod::ode, x, v).ok());
  EXPECT_FALSE(sampler_step(*schedule, -1, InferMethod::ode, x, v).ok());
}

TEST(Sampler, BaseSdeUsesUnshiftedLevel) {
  auto schedule = base_schedule(4, 3.0);
  ASSERT_TRUE(schedule.ok());
  EXPECT_DOUBLE_EQ(sde_noise_level(*schedule, 0), 0.75);
  EXPECT_DOUBLE_EQ(sde_noise_level(*schedule, 1), 0.5);
  EXPECT_DOUBLE_EQ(sde_noise_level(*schedule, 2), 0.25);
  EXPECT_DOUBLE_EQ(sde_noise_level(*schedule, 3), 0.0);
  auto turbo = turbo_schedule(3.0);
  ASSERT_TRUE(turbo.ok());
  EXPECT_DOUBLE_EQ(sde_noise_level(*turbo, 0), 0.9545454545454546);

  const std::vector<float> v = {2.0f};
  const std::vector<float> noise = {-1.0f};
  std::vector<float> x = {0.5f};
  ASSERT_TRUE(sampler_step(*schedule, 1, InferMethod::sde, x, v, noise).ok());
  const double t1 = 3.0 * 0.75 / (1.0 + 2.0 * 0.75);
  const double x0 = 0.5 - 2.0 * t1;
  EXPECT_FLOAT_EQ(x[0], static_cast<float>(0.5 * -1.0 + 0.5 * x0));
  // Base Euler: x <- x - v (t_i - t_{i+1}).
  x = {0.5f};
  ASSERT_TRUE(sampler_step(*schedule, 1, InferMethod::ode, x, v).ok());
  const double t2 = 3.0 * 0.5 / (1.0 + 2.0 * 0.5);
  EXPECT_FLOAT_EQ(x[0], static_cast<float>(0.5 - 2.0 * (t1 - t2)));
}

TEST(Sampler, CfgIntervalAndPlainCfg) {
  EXPECT_TRUE(cfg_active(0.0, 0.0, 1.0));
  EXPECT_TRUE(cfg_active(1.0, 0.0, 1.0));
  EXPECT_TRUE(cfg_active(0.5, 0.5, 0.5));
  EXPECT_FALSE(cfg_active(0.49, 0.5, 1.0));
  EXPECT_FALSE(cfg_active(0.9, 0.0, 0.8));

  const std::vector<float> cond = {1.0f, -2.0f};
  const std::vector<float> uncond = {0.5f, 1.0f};
  std::vector<float> out(2);
  ASSERT_TRUE(plain_cfg(cond, uncond, 7.0, out).ok());
  EXPECT_FLOAT_EQ(out[0], 0.5f + 7.0f * 0.5f);
  EXPECT_FLOAT_EQ(out[1], 1.0f + 7.0f * -3.0f);
}

// APG computed naively in double: d over the time axis per (b, c).
struct NaiveApg {
  int batch, frames, channels;
  std::vector<double> momentum;
  NaiveApg(int b, int t, int c)
      : batch(b), frames(t), channels(c), momentum(static_cast<std::size_t>(b * t * c), 0.0) {}

  std::vector<double> apply(const std::vector<float>& cond, const std::vector<float>& uncond,
                            double g) {
    std::vector<double> out(cond.size());
    for (int b = 0; b < batch; ++b) {
      for (int c = 0; c < channels; ++c) {
        auto at = [&](int t) { return static_cast<std::size_t>((b * frames + t) * channels + c); };
        std::vector<double> d(static_cast<std::size_t>(frames));
        for (int t = 0; t < frames; ++t) {
          momentum[at(t)] = (double(cond[at(t)]) - double(uncond[at(t)])) - 0.75 * momentum[at(t)];
          d[static_cast<std::size_t>(t)] = momentum[at(t)];
        }
        double dn = 0, vn = 0;
        for (int t = 0; t < frames; ++t) {
          dn += d[static_cast<std::size_t>(t)] * d[static_cast<std::size_t>(t)];
          vn += double(cond[at(t)]) * double(cond[at(t)]);
        }
        dn = std::sqrt(dn);
        vn = std::sqrt(vn);
        const double scale = std::min(1.0, 2.5 / dn);
        double dot = 0;
        for (int t = 0; t < frames; ++t) {
          d[static_cast<std::size_t>(t)] *= scale;
          dot += d[static_cast<std::size_t>(t)] * cond[at(t)] / vn;
        }
        for (int t = 0; t < frames; ++t) {
          const double par = dot * cond[at(t)] / vn;
          out[at(t)] = cond[at(t)] + (g - 1) * (d[static_cast<std::size_t>(t)] - par);
        }
      }
    }
    return out;
  }
};

TEST(Sampler, ApgMatchesNaiveOverSeveralSteps) {
  const LatentShape shape{2, 5, 3};
  auto apg = ApgState::create(shape);
  ASSERT_TRUE(apg.ok());
  NaiveApg naive(2, 5, 3);
  for (int step = 0; step < 4; ++step) {
    // Step 1 has a large difference so that the norm clip engages.
    const float scale = step == 1 ? 10.0f : 0.3f;
    const std::vector<float> cond = random_values(100 + step, 30);
    std::vector<float> uncond = random_values(200 + step, 30, scale);
    for (std::size_t i = 0; i < uncond.size(); ++i) uncond[i] += cond[i];
    std::vector<float> out(30);
    ASSERT_TRUE(apg->apply(cond, uncond, 7.0, out).ok());
    const std::vector<double> expected = naive.apply(cond, uncond, 7.0);
    for (std::size_t i = 0; i < out.size(); ++i) {
      EXPECT_NEAR(out[i], expected[i], 1e-4 * (1.0 + std::abs(expected[i])))
          << "step " << step << " index " << i;
    }
  }
}

TEST(Sampler, ApgHandComputedTinyCase) {
  // B = 1, T = 2, C = 1: v_cond = (1, 0), v_uncond = (0, -1), g = 2.
  // d = (1, 1), ||d|| = sqrt 2 < 2.5; u = (1, 0); d_par = (1, 0); d_orth = (0, 1).
  // v = (1, 0) + (0, 1) = (1, 1).
  auto apg = ApgState::create({1, 2, 1});
  ASSERT_TRUE(apg.ok());
  const std::vector<float> cond = {1.0f, 0.0f};
  const std::vector<float> uncond = {0.0f, -1.0f};
  std::vector<float> out(2);
  ASSERT_TRUE(apg->apply(cond, uncond, 2.0, out).ok());
  EXPECT_FLOAT_EQ(out[0], 1.0f);
  EXPECT_FLOAT_EQ(out[1], 1.0f);
  EXPECT_FLOAT_EQ(apg->momentum_buffer()[0], 1.0f);
  // Second call with the same inputs: m = d - 0.75 m = (0.25, 0.25); d_orth = (0, 0.25).
  ASSERT_TRUE(apg->apply(cond, uncond, 2.0, out).ok());
  EXPECT_FLOAT_EQ(out[0], 1.0f);
  EXPECT_FLOAT_EQ(out[1], 0.25f);
  // Norm clip: d = (0, 30) -> ||d|| = 30, clipped to (0, 2.5), orthogonal to u.
  apg->reset();
  const std::vector<float> uncond_far = {1.0f, -30.0f};
  ASSERT_TRUE(apg->apply(cond, uncond_far, 3.0, out).ok());
  EXPECT_FLOAT_EQ(out[0], 1.0f);
  EXPECT_FLOAT_EQ(out[1], 5.0f);
}

TEST(Sampler, GuidanceUpdatesMomentumOnlyOnCfgSteps) {
  const LatentShape shape{1, 4, 2};
  auto apg = ApgState::create(shape);
  ASSERT_TRUE(apg.ok());
  const std::vector<float> cond = random_values(7, 8);
  const std::vector<float> uncond = random_values(8, 8);
  std::vector<float> out(8);
  GuidanceOptions options;
  options.scale = 5.0;
  options.interval_start = 0.2;
  options.interval_end = 0.8;
  auto applied = apply_guidance(options, 0.9, &*apg, cond, uncond, out);
  ASSERT_TRUE(applied.ok());
  EXPECT_FALSE(*applied);
  EXPECT_EQ(out, cond);
  for (float m : apg->momentum_buffer()) EXPECT_EQ(m, 0.0f);

  applied = apply_guidance(options, 0.5, &*apg, cond, uncond, out);
  ASSERT_TRUE(applied.ok());
  EXPECT_TRUE(*applied);
  EXPECT_FLOAT_EQ(apg->momentum_buffer()[3], cond[3] - uncond[3]);

  options.scale = 1.0;  // no CFG
  applied = apply_guidance(options, 0.5, &*apg, cond, uncond, out);
  ASSERT_TRUE(applied.ok());
  EXPECT_FALSE(*applied);

  options.scale = 3.0;
  options.method = GuidanceMethod::cfg;
  applied = apply_guidance(options, 0.5, nullptr, cond, uncond, out);
  ASSERT_TRUE(applied.ok());
  EXPECT_FLOAT_EQ(out[1], uncond[1] + 3.0f * (cond[1] - uncond[1]));

  options.method = GuidanceMethod::apg;
  EXPECT_FALSE(apply_guidance(options, 0.5, nullptr, cond, uncond, out).ok());
  EXPECT_FALSE(ApgState::create({0, 4, 2}).ok());
  std::vector<float> wrong(7);
  EXPECT_FALSE(apg->apply(cond, uncond, 3.0, wrong).ok());
}

TEST(Sampler, ResultCheckNamesTheProblem) {
  const LatentShape shape{2, 3, 4};
  std::vector<float> x = random_values(9, 24);
  EXPECT_TRUE(check_sampled_latents(x, shape).ok());

  x[17] = std::numeric_limits<float>::quiet_NaN();
  x[20] = std::numeric_limits<float>::infinity();
  Status status = check_sampled_latents(x, shape);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("1 NaN and 1 infinite"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("item 1, frame 1, channel 1"), std::string::npos)
      << status.message();

  std::vector<float> zeros(24, 0.0f);
  status = check_sampled_latents(zeros, shape, "item latents");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("item latents are all zeros"), std::string::npos);
  EXPECT_FALSE(check_sampled_latents({}, shape).ok());
}

}  // namespace
}  // namespace acefit
