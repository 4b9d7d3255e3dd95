// The 5 Hz LM's sampling steps (models/lm/token_sampler.h, spec 14.8)
// against the PyTorch reference's golden lm_sampling.safetensors
// (tests/reference/acestep/lm_sampling.py, docs/GOLDENS.md): each step
// alone, from the golden's state before it, then sample_next end to end.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"
#include "golden_support.h"
#include "models/lm/token_sampler.h"

namespace acefit::testing {
namespace {

namespace lm = models::lm;

// Removed tokens (-inf) at the same places; the others within 1e-6 of the
// peak (the steps are a few float operations each, computed the same way).
void expect_same_logits(const std::vector<float>& actual, const GoldenArray& expected,
                        const std::string& what) {
  ASSERT_EQ(actual.size(), expected.f32.size()) << what;
  double peak = 0;
  for (const float e : expected.f32) {
    if (std::isfinite(e)) peak = std::max(peak, std::fabs(static_cast<double>(e)));
  }
  int mismatches = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const float a = actual[i], e = expected.f32[i];
    const bool removed = std::isinf(e) && e < 0;
    if (removed != (std::isinf(a) && a < 0) ||
        (!removed && std::fabs(static_cast<double>(a) - e) > 1e-6 * peak)) {
      if (++mismatches <= 5)
        ADD_FAILURE() << what << ": token " << i << " is " << a << ", not " << e;
    }
  }
  EXPECT_EQ(mismatches, 0) << what;
}

std::vector<std::int32_t> sampling_golden_ids(const std::vector<std::int64_t>& ids) {
  return std::vector<std::int32_t>(ids.begin(), ids.end());
}

class LmSamplingGoldenTest : public ::testing::Test {
 protected:
  static constexpr int kCases = 4;
  const GoldenFile golden_{"lm_sampling"};
  const GoldenArray& at(int c, const std::string& name) const {
    return golden_["case" + std::to_string(c) + "_" + name];
  }
  lm::SamplerOptions options(int c) const {
    lm::SamplerOptions o;
    o.cfg_scale = at(c, "cfg_scale").f32.at(0);
    o.repetition_penalty = at(c, "repetition_penalty").f32.at(0);
    o.top_k = static_cast<int>(at(c, "top_k").i64.at(0));
    o.top_p = at(c, "top_p").f32.at(0);
    o.temperature = at(c, "temperature").f32.at(0);
    return o;
  }
  lm::LogitsMask mask(int c) const {
    const std::vector<std::int64_t> allowed = at(c, "allowed").i64;
    return [allowed](std::span<float> logits) {
      for (std::size_t i = 0; i < logits.size(); ++i) {
        if (allowed.at(i) == 0) logits[i] = -INFINITY;
      }
      return Status::ok_status();
    };
  }
};

TEST_F(LmSamplingGoldenTest, EachStepFromTheStateBeforeIt) {
  for (int c = 0; c < kCases; ++c) {
    SCOPED_TRACE("case" + std::to_string(c));
    const lm::SamplerOptions o = options(c);
    ASSERT_TRUE(lm::validate_sampler_options(o).ok());

    std::vector<float> x = at(c, "cond").f32;
    if (o.cfg_scale > 1.0f) {
      ASSERT_TRUE(lm::apply_cfg(x, at(c, "uncond").f32, o.cfg_scale).ok());
    }
    expect_same_logits(x, at(c, "after_cfg"), "after_cfg");

    x = at(c, "after_cfg").f32;
    ASSERT_TRUE(mask(c)(x).ok());
    expect_same_logits(x, at(c, "after_mask"), "after_mask");

    x = at(c, "after_mask").f32;
    const std::vector<std::int32_t> seen = sampling_golden_ids(at(c, "seen_ids").i64);
    if (o.repetition_penalty != 1.0f) {
      lm::apply_repetition_penalty(x, 0, seen, o.repetition_penalty);
    }
    expect_same_logits(x, at(c, "after_penalty"), "after_penalty");

    x = at(c, "after_penalty").f32;
    lm::apply_top_k(x, o.top_k);
    expect_same_logits(x, at(c, "after_top_k"), "after_top_k");

    x = at(c, "after_top_k").f32;
    lm::apply_top_p(x, o.top_p);
    expect_same_logits(x, at(c, "after_top_p"), "after_top_p");

    Rng rng(1);
    EXPECT_EQ(unwrap(lm::sample_index(at(c, "after_top_p").f32, 0.0f, rng)),
              at(c, "argmax").i64.at(0));
  }
}

// All steps through sample_next: with T = 0 the argmax; with the case's
// temperature every draw is a token the golden keeps.
TEST_F(LmSamplingGoldenTest, SampleNextKeepsToTheGoldenTokens) {
  for (int c = 0; c < kCases; ++c) {
    SCOPED_TRACE("case" + std::to_string(c));
    const std::vector<std::int32_t> seen = sampling_golden_ids(at(c, "seen_ids").i64);
    const std::vector<float>& kept = at(c, "after_top_p").f32;
    lm::SamplerOptions o = options(c);
    Rng rng(7);
    for (int draw = 0; draw < 20; ++draw) {
      if (draw == 0) o.temperature = 0.0f;
      if (draw == 1) o = options(c);
      std::vector<float> logits = at(c, "cond").f32;
      lm::SampleStep step;
      step.logits = logits;
      step.uncond_logits = at(c, "uncond").f32;
      step.seen_ids = seen;
      step.mask = mask(c);
      const std::int32_t token = unwrap(lm::sample_next(step, o, rng));
      ASSERT_GE(token, 0);
      ASSERT_LT(static_cast<std::size_t>(token), kept.size());
      EXPECT_TRUE(std::isfinite(kept[static_cast<std::size_t>(token)])) << "token " << token;
      if (o.temperature == 0.0f) {
        EXPECT_EQ(token, at(c, "argmax").i64.at(0));
      }
    }
  }
}

}  // namespace
}  // namespace acefit::testing
