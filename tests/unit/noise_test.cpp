// Philox4x32-10 against the Random123 known-answer vectors, and the
// normals built on it: statistics and determinism (acestep-model.md 12).
#include "pipeline/noise.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

namespace acefit {
namespace {

TEST(Noise, PhiloxKnownAnswers) {
  EXPECT_EQ(philox4x32_10({0, 0, 0, 0}, {0, 0}),
            (PhiloxCounter{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  EXPECT_EQ(philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                          {0xffffffffu, 0xffffffffu}),
            (PhiloxCounter{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  EXPECT_EQ(philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                          {0xa4093822u, 0x299f31d0u}),
            (PhiloxCounter{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(Noise, StandardNormalStatistics) {
  const std::size_t n = 100000;
  const std::vector<float> z = noise(1234, kInitialNoiseStream, n);
  double sum = 0, sum2 = 0, sum3 = 0, sum4 = 0;
  std::size_t beyond_two = 0;
  for (float value : z) {
    ASSERT_TRUE(std::isfinite(value));
    const double x = value;
    sum += x;
    sum2 += x * x;
    sum3 += x * x * x;
    sum4 += x * x * x * x;
    if (std::abs(x) > 2.0) ++beyond_two;
  }
  const double mean = sum / n;
  const double var = sum2 / n - mean * mean;
  // Standard errors: mean 1/sqrt(n) = 0.0032, variance sqrt(2/n) = 0.0045.
  EXPECT_NEAR(mean, 0.0, 0.015);
  EXPECT_NEAR(var, 1.0, 0.02);
  EXPECT_NEAR(sum3 / n, 0.0, 0.05);  // skewness
  EXPECT_NEAR(sum4 / n, 3.0, 0.1);   // kurtosis
  // P(|z| > 2) = 0.0455.
  EXPECT_NEAR(static_cast<double>(beyond_two) / n, 0.0455, 0.004);
  // Neighbouring values (the two halves of a Box-Muller pair) are uncorrelated.
  double lag = 0;
  for (std::size_t i = 0; i + 1 < n; ++i) lag += double(z[i]) * z[i + 1];
  EXPECT_NEAR(lag / (n - 1), 0.0, 0.015);
}

TEST(Noise, SameSeedSameNoiseWhateverTheBatch) {
  const std::size_t per_item = 3 * 64 + 5;  // not a multiple of 4
  const std::vector<float> single = batch_noise(consecutive_seeds(42, 1), 0, per_item);
  const std::vector<float> four = batch_noise(consecutive_seeds(40, 4), 0, per_item);
  // Item 2 of the batch seeded 40 is seed 42.
  ASSERT_EQ(four.size(), 4 * per_item);
  for (std::size_t i = 0; i < per_item; ++i) ASSERT_EQ(four[2 * per_item + i], single[i]);
  EXPECT_EQ(single, noise(42, 0, per_item));
  // A longer draw starts with the shorter one.
  const std::vector<float> longer = noise(42, 0, per_item * 2);
  for (std::size_t i = 0; i < per_item; ++i) ASSERT_EQ(longer[i], single[i]);
  // Repeated calls agree.
  EXPECT_EQ(noise(42, 0, per_item), single);
}

TEST(Noise, ChunkedAndThreadedFillsAgree) {
  const std::size_t n = 1001;
  const std::vector<float> whole = noise(7, 3, n);
  std::vector<float> pieces(n);
  std::vector<std::thread> threads;
  const std::size_t chunk = 97;  // odd sizes: chunks start inside Philox blocks
  for (std::size_t start = 0; start < n; start += chunk) {
    const std::size_t length = std::min(chunk, n - start);
    threads.emplace_back([&pieces, start, length] {
      fill_noise(7, 3, start, std::span<float>(pieces).subspan(start, length));
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(pieces, whole);
}

TEST(Noise, StreamsAndSeedsDiffer) {
  const std::vector<float> base = noise(5, kInitialNoiseStream, 16);
  const std::vector<float> step0 = noise(5, sde_noise_stream(0), 16);
  const std::vector<float> step1 = noise(5, sde_noise_stream(1), 16);
  const std::vector<float> other_seed = noise(6, kInitialNoiseStream, 16);
  const std::vector<float> high_seed = noise(5 + (1ull << 32), kInitialNoiseStream, 16);
  EXPECT_EQ(sde_noise_stream(0), 1u);
  EXPECT_NE(base, step0);
  EXPECT_NE(step0, step1);
  EXPECT_NE(base, other_seed);
  EXPECT_NE(base, high_seed);
  // Wrap-around of consecutive seeds.
  const auto seeds = consecutive_seeds(UINT64_MAX, 2);
  EXPECT_EQ(seeds[1], 0u);
}

TEST(Noise, BoxMullerOfTheFirstBlock) {
  // Index 0..3 of (seed 0, stream 0) come from philox({0,0,0,0}, {0,0}).
  const PhiloxCounter bits = philox4x32_10({0, 0, 0, 0}, {0, 0});
  const double two32 = 4294967296.0;
  const double pi = 3.14159265358979323846;
  const std::vector<float> z = noise(0, 0, 4);
  for (int pair = 0; pair < 2; ++pair) {
    const double u1 = (bits[2 * pair] + 1.0) / two32;
    const double u2 = bits[2 * pair + 1] / two32;
    const double r = std::sqrt(-2.0 * std::log(u1));
    EXPECT_FLOAT_EQ(z[2 * pair], static_cast<float>(r * std::cos(2 * pi * u2)));
    EXPECT_FLOAT_EQ(z[2 * pair + 1], static_cast<float>(r * std::sin(2 * pi * u2)));
  }
}

}  // namespace
}  // namespace acefit
