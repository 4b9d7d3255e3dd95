// The 5 Hz LM's sampling steps, each against a naive version written
// differently here, their edge cases, and the distribution of the draws.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "core/rng.h"
#include "models/lm/token_sampler.h"

namespace acefit::models::lm {
namespace {

constexpr float kSamplerTestInf = std::numeric_limits<float>::infinity();

std::vector<float> sampler_random_logits(std::size_t n, std::uint64_t seed, float scale = 4.0f) {
  Rng rng(seed);
  std::vector<float> logits(n);
  for (float& l : logits) l = scale * rng.normal();
  return logits;
}

// Naive top-k: sort a copy descending, the k-th value is the bar.
std::vector<float> sampler_naive_top_k(std::vector<float> logits, int k) {
  std::vector<float> sorted = logits;
  std::sort(sorted.begin(), sorted.end(), [](float a, float b) { return a > b; });
  const float bar = sorted[static_cast<std::size_t>(k - 1)];
  for (float& l : logits) {
    if (l < bar) l = -kSamplerTestInf;
  }
  return logits;
}

// Naive top-p: full sort, softmax, walk down keeping tokens while the mass
// above them is still <= p.
std::vector<float> sampler_naive_top_p(std::vector<float> logits, float p) {
  std::vector<std::size_t> order(logits.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return logits[a] > logits[b]; });
  double max_logit = logits[order[0]];
  double total = 0.0;
  for (const float l : logits) total += std::exp(double(l) - max_logit);
  std::vector<float> out(logits.size(), -kSamplerTestInf);
  double above = 0.0;
  for (const std::size_t i : order) {
    if (above > p) break;
    out[i] = logits[i];
    above += std::exp(double(logits[i]) - max_logit) / total;
  }
  return out;
}

std::vector<double> sampler_softmax(const std::vector<float>& logits, double temperature) {
  double max_logit = -kSamplerTestInf;
  for (const float l : logits) max_logit = std::max(max_logit, double(l) / temperature);
  std::vector<double> p(logits.size());
  double total = 0.0;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    p[i] = std::exp(double(logits[i]) / temperature - max_logit);
    total += p[i];
  }
  for (double& v : p) v /= total;
  return p;
}

TEST(TokenSampler, DefaultsAreUpstreams) {
  const SamplerOptions options;
  EXPECT_FLOAT_EQ(options.temperature, 0.85f);
  EXPECT_FLOAT_EQ(options.cfg_scale, 2.0f);
  EXPECT_FLOAT_EQ(options.top_p, 0.9f);
  EXPECT_EQ(options.top_k, 0);
  EXPECT_FLOAT_EQ(options.repetition_penalty, 1.0f);
  EXPECT_TRUE(validate_sampler_options(options).ok());
}

TEST(TokenSampler, InvalidOptionsNameTheOption) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  struct Bad {
    SamplerOptions options;
    const char* name;
  };
  std::vector<Bad> bad;
  const auto with = [](auto change) {
    SamplerOptions o;
    change(o);
    return o;
  };
  bad.push_back({with([&](SamplerOptions& o) { o.temperature = nan; }), "temperature"});
  bad.push_back({with([](SamplerOptions& o) { o.temperature = -0.1f; }), "temperature"});
  bad.push_back({with([](SamplerOptions& o) { o.temperature = kSamplerTestInf; }), "temperature"});
  bad.push_back({with([&](SamplerOptions& o) { o.cfg_scale = nan; }), "cfg_scale"});
  bad.push_back({with([](SamplerOptions& o) { o.cfg_scale = -1.0f; }), "cfg_scale"});
  bad.push_back({with([](SamplerOptions& o) { o.top_p = 0.0f; }), "top_p"});
  bad.push_back({with([](SamplerOptions& o) { o.top_p = 1.5f; }), "top_p"});
  bad.push_back({with([&](SamplerOptions& o) { o.top_p = nan; }), "top_p"});
  bad.push_back({with([](SamplerOptions& o) { o.top_k = -1; }), "top_k"});
  bad.push_back(
      {with([](SamplerOptions& o) { o.repetition_penalty = 0.0f; }), "repetition_penalty"});
  bad.push_back(
      {with([](SamplerOptions& o) { o.repetition_penalty = -2.0f; }), "repetition_penalty"});
  bad.push_back(
      {with([&](SamplerOptions& o) { o.repetition_penalty = nan; }), "repetition_penalty"});
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.name);
    const Status status = validate_sampler_options(b.options);
    EXPECT_EQ(status.code(), ErrorCode::invalid_argument);
    EXPECT_NE(status.message().find(b.name), std::string::npos) << status.message();
    // sample_next refuses them too.
    std::vector<float> logits = {1.0f, 2.0f};
    Rng rng(1);
    EXPECT_FALSE(sample_next({logits, logits, 0, {}, {}}, b.options, rng).ok());
  }
  SamplerOptions edge;
  edge.temperature = 0.0f;
  edge.top_p = 1.0f;
  edge.cfg_scale = 0.0f;
  EXPECT_TRUE(validate_sampler_options(edge).ok());
}

TEST(TokenSampler, CfgCombinesInFp32) {
  std::vector<float> cond = sampler_random_logits(257, 1);
  const std::vector<float> uncond = sampler_random_logits(257, 2);
  cond[3] = -kSamplerTestInf;
  std::vector<float> expected(cond.size());
  for (std::size_t i = 0; i < cond.size(); ++i)
    expected[i] = (1 - 2.5f) * uncond[i] + 2.5f * cond[i];
  expected[3] = -kSamplerTestInf;
  std::vector<float> uncond_masked = uncond;
  uncond_masked[7] = -kSamplerTestInf;
  expected[7] = -kSamplerTestInf;
  ASSERT_TRUE(apply_cfg(cond, uncond_masked, 2.5f).ok());
  for (std::size_t i = 0; i < cond.size(); ++i) {
    if (expected[i] == -kSamplerTestInf) {
      EXPECT_EQ(cond[i], -kSamplerTestInf) << i;
    } else {
      EXPECT_NEAR(cond[i], expected[i], 1e-4f) << i;
    }
  }
  std::vector<float> shorter(3);
  EXPECT_EQ(apply_cfg(shorter, uncond, 2.0f).code(), ErrorCode::invalid_argument);
}

TEST(TokenSampler, RepetitionPenaltyOverAPartialIdRange) {
  // Logits of tokens 1000..1009.
  const std::vector<float> original = {2.0f, -2.0f, 0.0f, 4.0f, -kSamplerTestInf,
                                       1.0f, -1.0f, 3.0f, 5.0f, 6.0f};
  const std::vector<std::int32_t> seen = {1001, 1000, 1001, 999, 1010, 1003, 1004, 1002, 5, 1001};
  std::vector<float> logits = original;
  apply_repetition_penalty(logits, 1000, seen, 2.0f);
  // Naive: a set of the ids in range, each adjusted once.
  const std::set<std::int32_t> in_range = {1000, 1001, 1002, 1003, 1004};
  for (std::size_t i = 0; i < original.size(); ++i) {
    float want = original[i];
    if (in_range.count(1000 + static_cast<std::int32_t>(i))) {
      want = original[i] > 0 ? original[i] / 2.0f : original[i] * 2.0f;
    }
    EXPECT_EQ(logits[i], want) << i;
  }
  // A penalty below 1 favours seen tokens.
  std::vector<float> boost = {2.0f, -2.0f};
  apply_repetition_penalty(boost, 0, std::vector<std::int32_t>{0, 1}, 0.5f);
  EXPECT_EQ(boost, (std::vector<float>{4.0f, -1.0f}));
}

TEST(TokenSampler, TopKMatchesASortBasedVersion) {
  for (const int k : {1, 2, 7, 50, 299}) {
    SCOPED_TRACE(k);
    std::vector<float> logits = sampler_random_logits(300, 10 + k);
    const std::vector<float> expected = sampler_naive_top_k(logits, k);
    apply_top_k(logits, k);
    EXPECT_EQ(logits, expected);
    EXPECT_EQ(
        std::count_if(logits.begin(), logits.end(), [](float l) { return l > -kSamplerTestInf; }),
        k);
  }
}

TEST(TokenSampler, TopKKeepsTiesAndIgnoresLargeK) {
  std::vector<float> logits = {1.0f, 3.0f, 2.0f, 2.0f, 2.0f, 0.0f};
  apply_top_k(logits, 2);
  EXPECT_EQ(logits,
            (std::vector<float>{-kSamplerTestInf, 3.0f, 2.0f, 2.0f, 2.0f, -kSamplerTestInf}));
  std::vector<float> all = {1.0f, 2.0f};
  apply_top_k(all, 5);
  apply_top_k(all, 0);
  EXPECT_EQ(all, (std::vector<float>{1.0f, 2.0f}));
  // -inf entries count like any other value (torch.topk).
  std::vector<float> masked = {-kSamplerTestInf, 1.0f, -kSamplerTestInf, -kSamplerTestInf};
  apply_top_k(masked, 2);
  EXPECT_EQ(masked,
            (std::vector<float>{-kSamplerTestInf, 1.0f, -kSamplerTestInf, -kSamplerTestInf}));
}

TEST(TokenSampler, TopPMatchesAStraightforwardLoop) {
  for (const float p : {0.05f, 0.3f, 0.77f, 0.9f, 0.999f}) {
    for (const float scale : {0.5f, 4.0f}) {
      SCOPED_TRACE(std::to_string(p) + " scale " + std::to_string(scale));
      // 3000 tokens, a third masked: exercises the widening partial sort.
      std::vector<float> logits = sampler_random_logits(3000, 77, scale);
      for (std::size_t i = 0; i < logits.size(); i += 3) logits[i] = -kSamplerTestInf;
      const std::vector<float> expected = sampler_naive_top_p(logits, p);
      apply_top_p(logits, p);
      EXPECT_EQ(logits, expected);
    }
  }
}

TEST(TokenSampler, TopPEdgeCases) {
  std::vector<float> logits = sampler_random_logits(50, 3);
  const std::vector<float> original = logits;
  apply_top_p(logits, 1.0f);  // off
  EXPECT_EQ(logits, original);
  // The top token always stays, even when it alone is above p.
  std::vector<float> peaked = {0.0f, 10.0f, 1.0f};
  apply_top_p(peaked, 0.01f);
  EXPECT_EQ(peaked, (std::vector<float>{-kSamplerTestInf, 10.0f, -kSamplerTestInf}));
  // One finite logit.
  std::vector<float> one = {-kSamplerTestInf, -kSamplerTestInf, 2.0f};
  apply_top_p(one, 0.5f);
  EXPECT_EQ(one, (std::vector<float>{-kSamplerTestInf, -kSamplerTestInf, 2.0f}));
  // All equal: 0.25 each; the third token has 0.5 above it (not > 0.5).
  std::vector<float> equal(4, 1.5f);
  apply_top_p(equal, 0.5f);
  EXPECT_EQ(equal, (std::vector<float>{1.5f, 1.5f, 1.5f, -kSamplerTestInf}));
  // All -inf: left alone (sampling reports it).
  std::vector<float> none(3, -kSamplerTestInf);
  apply_top_p(none, 0.5f);
  EXPECT_EQ(none, std::vector<float>(3, -kSamplerTestInf));
}

TEST(TokenSampler, GreedyAndErrors) {
  Rng rng(5);
  const std::vector<float> logits = {1.0f, 4.0f, -kSamplerTestInf, 4.0f};
  EXPECT_EQ(*sample_index(logits, 0.0f, rng), 1);  // the first largest
  const std::vector<float> none(4, -kSamplerTestInf);
  const auto all_masked = sample_index(none, 0.85f, rng, 151669);
  ASSERT_FALSE(all_masked.ok());
  EXPECT_EQ(all_masked.status().code(), ErrorCode::invalid_argument);
  EXPECT_NE(all_masked.status().message().find("151669"), std::string::npos);
  EXPECT_FALSE(sample_index(none, 0.0f, rng).ok());
  const std::vector<float> with_nan = {1.0f, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_FALSE(sample_index(with_nan, 1.0f, rng).ok());
  const std::vector<float> with_inf = {1.0f, kSamplerTestInf};
  EXPECT_FALSE(sample_index(with_inf, 1.0f, rng).ok());
}

TEST(TokenSampler, DrawsFollowTheSoftmax) {
  const std::vector<float> logits = {1.0f, -kSamplerTestInf, 2.5f, 0.0f, -kSamplerTestInf, 1.7f,
                                     -3.0f};
  for (const float temperature : {1.0f, 0.6f}) {
    SCOPED_TRACE(temperature);
    const std::vector<double> p = sampler_softmax(logits, temperature);
    Rng rng(20261207);
    constexpr int kDraws = 100000;
    std::vector<int> counts(logits.size(), 0);
    for (int draw = 0; draw < kDraws; ++draw) {
      const auto index = sample_index(logits, temperature, rng);
      ASSERT_TRUE(index.ok());
      ++counts[static_cast<std::size_t>(*index)];
    }
    for (std::size_t i = 0; i < logits.size(); ++i) {
      // 5 standard deviations of a binomial proportion at most 0.0016.
      EXPECT_NEAR(double(counts[i]) / kDraws, p[i], 0.008) << i;
    }
    EXPECT_EQ(counts[1], 0);
    EXPECT_EQ(counts[4], 0);
  }
}

TEST(TokenSampler, ASeedReproducesTheRun) {
  const std::vector<float> logits = sampler_random_logits(1000, 9, 1.0f);
  const auto run = [&](std::uint64_t seed) {
    Rng rng(seed);
    std::vector<std::int32_t> tokens;
    for (int i = 0; i < 50; ++i) {
      std::vector<float> step = logits;
      tokens.push_back(*sample_next({step, logits, 0, {}, {}}, SamplerOptions{}, rng));
    }
    return tokens;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

// sample_next = the steps in order: CFG, the caller's mask, penalty, top-k,
// top-p, temperature.
TEST(TokenSampler, SampleNextRunsTheStepsInOrder) {
  constexpr std::int32_t kFirst = 151669;
  const std::vector<float> cond = sampler_random_logits(400, 31);
  const std::vector<float> uncond = sampler_random_logits(400, 32);
  const std::vector<std::int32_t> seen = {kFirst + 5, kFirst + 9, 12, kFirst + 5};
  SamplerOptions options;
  options.temperature = 0.7f;
  options.cfg_scale = 1.5f;
  options.top_k = 40;
  options.top_p = 0.8f;
  options.repetition_penalty = 1.3f;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    // By hand.
    std::vector<float> expected = cond;
    ASSERT_TRUE(apply_cfg(expected, uncond, 1.5f).ok());
    for (std::size_t i = 0; i < expected.size(); i += 2) expected[i] = -kSamplerTestInf;
    apply_repetition_penalty(expected, kFirst, seen, 1.3f);
    apply_top_k(expected, 40);
    apply_top_p(expected, 0.8f);
    Rng hand_rng(seed);
    const std::int32_t want = kFirst + *sample_index(expected, 0.7f, hand_rng);
    // In one call; the mask must see the CFG-combined logits.
    std::vector<float> logits = cond;
    std::vector<float> seen_by_mask;
    const LogitsMask mask = [&](std::span<float> l) {
      seen_by_mask.assign(l.begin(), l.end());
      for (std::size_t i = 0; i < l.size(); i += 2) l[i] = -kSamplerTestInf;
      return Status();
    };
    Rng rng(seed);
    const auto got = sample_next({logits, uncond, kFirst, seen, mask}, options, rng);
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    EXPECT_EQ(*got, want);
    EXPECT_EQ(*got % 2, (kFirst + 1) % 2);  // an odd index: the mask held
    std::vector<float> combined = cond;
    ASSERT_TRUE(apply_cfg(combined, uncond, 1.5f).ok());
    EXPECT_EQ(seen_by_mask, combined);
  }
}

TEST(TokenSampler, SampleNextErrors) {
  std::vector<float> logits = {1.0f, 2.0f};
  Rng rng(1);
  // cfg_scale > 1 needs the unconditional logits.
  EXPECT_FALSE(sample_next({logits, {}, 0, {}, {}}, SamplerOptions{}, rng).ok());
  SamplerOptions no_cfg;
  no_cfg.cfg_scale = 1.0f;
  EXPECT_TRUE(sample_next({logits, {}, 0, {}, {}}, no_cfg, rng).ok());
  // The mask's error stops the step.
  const LogitsMask failing = [](std::span<float>) { return invalid_argument("grammar is done"); };
  const auto masked = sample_next({logits, {}, 0, {}, failing}, no_cfg, rng);
  EXPECT_EQ(masked.status().message(), "grammar is done");
  // A mask that forbids everything: an error, not a crash.
  const LogitsMask everything = [](std::span<float> l) {
    std::fill(l.begin(), l.end(), -kSamplerTestInf);
    return Status();
  };
  EXPECT_EQ(sample_next({logits, {}, 0, {}, everything}, no_cfg, rng).status().code(),
            ErrorCode::invalid_argument);
  std::vector<float> empty;
  EXPECT_FALSE(sample_next({empty, {}, 0, {}, {}}, no_cfg, rng).ok());
}

}  // namespace
}  // namespace acefit::models::lm
