// DCW (acestep-model.md 18.4) and the 5-step shift 2.5 turbo schedule (18.3)
// against the PyTorch reference (docs/GOLDENS.md): one correction in every
// mode on an odd length (dcw_step.safetensors), and the sampling loop with
// DCW (sampler_dcw.safetensors: the same noise, encoder states and SDE noise
// as turbo_e2e / base_e2e, the state after every step).
#include <gtest/gtest.h>

#include <cmath>

#include "golden_support.h"
#include "io/torch/torch_zip.h"
#include "pipeline/generator.h"
#include "test_support.h"

namespace acefit::testing {
namespace {

class DcwGoldenTest : public DeviceTest {
 protected:
  Generator load() { return golden_generator(ctx(), GetParam()); }

  // Runs the plan from the golden's noise and encoder states and checks the
  // state after each step against PREFIX0 .. PREFIX{n-1}.
  void check_steps(const Generator& generator, const GoldenFile& golden,
                   const Generator::SamplingPlan& plan, const std::string& prefix) {
    models::EncoderStates states;
    states.states = golden.upload(*device_, "encoder_states");
    sample_and_check_steps(generator, states, golden, plan, prefix);
  }

  static Generator::SamplingPlan turbo_plan(DcwMode mode, InferMethod method = InferMethod::ode) {
    Generator::SamplingPlan plan;
    plan.schedule = unwrap(turbo_schedule(3.0, 8));
    plan.guidance.scale = 1.0;
    plan.method = method;
    plan.dcw = DcwOptions{true, mode, 0.05, 0.02};
    return plan;
  }
};

// The golden's context is the one sample() builds: [silence 0..59 | ones].
TEST_P(DcwGoldenTest, InputsAreTheE2eInputs) {
  const GoldenFile golden("sampler_dcw");
  const GoldenFile turbo("turbo_e2e");
  EXPECT_EQ(golden["noise"].f32, turbo["noise"].f32);
  for (int i = 0; i <= 6; ++i) {
    const std::string name = "sde_noise_" + std::to_string(i);
    EXPECT_EQ(golden[name].f32, turbo[name].f32) << name;
  }
  expect_matches_golden(golden["encoder_states"].f32, turbo["encoder_states"], "encoder_states");
  const GoldenArray& context = golden["context"];
  ASSERT_EQ(context.shape, (std::vector<std::int64_t>{1, 60, 128}));
  const std::int64_t shape[] = {1, 64, 15000};
  const PtTensor silence = unwrap(
      read_pt_float_tensor(golden_checkpoints() + "/acestep-v15-turbo/silence_latent.pt", shape));
  for (std::int64_t t = 0; t < 60; ++t) {
    for (std::int64_t c = 0; c < 64; ++c) {
      ASSERT_EQ(context.f32[static_cast<std::size_t>(t * 128 + c)],
                silence.values[static_cast<std::size_t>(c * 15000 + t)])
          << "frame " << t << " channel " << c;
      ASSERT_EQ(context.f32[static_cast<std::size_t>(t * 128 + 64 + c)], 1.0f);
    }
  }
}

TEST_P(DcwGoldenTest, TurboOdeDoubleDcw) {
  const GoldenFile golden("sampler_dcw");
  const Generator generator = load();
  check_steps(generator, golden, turbo_plan(DcwMode::both), "turbo_ode_dcw_step_");
}

TEST_P(DcwGoldenTest, TurboSdeDoubleDcw) {
  const GoldenFile golden("sampler_dcw");
  const Generator generator = load();
  Generator::SamplingPlan plan = turbo_plan(DcwMode::both, InferMethod::sde);
  plan.sde_noise = [&](int step) -> Expected<std::vector<float>> {
    return golden["sde_noise_" + std::to_string(step)].f32;
  };
  check_steps(generator, golden, plan, "turbo_sde_dcw_step_");
}

TEST_P(DcwGoldenTest, TurboOdeLowHighAndPixDcw) {
  const GoldenFile golden("sampler_dcw");
  const Generator generator = load();
  check_steps(generator, golden, turbo_plan(DcwMode::low), "turbo_ode_dcw_low_step_");
  check_steps(generator, golden, turbo_plan(DcwMode::high), "turbo_ode_dcw_high_step_");
  check_steps(generator, golden, turbo_plan(DcwMode::pix), "turbo_ode_dcw_pix_step_");
}

TEST_P(DcwGoldenTest, TurboFiveStepsAtShiftTwoAndAHalf) {
  const GoldenFile golden("sampler_dcw");
  const Generator generator = load();
  Generator::SamplingPlan plan;
  plan.schedule = unwrap(turbo_schedule(2.5, 5));
  plan.guidance.scale = 1.0;
  const GoldenArray& t = golden["turbo5_shift2p5_t"];
  ASSERT_EQ(t.f32.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i)
    EXPECT_EQ(static_cast<float>(plan.schedule.t[i]), t.f32[i]) << "t[" << i << "]";
  check_steps(generator, golden, plan, "turbo5_shift2p5_step_");
}

TEST_P(DcwGoldenTest, BaseWithApgAndDoubleDcw) {
  const GoldenFile golden("sampler_dcw");
  const Generator generator = load();
  Generator::SamplingPlan plan;
  plan.schedule = unwrap(base_schedule(4, 2.0));
  plan.guidance.scale = 7.0;
  plan.dcw = DcwOptions{true, DcwMode::both, 0.05, 0.02};
  check_steps(generator, golden, plan, "base_cfg_dcw_step_");
}

ACEFIT_DEVICE_TEST_SUITE(DcwGoldenTest);

// One correction: x_next and denoised given, so x = denoised and v = 0.
TEST(DcwStepGolden, EveryModeOnAnOddLength) {
  const GoldenFile golden("dcw_step");
  const GoldenArray& x_next = golden["x_next"];
  const GoldenArray& denoised = golden["denoised"];
  ASSERT_EQ(x_next.shape, (std::vector<std::int64_t>{2, 75, 64}));
  const LatentShape shape{x_next.shape[0], x_next.shape[1], x_next.shape[2]};
  const double t = golden["t"].f32.at(0);
  const std::vector<float> zero_v(x_next.f32.size(), 0.0f);
  for (const DcwMode mode : {DcwMode::low, DcwMode::high, DcwMode::both, DcwMode::pix}) {
    std::vector<float> x = x_next.f32;
    ASSERT_TRUE(
        apply_dcw(DcwOptions{true, mode, 0.05, 0.02}, shape, x, denoised.f32, zero_v, t).ok());
    const std::string name = "dcw_" + std::string(dcw_mode_name(mode));
    expect_matches_golden(x, golden[name], name);
    // The correction itself (x - x_next) to the same criteria, so that a
    // small error in it is not hidden by x_next.
    GoldenArray delta = golden[name];
    std::vector<float> ours(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      delta.f32[i] -= x_next.f32[i];
      ours[i] = x[i] - x_next.f32[i];
    }
    expect_matches_golden(ours, delta, name + " - x_next");
  }
}

}  // namespace
}  // namespace acefit::testing
