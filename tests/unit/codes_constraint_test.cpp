// The audio-code phase's mask (acestep-model.md 14.6): only valid audio
// codes and EOS, EOS impossible before exactly target_codes codes and the
// only token after them, on full and partial LM heads; and the
// max_new_tokens budgets of 14.7.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "models/lm/codes_constraint.h"
#include "models/lm/lm_tokens.h"

namespace acefit::models::lm {
namespace {

constexpr float kCodesInf = std::numeric_limits<float>::infinity();
constexpr std::int32_t kLastCode = kFirstAudioCodeTokenId + kAudioCodeValues - 1;

// The ids (absolute) apply() leaves finite over [first_id, first_id + size).
std::vector<std::int32_t> finite_ids(const CodesConstraint& codes, std::int32_t first_id,
                                     std::size_t size) {
  std::vector<float> logits(size, 1.0f);
  codes.apply(logits, first_id);
  std::vector<std::int32_t> out;
  for (std::size_t i = 0; i < size; ++i) {
    if (logits[i] != -kCodesInf) out.push_back(first_id + static_cast<std::int32_t>(i));
  }
  return out;
}

bool only_codes(const std::vector<std::int32_t>& ids, std::int32_t first, std::int32_t last) {
  if (ids.empty() || ids.front() != first || ids.back() != last) return false;
  return ids.size() == static_cast<std::size_t>(last - first + 1);
}

TEST(CodesConstraint, ExactlyTargetCodesThenEosOnTheFullHead) {
  CodesConstraint codes(3);
  EXPECT_FALSE(codes.done());
  EXPECT_FALSE(codes.forced_token().has_value());
  for (int i = 0; i < 3; ++i) {
    const auto open = finite_ids(codes, 0, static_cast<std::size_t>(kLmVocabSize));
    EXPECT_TRUE(only_codes(open, kFirstAudioCodeTokenId, kLastCode)) << i;  // EOS masked
    EXPECT_FALSE(codes.accept(kImEndTokenId).ok()) << i;
    EXPECT_FALSE(codes.accept(kLastCode + 1).ok()) << i;  // slot 64000 is no FSQ code
    EXPECT_FALSE(codes.accept(kEndThinkTokenId).ok()) << i;
    EXPECT_FALSE(codes.accept(42).ok()) << i;
    ASSERT_TRUE(codes.accept(i == 0 ? kFirstAudioCodeTokenId : kLastCode).ok());
    EXPECT_EQ(codes.codes(), i + 1);
  }
  EXPECT_TRUE(codes.done());
  EXPECT_EQ(codes.forced_token(), kImEndTokenId);
  EXPECT_EQ(finite_ids(codes, 0, static_cast<std::size_t>(kLmVocabSize)),
            std::vector<std::int32_t>{kImEndTokenId});
  EXPECT_FALSE(codes.accept(kFirstAudioCodeTokenId).ok());
  ASSERT_TRUE(codes.accept(kImEndTokenId).ok());
  EXPECT_TRUE(codes.finished());
  EXPECT_FALSE(codes.accept(kImEndTokenId).ok());
  EXPECT_TRUE(finite_ids(codes, 0, static_cast<std::size_t>(kLmVocabSize)).empty());
  EXPECT_EQ(codes.codes(), 3);
}

TEST(CodesConstraint, PartialHeadOffsets) {
  // A head over the codes only: nothing to mask before the target, and
  // everything once EOS (outside the span) is forced.
  CodesConstraint codes(2);
  EXPECT_EQ(finite_ids(codes, kFirstAudioCodeTokenId, kAudioCodeValues).size(),
            static_cast<std::size_t>(kAudioCodeValues));
  // A head over EOS, the codes and the unused slots after them.
  const std::int32_t first = kImEndTokenId - 5;
  const std::size_t size = static_cast<std::size_t>(kLmVocabSize - first);
  EXPECT_TRUE(only_codes(finite_ids(codes, first, size), kFirstAudioCodeTokenId, kLastCode));
  // A head that ends inside the codes.
  EXPECT_TRUE(only_codes(finite_ids(codes, first, 100), kFirstAudioCodeTokenId, first + 99));
  ASSERT_TRUE(codes.accept(kFirstAudioCodeTokenId + 7).ok());
  ASSERT_TRUE(codes.accept(kFirstAudioCodeTokenId + 8).ok());
  EXPECT_TRUE(finite_ids(codes, kFirstAudioCodeTokenId, kAudioCodeValues).empty());
  EXPECT_EQ(codes.forced_token(), kImEndTokenId);
  EXPECT_EQ(finite_ids(codes, first, size), std::vector<std::int32_t>{kImEndTokenId});
  // Scores that survive keep their values.
  std::vector<float> logits = {0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f};
  codes.apply(logits, first);
  EXPECT_EQ(logits[5], 5.5f);
  EXPECT_EQ(logits[0], -kCodesInf);
}

TEST(CodesConstraint, ZeroTargetIsDoneAtOnce) {
  CodesConstraint none(0);
  EXPECT_TRUE(none.done());
  EXPECT_EQ(none.forced_token(), kImEndTokenId);
  EXPECT_FALSE(none.accept(kFirstAudioCodeTokenId).ok());
  CodesConstraint negative(-4);
  EXPECT_EQ(negative.target_codes(), 0);
  EXPECT_TRUE(negative.accept(kImEndTokenId).ok());
}

TEST(CodesConstraint, ManyCodesCountExactly) {
  CodesConstraint codes(900);  // 180 s
  for (int i = 0; i < 900; ++i) {
    ASSERT_FALSE(codes.done());
    ASSERT_TRUE(codes.accept(kFirstAudioCodeTokenId + (i * 71) % kAudioCodeValues).ok());
  }
  EXPECT_TRUE(codes.done());
  EXPECT_EQ(codes.codes(), 900);
}

TEST(MaxNewTokens, FollowTheSpecClampAndTheContext) {
  // 180 s on an unlimited tier with an 8192-token context.
  EXPECT_EQ(max_new_tokens_codes(180.0, 600, 8192), 910);
  EXPECT_EQ(max_new_tokens_cot(180.0, 600, 8192), 1400);
  // Below 10 s counts as 10 s; above the tier's limit as the limit.
  EXPECT_EQ(max_new_tokens_codes(4.0, 600, 8192), 60);
  EXPECT_EQ(max_new_tokens_codes(700.0, 480, 8192), 2410);
  EXPECT_EQ(max_new_tokens_codes(700.0, 240, 8192), 1210);
  EXPECT_EQ(max_new_tokens_cot(1000.0, 900, 8192), 3500);  // never above 600 s
  EXPECT_EQ(clamped_target_codes(30.5, 600), 152);
  // Always at most context - 64; no target: context - 64.
  EXPECT_EQ(max_new_tokens_codes(480.0, 480, 2048), 1984);
  EXPECT_EQ(max_new_tokens_cot(std::nullopt, 480, 4096), 4032);
  EXPECT_EQ(max_new_tokens_codes(std::nan(""), 480, 4096), 4032);
  EXPECT_EQ(max_new_tokens_codes(30.0, 480, 10), 0);
}

}  // namespace
}  // namespace acefit::models::lm
