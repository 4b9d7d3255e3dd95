// choose_vae_chunk (gpu-adaptation.md 9.3) against hand-computed cases: the
// largest candidate whose planned peak fits, the override, and the line
// that explains the choice.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "adapt/vae_chunk.h"

namespace acefit {
namespace {

constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;

// hundredths of a GiB, as bytes
constexpr std::uint64_t gib100(std::uint64_t hundredths) {
  return hundredths * kGiB / 100;
}

// The spec's measured bf16 peaks (10.4): 64/128 ~ 0.31, 256 ~ 0.8, 512 ~ 1.31,
// 1024 ~ 2.6, 1536 ~ 3.9 GiB.
std::vector<VaeChunkPeak> spec_peaks() {
  return {{64, gib100(31)},   {128, gib100(31)},   {256, gib100(80)},
          {512, gib100(131)}, {1024, gib100(260)}, {1536, gib100(390)}};
}

VaeChunkChoice choose(const std::vector<VaeChunkPeak>& peaks, std::uint64_t free_bytes,
                      std::optional<std::int64_t> override_chunk = {}) {
  auto choice = choose_vae_chunk(peaks, free_bytes, override_chunk);
  EXPECT_TRUE(choice.ok()) << choice.status().to_string();
  return choice.ok() ? choice.value() : VaeChunkChoice{};
}

TEST(VaeChunk, CandidatesAreTheGuidesSet) {
  EXPECT_EQ(std::vector<std::int64_t>(kVaeChunkCandidates.begin(), kVaeChunkCandidates.end()),
            (std::vector<std::int64_t>{64, 128, 256, 512, 1024, 1536}));
  EXPECT_EQ(kMinVaeChunk, 64);
}

TEST(VaeChunk, LargestChunkWhosePeakFits) {
  const VaeChunkChoice two = choose(spec_peaks(), 2 * kGiB);
  EXPECT_EQ(two.chunk, 512);
  EXPECT_TRUE(two.fits);
  EXPECT_FALSE(two.overridden);
  EXPECT_EQ(two.reason, "chunk 512: planned decode peak 1.31 GiB fits 2.00 GiB free");

  // Hand-computed: each free size against the peaks above.
  const std::vector<std::pair<std::uint64_t, std::int64_t>> cases = {
      {gib100(31), 128},    // 64 and 128 need the same; the larger wins
      {gib100(79), 128},    // 256 needs 0.80
      {gib100(80), 256},    // a peak equal to the free bytes fits
      {gib100(259), 512},   // 1024 needs 2.60
      {gib100(389), 1024},  // 1536 needs 3.90
      {8 * kGiB, 1536},    {~std::uint64_t{0}, 1536},
  };
  for (const auto& [free_bytes, chunk] : cases) {
    const VaeChunkChoice c = choose(spec_peaks(), free_bytes);
    EXPECT_EQ(c.chunk, chunk) << free_bytes;
    EXPECT_TRUE(c.fits) << free_bytes;
  }
  // One byte short of a peak does not fit it.
  EXPECT_EQ(choose(spec_peaks(), gib100(131) - 1).chunk, 256);
}

TEST(VaeChunk, NothingFitsGivesTheSmallest) {
  const VaeChunkChoice c = choose(spec_peaks(), gib100(20));
  EXPECT_EQ(c.chunk, 64);
  EXPECT_FALSE(c.fits);
  EXPECT_EQ(c.reason, "no chunk fits 0.20 GiB free: the smallest needs 0.31 GiB");
  const VaeChunkChoice zero = choose(spec_peaks(), 0);
  EXPECT_EQ(zero.chunk, 64);
  EXPECT_FALSE(zero.fits);
}

TEST(VaeChunk, OrderOfThePeaksDoesNotMatter) {
  std::vector<VaeChunkPeak> reversed = spec_peaks();
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(choose(reversed, 2 * kGiB).chunk, 512);
  EXPECT_EQ(choose(reversed, gib100(10)).chunk, 64);
  // A subset: only what is listed is a candidate.
  EXPECT_EQ(choose({{256, gib100(80)}, {1024, gib100(260)}}, 2 * kGiB).chunk, 256);
}

TEST(VaeChunk, OverrideBypassesThePeaks) {
  const VaeChunkChoice c = choose(spec_peaks(), gib100(20), 300);
  EXPECT_EQ(c.chunk, 300);
  EXPECT_TRUE(c.fits);
  EXPECT_TRUE(c.overridden);
  EXPECT_EQ(c.reason, "override ACESTEP_VAE_DECODE_CHUNK_SIZE=300");
  // No peaks needed with an override.
  EXPECT_EQ(choose({}, 0, 1536).chunk, 1536);
}

TEST(VaeChunk, RejectsBadInput) {
  EXPECT_EQ(choose_vae_chunk(spec_peaks(), kGiB, 0).status().code(), ErrorCode::invalid_argument);
  EXPECT_EQ(choose_vae_chunk(spec_peaks(), kGiB, -4).status().code(), ErrorCode::invalid_argument);
  EXPECT_EQ(choose_vae_chunk({}, kGiB).status().code(), ErrorCode::invalid_argument);
  const std::vector<VaeChunkPeak> bad = {{0, 1}};
  EXPECT_EQ(choose_vae_chunk(bad, kGiB).status().code(), ErrorCode::invalid_argument);
}

TEST(VaeChunk, FormatsGiB) {
  EXPECT_EQ(format_gib(0), "0.00 GiB");
  EXPECT_EQ(format_gib(kGiB), "1.00 GiB");
  EXPECT_EQ(format_gib(3 * kGiB / 2), "1.50 GiB");
  EXPECT_EQ(format_gib(gib100(31)), "0.31 GiB");
}

}  // namespace
}  // namespace acefit
