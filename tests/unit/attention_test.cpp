// Attention against a naive double-precision softmax(Q K^T * scale) V with
// an explicit visibility rule, over masks, GQA ratios, head dims and edges.
#include <cmath>

#include "device/planning/planning_device.h"
#include "ops/attention.h"
#include "ops/vulkan/attention_kernels.h"
#include "test_support.h"

namespace acefit {
namespace {

struct AttentionCase {
  std::int64_t batch, q_len, kv_len, q_heads, kv_heads, head_dim;
  ops::AttentionMask mask;
  std::int64_t window;
  std::int64_t query_position;                 // -1: automatic
  std::vector<std::int64_t> key_lengths = {};  // key padding per item (empty: none)
  float scale = 0.0f;                          // 0: 1 / sqrt(head_dim)
};

std::vector<double> naive_attention(const AttentionCase& c, const std::vector<float>& q,
                                    const std::vector<float>& k, const std::vector<float>& v) {
  const std::int64_t d = c.head_dim, group = c.q_heads / c.kv_heads;
  const std::int64_t offset =
      c.query_position >= 0 ? c.query_position : std::max<std::int64_t>(0, c.kv_len - c.q_len);
  const double scale = c.scale > 0.0f ? c.scale : 1.0 / std::sqrt(static_cast<double>(d));
  std::vector<double> out(static_cast<std::size_t>(c.batch * c.q_len * c.q_heads * d), 0.0);
  for (std::int64_t b = 0; b < c.batch; ++b) {
    for (std::int64_t i = 0; i < c.q_len; ++i) {
      const std::int64_t p = offset + i;
      for (std::int64_t h = 0; h < c.q_heads; ++h) {
        const std::int64_t kh = h / group;
        std::vector<double> w(static_cast<std::size_t>(c.kv_len), 0.0);
        std::vector<bool> seen(static_cast<std::size_t>(c.kv_len), false);
        double peak = -1e300;
        for (std::int64_t j = 0; j < c.kv_len; ++j) {
          bool visible = true;
          if (c.mask == ops::AttentionMask::causal) visible = j <= p;
          if (c.mask == ops::AttentionMask::sliding_window) visible = std::llabs(p - j) <= c.window;
          if (!c.key_lengths.empty() && j >= c.key_lengths[static_cast<std::size_t>(b)])
            visible = false;
          if (!visible) continue;
          double dot = 0;
          for (std::int64_t e = 0; e < d; ++e) {
            dot += static_cast<double>(q[((b * c.q_len + i) * c.q_heads + h) * d + e]) *
                   k[((b * c.kv_len + j) * c.kv_heads + kh) * d + e];
          }
          w[static_cast<std::size_t>(j)] = dot * scale;
          seen[static_cast<std::size_t>(j)] = true;
          peak = std::max(peak, dot * scale);
        }
        double sum = 0;
        for (std::int64_t j = 0; j < c.kv_len; ++j) {
          if (seen[static_cast<std::size_t>(j)])
            sum +=
                (w[static_cast<std::size_t>(j)] = std::exp(w[static_cast<std::size_t>(j)] - peak));
        }
        if (sum == 0 && !c.key_lengths.empty()) {
          // No visible key under key padding: every score is the same most
          // negative value, so the softmax is uniform over all keys.
          for (std::int64_t j = 0; j < c.kv_len; ++j) {
            seen[static_cast<std::size_t>(j)] = true;
            w[static_cast<std::size_t>(j)] = 1.0;
          }
          sum = static_cast<double>(c.kv_len);
        }
        if (sum == 0) continue;  // no visible key: zero output
        for (std::int64_t e = 0; e < d; ++e) {
          double acc = 0;
          for (std::int64_t j = 0; j < c.kv_len; ++j) {
            if (seen[static_cast<std::size_t>(j)])
              acc += w[static_cast<std::size_t>(j)] / sum *
                     v[((b * c.kv_len + j) * c.kv_heads + kh) * d + e];
          }
          out[static_cast<std::size_t>(((b * c.q_len + i) * c.q_heads + h) * d + e)] = acc;
        }
      }
    }
  }
  return out;
}

class AttentionTest : public testing::DeviceTest {
 protected:
  void check(const AttentionCase& c, const std::string& what) {
    const auto q = testing::random_floats(c.batch * c.q_len * c.q_heads * c.head_dim, 1);
    const auto k = testing::random_floats(c.batch * c.kv_len * c.kv_heads * c.head_dim, 2);
    const auto v = testing::random_floats(c.batch * c.kv_len * c.kv_heads * c.head_dim, 3);
    ops::AttentionOptions options;
    options.mask = c.mask;
    options.window = c.window;
    options.query_position = c.query_position;
    options.key_lengths = c.key_lengths;
    options.scale = c.scale;
    Tensor out = testing::unwrap(
        ops::attention(ctx(), up(q, Shape{c.batch, c.q_len, c.q_heads, c.head_dim}),
                       up(k, Shape{c.batch, c.kv_len, c.kv_heads, c.head_dim}),
                       up(v, Shape{c.batch, c.kv_len, c.kv_heads, c.head_dim}), options));
    EXPECT_EQ(out.shape(), (Shape{c.batch, c.q_len, c.q_heads, c.head_dim}));
    testing::expect_close(testing::download(out), naive_attention(c, q, k, v), 2e-5, 1e-4, what);
  }
};
ACEFIT_DEVICE_TEST_SUITE(AttentionTest);

using Mask = ops::AttentionMask;

TEST_P(AttentionTest, FullWithGqaRatios) {
  check({1, 13, 13, 4, 4, 64, Mask::full, 0, -1}, "MHA, head_dim 64");
  check({2, 11, 11, 8, 2, 128, Mask::full, 0, -1}, "GQA 4:1, head_dim 128");
  check({1, 9, 9, 6, 1, 64, Mask::full, 0, -1}, "one key-value head");
  check({1, 7, 7, 3, 3, 5, Mask::full, 0, -1}, "odd head_dim");
  check({1, 1, 1, 2, 1, 64, Mask::full, 0, -1}, "length 1");
}

TEST_P(AttentionTest, Causal) {
  check({1, 20, 20, 4, 2, 64, Mask::causal, 0, -1}, "causal");
  check({2, 3, 10, 4, 2, 64, Mask::causal, 0, -1},
        "causal, queries are the last 3 positions (KV cache)");
  check({1, 5, 10, 2, 1, 64, Mask::causal, 0, 2}, "causal with an explicit query position");
}

TEST_P(AttentionTest, SlidingWindow) {
  check({1, 40, 40, 4, 2, 64, Mask::sliding_window, 3, -1}, "window 3");
  check({1, 17, 17, 2, 1, 128, Mask::sliding_window, 0, -1}, "window 0 sees only itself");
  check({1, 12, 12, 2, 2, 64, Mask::sliding_window, 12, -1}, "window >= length equals full");
  check({1, 300, 300, 2, 1, 64, Mask::sliding_window, 20, -1}, "several query blocks");
}

TEST_P(AttentionTest, CrossAttentionWithADifferentKeyLength) {
  check({2, 9, 31, 4, 2, 64, Mask::full, 0, -1}, "cross, keys longer");
  check({1, 30, 4, 4, 4, 128, Mask::full, 0, -1}, "cross, keys shorter");
}

TEST_P(AttentionTest, QueriesThatSeeNoKeyGiveZeros) {
  // Queries at positions 10..13 with a window of 1 see none of keys 0..2.
  check({1, 4, 3, 2, 1, 64, Mask::sliding_window, 1, 10}, "no visible key");
}

TEST_P(AttentionTest, KeyPaddingPerItem) {
  check({2, 12, 12, 4, 2, 32, Mask::full, 0, 0, {12, 7}}, "key padding, full");
  check({2, 40, 40, 2, 1, 32, Mask::sliding_window, 4, 0, {40, 25}}, "key padding, sliding");
  // Item 1's queries 30..39 see no key (window 4, keys >= 25 hidden): they
  // get the mean of all values, as the reference's eager masking gives.
  check({2, 40, 40, 2, 1, 32, Mask::sliding_window, 4, 0, {40, 25}}, "fully masked rows");
  check({3, 300, 300, 2, 2, 16, Mask::sliding_window, 8, 0, {300, 100, 0}},
        "key padding across query blocks, an item with no key");
}

TEST_P(AttentionTest, LongSequencesCrossQueryBlocks) {
  const AttentionCase full{1, 600, 600, 2, 1, 64, Mask::full, 0, -1};
  check(full, "long full attention (block boundaries)");
}

// Edges of the tiled GPU kernel (query blocks, key blocks staged in shared
// memory, skipped blocks, per-thread output columns) on every device.
TEST_P(AttentionTest, LongSequencesCrossKeyBlocks) {
  check({1, 600, 600, 2, 1, 32, Mask::causal, 0, -1}, "long causal");
  check({1, 600, 600, 2, 1, 32, Mask::sliding_window, 37, -1},
        "long sliding window crossing key blocks");
  check({1, 257, 600, 2, 2, 16, Mask::causal, 0, -1}, "causal, 257 queries at the end of 600 keys");
}

TEST_P(AttentionTest, HeadDimsAndQueryBlockEdges) {
  check({1, 45, 45, 2, 1, 128, Mask::full, 0, -1}, "head_dim 128, 45 queries");
  check({1, 33, 70, 2, 1, 97, Mask::causal, 0, -1}, "odd head_dim 97");
  check({1, 19, 19, 1, 1, 256, Mask::sliding_window, 5, -1}, "head_dim 256");
  check({1, 3, 3, 1, 1, 1, Mask::full, 0, -1}, "head_dim 1");
}

TEST_P(AttentionTest, GqaRatioFourOnLongerSequences) {
  check({2, 100, 100, 8, 2, 64, Mask::causal, 0, -1}, "GQA 4:1, causal");
  check({1, 65, 130, 16, 4, 32, Mask::full, 0, -1}, "GQA 4:1, cross");
}

TEST_P(AttentionTest, KeyPaddingOverWholeKeyBlocks) {
  // Item 1 hides keys 37..199 (several whole key blocks), item 2 all keys.
  check({3, 50, 200, 4, 2, 32, Mask::full, 0, 0, {200, 37, 0}}, "padded blocks, full");
  check({2, 200, 200, 2, 1, 32, Mask::causal, 0, 0, {150, 64}}, "padded blocks, causal");
  check({2, 120, 200, 2, 2, 32, Mask::sliding_window, 10, 0, {200, 70}},
        "padded blocks, sliding: later queries see no key");
}

TEST_P(AttentionTest, CrossAttentionLongerAndShorter) {
  check({2, 70, 150, 4, 4, 64, Mask::full, 0, -1, {150, 90}}, "cross, padded keys");
  check({1, 150, 17, 2, 1, 64, Mask::full, 0, -1}, "cross, few keys");
}

TEST_P(AttentionTest, CustomScaleAndQueryPosition) {
  check({1, 40, 90, 2, 1, 64, Mask::causal, 0, 20, {}, 0.3f}, "scale 0.3, query position 20");
  check({1, 40, 90, 2, 1, 64, Mask::sliding_window, 7, 60, {}, 0.05f},
        "scale 0.05, window past the keys' end");
}

TEST_P(AttentionTest, PlanningAllocatesWhatTheRunAllocates) {
  const Shape qs{2, 30, 4, 16}, ks{2, 50, 2, 16};
  ops::AttentionOptions options;
  options.mask = Mask::causal;
  options.key_lengths = {50, 20};
  auto run = [&](Device& device) {
    Tensor q = testing::upload(device, testing::random_floats(qs.numel(), 1), qs);
    Tensor k = testing::upload(device, testing::random_floats(ks.numel(), 2), ks);
    Tensor v = testing::upload(device, testing::random_floats(ks.numel(), 3), ks);
    device.budget().reset_peaks();
    const BudgetStats before = device.budget().stats();
    Tensor out = testing::unwrap(
        ops::attention(ops::OpContext{device, testing::test_pool()}, q, k, v, options));
    const BudgetStats after = device.budget().stats();
    return std::pair{after.reservations - before.reservations,
                     after.peak_bytes - before.used_bytes};
  };
  auto planner = make_planning_device(*device_);
  EXPECT_EQ(run(*planner), run(*device_));
}

// The portable shader (row reductions through shared memory) is what runs
// on devices without subgroup arithmetic; lavapipe has it, so run the
// launcher directly with it forced.
TEST_P(AttentionTest, VulkanSharedMemoryReductions) {
  VulkanDevice* vk = as_vulkan(*device_);
  if (vk == nullptr) GTEST_SKIP() << "vulkan only";
  for (const AttentionCase& c : {
           AttentionCase{1, 70, 90, 4, 2, 64, Mask::causal, 0, -1},
           AttentionCase{2, 45, 60, 2, 1, 97, Mask::sliding_window, 9, 0, {60, 12}},
           AttentionCase{2, 20, 40, 2, 2, 32, Mask::full, 0, 0, {40, 0}},
       }) {
    const auto q = testing::random_floats(c.batch * c.q_len * c.q_heads * c.head_dim, 1);
    const auto k = testing::random_floats(c.batch * c.kv_len * c.kv_heads * c.head_dim, 2);
    const auto v = testing::random_floats(c.batch * c.kv_len * c.kv_heads * c.head_dim, 3);
    Tensor lengths;
    if (!c.key_lengths.empty()) {
      const std::vector<std::int32_t> host(c.key_lengths.begin(), c.key_lengths.end());
      lengths = testing::upload_bytes(*device_, host.data(), DType::i32, Shape{c.batch});
    }
    Tensor out = testing::unwrap(
        device_->empty(DType::f32, Shape{c.batch, c.q_len, c.q_heads, c.head_dim}, MemoryTag::io));
    ops::vulkan::AttentionParams params;
    params.mask = static_cast<int>(c.mask);
    params.window = c.window;
    params.query_position = c.query_position >= 0 ? c.query_position : c.kv_len - c.q_len;
    params.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    params.shared_reductions = true;
    ASSERT_TRUE(ops::vulkan::attention(*vk, up(q, Shape{c.batch, c.q_len, c.q_heads, c.head_dim}),
                                       up(k, Shape{c.batch, c.kv_len, c.kv_heads, c.head_dim}),
                                       up(v, Shape{c.batch, c.kv_len, c.kv_heads, c.head_dim}),
                                       lengths, params, out)
                    .ok());
    testing::expect_close(testing::download(out), naive_attention(c, q, k, v), 2e-5, 1e-4,
                          "shared-memory reductions");
  }
}

TEST_P(AttentionTest, VulkanRejectsHeadDimsPastTheKernel) {
  if (as_vulkan(*device_) == nullptr) GTEST_SKIP() << "vulkan only";
  const Shape s{1, 2, 1, ops::vulkan::kAttentionMaxHeadDim + 1};
  const auto x = testing::random_floats(static_cast<std::size_t>(s.numel()), 1);
  auto out = ops::attention(ctx(), up(x, s), up(x, s), up(x, s));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().to_string().find("head_dim 513"), std::string::npos)
      << out.status().to_string();
}

TEST_P(AttentionTest, RejectsBadShapes) {
  auto t = [&](Shape s) {
    return up(testing::random_floats(static_cast<std::size_t>(s.numel()), 1), s);
  };
  EXPECT_FALSE(
      ops::attention(ctx(), t({1, 4, 3, 8}), t({1, 4, 2, 8}), t({1, 4, 2, 8})).ok());  // 3 % 2
  EXPECT_FALSE(
      ops::attention(ctx(), t({1, 4, 2, 8}), t({1, 4, 2, 4}), t({1, 4, 2, 4})).ok());  // head_dim
  EXPECT_FALSE(
      ops::attention(ctx(), t({1, 4, 2, 8}), t({1, 4, 2, 8}), t({1, 5, 2, 8})).ok());  // k != v
  EXPECT_FALSE(ops::attention(ctx(), t({4, 2, 8}), t({1, 4, 2, 8}), t({1, 4, 2, 8})).ok());  // rank
  ops::AttentionOptions bad;
  bad.mask = Mask::sliding_window;
  bad.window = -1;
  EXPECT_FALSE(ops::attention(ctx(), t({1, 4, 2, 8}), t({1, 4, 2, 8}), t({1, 4, 2, 8}), bad).ok());
}

}  // namespace
}  // namespace acefit
