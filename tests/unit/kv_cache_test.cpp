// The 5 Hz LM's KV cache (models/lm/kv_cache.h): bytes reserved by each
// kind, growth and its peak, errors, out_of_memory while growing, and plan
// == measured for a model run over it.
#include "models/lm/kv_cache.h"

#include <filesystem>

#include "device/planning/planning_device.h"
#include "lm_test_support.h"
#include "models/lm/causal_lm.h"
#include "ops/layout.h"
#include "safetensors_test_util.h"
#include "test_support.h"

namespace acefit::kv_cache_tests {
namespace {

using models::lm::CausalLm;
using models::lm::KvCache;
using models::lm::KvCacheKind;
using models::lm::KvCacheOptions;

class KvCacheTest : public testing::DeviceTest {
 protected:
  std::uint64_t kv_now() { return device_->budget().current_bytes(MemoryTag::kv_cache); }
  // k or v [1, n, 2, 8] of distinct values.
  Tensor tokens(std::int64_t n, std::uint64_t seed) {
    return up(testing::random_floats(static_cast<std::size_t>(n * 16), seed), Shape{1, n, 2, 8});
  }
};
ACEFIT_DEVICE_TEST_SUITE(KvCacheTest);

TEST(KvCacheBytes, PerTokenAndPerBlockAtTheShippedDims) {
  Qwen3Config c;                                    // 0.6B / 1.7B: 28 layers x 8 KV heads x 128
  EXPECT_EQ(KvCache::bytes_per_token(c), 229376u);  // K + V, f32
  EXPECT_EQ(KvCache::block_tokens(1), 256);
  EXPECT_EQ(KvCache::block_tokens(256), 256);
  EXPECT_EQ(KvCache::block_tokens(257), 512);
  EXPECT_EQ(KvCache::preallocated_bytes(c, {KvCacheKind::preallocated, 4, 2500}),
            4u * 2560u * 229376u);
}

TEST_P(KvCacheTest, PreallocatedReservesEveryBlockAtCreationAndFreesItWhenDropped) {
  const Qwen3Config c = testing::tiny_lm_config(2);
  const std::uint64_t before = kv_now();
  const KvCacheOptions options{KvCacheKind::preallocated, 3, 300};
  {
    KvCache kv = testing::unwrap(KvCache::create(*device_, c, options));
    const std::uint64_t expected = 3u * 512u * KvCache::bytes_per_token(c);
    EXPECT_EQ(KvCache::preallocated_bytes(c, options), expected);
    EXPECT_EQ(kv_now() - before, expected);
    EXPECT_EQ(kv.reserved_bytes(), expected);
    for (int s = 0; s < 3; ++s) {
      EXPECT_EQ(kv.capacity(s), 512);
      EXPECT_EQ(kv.length(s), 0);
    }
    // Appending reserves nothing more.
    ASSERT_TRUE(kv.ensure_room(2, 512).ok());
    EXPECT_EQ(kv_now() - before, expected);
  }
  EXPECT_EQ(kv_now(), before);
}

TEST_P(KvCacheTest, WritesLandInEachSequencesViewOnly) {
  const Qwen3Config c = testing::tiny_lm_config(1);
  for (const KvCacheKind kind : {KvCacheKind::preallocated, KvCacheKind::grown}) {
    KvCache kv = testing::unwrap(KvCache::create(*device_, c, {kind, 2, 40}));
    const Tensor k0 = tokens(3, 1), v0 = tokens(3, 2), k1 = tokens(5, 3), v1 = tokens(5, 4);
    ASSERT_TRUE(kv.ensure_room(1, 5).ok());
    ASSERT_TRUE(kv.write(ctx(), 0, 1, k1, v1).ok());
    ASSERT_TRUE(kv.commit(1, 5).ok());
    ASSERT_TRUE(kv.ensure_room(0, 3).ok());
    ASSERT_TRUE(kv.write(ctx(), 0, 0, k0, v0).ok());
    ASSERT_TRUE(kv.commit(0, 3).ok());
    const Tensor more = tokens(2, 5), more_v = tokens(2, 6);
    ASSERT_TRUE(kv.ensure_room(0, 2).ok());
    ASSERT_TRUE(kv.write(ctx(), 0, 0, more, more_v).ok());
    ASSERT_TRUE(kv.commit(0, 2).ok());
    EXPECT_EQ(kv.length(0), 5);
    const Tensor keys0 = testing::unwrap(kv.keys(0, 0, 5));
    EXPECT_EQ(keys0.shape(), (Shape{1, 5, 2, 8}));
    EXPECT_TRUE(keys0.is_contiguous());
    std::vector<float> expected = testing::download(k0);
    const std::vector<float> tail = testing::download(more);
    expected.insert(expected.end(), tail.begin(), tail.end());
    const std::vector<float> got =
        testing::download(testing::unwrap(ops::contiguous(ctx(), keys0)));
    EXPECT_EQ(got, expected) << kv_cache_kind_name(kind);
    EXPECT_EQ(testing::download(
                  testing::unwrap(ops::contiguous(ctx(), testing::unwrap(kv.values(0, 1, 5))))),
              testing::download(v1));
    // Writing more than was made room for, or a wrong shape, is refused.
    EXPECT_FALSE(kv.write(ctx(), 0, 0, tokens(1, 7), tokens(2, 8)).ok());
    EXPECT_FALSE(kv.write(ctx(), 1, 0, k0, v0).ok());
    EXPECT_FALSE(kv.keys(0, 0, 1000).ok());
  }
}

TEST_P(KvCacheTest, PreallocatedAppendPastCapacityIsAnErrorNotAReallocation) {
  const Qwen3Config c = testing::tiny_lm_config(2);
  KvCache kv = testing::unwrap(KvCache::create(*device_, c, {KvCacheKind::preallocated, 2, 200}));
  const std::uint64_t reserved = kv_now();
  ASSERT_TRUE(kv.ensure_room(1, 250).ok());
  ASSERT_TRUE(kv.commit(1, 250).ok());
  const Status status = kv.ensure_room(1, 7);
  EXPECT_EQ(status.code(), ErrorCode::invalid_argument);
  for (const char* part : {"sequence 1", "250 tokens", "7 more", "256 tokens"})
    EXPECT_NE(status.message().find(part), std::string::npos) << status.message();
  EXPECT_EQ(kv_now(), reserved);
  EXPECT_EQ(kv.capacity(1), 256);
  EXPECT_FALSE(kv.commit(1, 7).ok());
  EXPECT_EQ(kv.length(1), 250);
  EXPECT_EQ(kv.ensure_room(2, 1).code(), ErrorCode::invalid_argument);  // no sequence 2
  EXPECT_EQ(KvCache::create(*device_, c, {KvCacheKind::preallocated, 0, 10}).status().code(),
            ErrorCode::invalid_argument);
  EXPECT_EQ(KvCache::create(*device_, c, {KvCacheKind::grown, 1, 0}).status().code(),
            ErrorCode::invalid_argument);
}

TEST_P(KvCacheTest, GrownReservesOnlyBlocksInUseAndPeaksAsDocumented) {
  const Qwen3Config c = testing::tiny_lm_config(2);
  const std::uint64_t per_token = KvCache::bytes_per_token(c);
  const std::uint64_t one_tensor_token = 2 * 8 * sizeof(float);  // one layer's K, one token
  const std::uint64_t before = kv_now();
  KvCache kv = testing::unwrap(KvCache::create(*device_, c, {KvCacheKind::grown, 2, 600}));
  EXPECT_EQ(kv.limit(), 768);
  EXPECT_EQ(kv_now(), before);
  EXPECT_EQ(kv.reserved_bytes(), 0u);
  ASSERT_TRUE(kv.ensure_room(0, 10).ok());
  EXPECT_EQ(kv.capacity(0), 256);
  EXPECT_EQ(kv.capacity(1), 0);
  EXPECT_EQ(kv_now() - before, 256 * per_token);
  const Tensor k = tokens(10, 11), v = tokens(10, 12);
  ASSERT_TRUE(kv.write(ctx(), 1, 0, k, v).ok());
  ASSERT_TRUE(kv.commit(0, 10).ok());
  // 10 + 300 tokens need 512: the peak is the grown cache plus one old tensor.
  device_->budget().reset_peaks();
  ASSERT_TRUE(kv.ensure_room(0, 300).ok());
  EXPECT_EQ(kv.capacity(0), 512);
  EXPECT_EQ(kv_now() - before, 512 * per_token);
  EXPECT_EQ(kv.reserved_bytes(), 512 * per_token);
  EXPECT_EQ(device_->budget().peak_bytes(MemoryTag::kv_cache) - before,
            512 * per_token + 256 * one_tensor_token);
  // The tokens held moved with the growth.
  EXPECT_EQ(testing::download(
                testing::unwrap(ops::contiguous(ctx(), testing::unwrap(kv.keys(1, 0, 10))))),
            testing::download(k));
  // Past the limit (768 tokens) is an error; clearing frees the blocks.
  const Status past = kv.ensure_room(0, 800);
  EXPECT_EQ(past.code(), ErrorCode::invalid_argument);
  EXPECT_NE(past.message().find("768 tokens"), std::string::npos) << past.message();
  kv.clear(0);
  EXPECT_EQ(kv.length(0), 0);
  EXPECT_EQ(kv_now(), before);
}

TEST_P(KvCacheTest, OutOfMemoryWhileGrowingIsAStatusAndTheCacheStaysUsable) {
  const Qwen3Config c = testing::tiny_lm_config(2);
  const std::uint64_t per_token = KvCache::bytes_per_token(c);
  Budget& budget = device_->budget();
  const std::uint64_t cap = budget.cap_bytes();
  const std::uint64_t before = kv_now();
  KvCache kv = testing::unwrap(KvCache::create(*device_, c, {KvCacheKind::grown, 1, 1000}));
  ASSERT_TRUE(kv.ensure_room(0, 3).ok());
  const Tensor k = tokens(3, 21), v = tokens(3, 22);
  for (int layer = 0; layer < 2; ++layer) ASSERT_TRUE(kv.write(ctx(), layer, 0, k, v).ok());
  ASSERT_TRUE(kv.commit(0, 3).ok());
  // Room for about two of the four 512-token tensors.
  budget.set_cap_bytes(budget.used_bytes() + per_token * 512 / 2 + 1024);
  const Status status = kv.ensure_room(0, 300);
  budget.set_cap_bytes(cap);
  EXPECT_EQ(status.code(), ErrorCode::out_of_memory) << status.to_string();
  EXPECT_NE(status.message().find("sequence 0"), std::string::npos) << status.message();
  EXPECT_EQ(kv.capacity(0), 256);
  EXPECT_EQ(kv.length(0), 3);
  // Three of the four tensors grew before the fourth failed: the budget
  // holds exactly what the cache says it holds.
  EXPECT_EQ(kv.reserved_bytes(), 3 * per_token * 512 / 4 + per_token * 256 / 4);
  EXPECT_EQ(kv_now() - before, kv.reserved_bytes());
  // Still usable: the same growth succeeds once memory is back, keeping the tokens.
  ASSERT_TRUE(kv.ensure_room(0, 300).ok());
  EXPECT_EQ(kv.capacity(0), 512);
  EXPECT_EQ(kv.reserved_bytes(), 512 * per_token);
  for (int layer = 0; layer < 2; ++layer) {
    EXPECT_EQ(testing::download(
                  testing::unwrap(ops::contiguous(ctx(), testing::unwrap(kv.values(layer, 0, 3))))),
              testing::download(v));
  }
}

// ---- with the model ----------------------------------------------------------

struct LmFolder {
  testing::TempDir root;
  testing::TinyLmWeights weights = testing::make_tiny_lm_weights(testing::tiny_lm_config(2), 5);
  std::string dir;
  LmFolder() {
    dir = root.path() + "/lm";
    std::filesystem::create_directories(dir);
    testing::write_tiny_lm(dir, weights, "model.", false);
  }
};

const LmFolder& lm_folder() {
  static const LmFolder folder;  // removed at exit
  return folder;
}

// Prefill two sequences, decode three steps together, take a partial head.
Status run_lm(const ops::OpContext& ctx, const CausalLm& lm, KvCache& kv) {
  const std::vector<std::int32_t> a{1, 2, 3, 4, 5, 6, 7, 8, 9}, b{10, 11, 12, 13, 14};
  ACEFIT_TRY(lm.prefill(ctx, kv, 0, a).status());
  ACEFIT_TRY(lm.prefill(ctx, kv, 1, b).status());
  const int seqs[] = {0, 1};
  for (std::int32_t step = 0; step < 3; ++step) {
    const std::int32_t tokens[] = {20 + step, 30 + step};
    ACEFIT_ASSIGN(const Tensor hidden, lm.decode(ctx, kv, seqs, tokens));
    ACEFIT_TRY(lm.logits(ctx, hidden, 100, 300).status());
  }
  return {};
}

TEST_P(KvCacheTest, PlanEqualsMeasuredForBothKinds) {
  if (GetParam() == "vulkan") GTEST_SKIP() << "planned on cpu and sim (a fresh budget each)";
  for (const KvCacheKind kind : {KvCacheKind::preallocated, KvCacheKind::grown}) {
    std::shared_ptr<Device> real = testing::make_test_device(GetParam());
    std::shared_ptr<Device> plan = make_planning_device(*real);
    const Qwen3Config c = testing::tiny_lm_config(2);
    const KvCacheOptions options{kind, 2, 270};
    {
      const CausalLm lm = testing::unwrap(CausalLm::load(lm_folder().dir, *real, DType::bf16));
      KvCache kv = testing::unwrap(KvCache::create(*real, c, options));
      ASSERT_TRUE(run_lm({*real, testing::test_pool()}, lm, kv).ok());
    }
    {
      const models::WeightLoader planned =
          models::WeightLoader::planned("preset:lm", expected_qwen3_tensors(c, "model."));
      const CausalLm lm = testing::unwrap(CausalLm::load(planned, c, *plan, DType::bf16));
      KvCache kv = testing::unwrap(KvCache::create(*plan, c, options));
      ASSERT_TRUE(run_lm({*plan, testing::test_pool()}, lm, kv).ok());
    }
    const BudgetStats measured = real->budget().stats();
    const BudgetStats planned = plan->budget().stats();
    EXPECT_EQ(planned.peak_bytes, measured.peak_bytes) << kv_cache_kind_name(kind);
    for (const MemoryTag tag : kAllMemoryTags) {
      EXPECT_EQ(planned.peak_by_tag[static_cast<std::size_t>(tag)],
                measured.peak_by_tag[static_cast<std::size_t>(tag)])
          << memory_tag_name(tag) << ", " << kv_cache_kind_name(kind);
    }
    // Preallocated: 2 x 270 tokens in whole blocks; grown: the one block
    // each sequence uses (12 and 8 tokens).
    const std::uint64_t tokens = kind == KvCacheKind::preallocated ? 2 * 512 : 2 * 256;
    EXPECT_EQ(measured.peak_by_tag[static_cast<std::size_t>(MemoryTag::kv_cache)],
              tokens * KvCache::bytes_per_token(c));
  }
}

TEST_P(KvCacheTest, TheModelUnderASmallCapFailsWithAStatusAndRecovers) {
  const CausalLm lm = testing::unwrap(CausalLm::load(lm_folder().dir, *device_, DType::f32));
  KvCache kv =
      testing::unwrap(KvCache::create(*device_, lm.config(), {KvCacheKind::grown, 1, 600}));
  const std::vector<std::int32_t> ids(250, 3);
  ASSERT_TRUE(lm.prefill(ctx(), kv, 0, ids).ok());
  Budget& budget = device_->budget();
  const std::uint64_t cap = budget.cap_bytes();
  budget.set_cap_bytes(budget.used_bytes() + KvCache::bytes_per_token(lm.config()) * 256);
  const std::vector<std::int32_t> more(20, 4);
  const Status status = lm.prefill(ctx(), kv, 0, more).status();
  budget.set_cap_bytes(cap);
  EXPECT_EQ(status.code(), ErrorCode::out_of_memory) << status.to_string();
  EXPECT_EQ(kv.length(0), 250);
  const Tensor hidden = testing::unwrap(lm.prefill(ctx(), kv, 0, more));
  EXPECT_EQ(kv.length(0), 270);
  std::vector<std::int32_t> all = ids;
  all.insert(all.end(), more.begin(), more.end());
  KvCache fresh =
      testing::unwrap(KvCache::create(*device_, lm.config(), {KvCacheKind::preallocated, 1, 270}));
  const Tensor expected = testing::unwrap(lm.prefill(ctx(), fresh, 0, all));
  testing::expect_close(
      testing::download(hidden),
      [&] {
        const auto v = testing::download(expected);
        return std::vector<double>(v.begin(), v.end());
      }(),
      1e-5, 1e-5, "after recovering");
}

}  // namespace
}  // namespace acefit::kv_cache_tests
