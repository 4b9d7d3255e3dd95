// Philox4x32-10 and Box-Muller normals (acestep-model.md 12).
#include "pipeline/noise.h"

#include <cmath>
#include <numbers>

namespace acefit {

namespace {

constexpr std::uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr std::uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9u;  // golden ratio
constexpr std::uint32_t kPhiloxW1 = 0xBB67AE85u;  // sqrt(3) - 1

inline void mul_hi_lo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi, std::uint32_t& lo) {
  const std::uint64_t product = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(product >> 32);
  lo = static_cast<std::uint32_t>(product);
}

constexpr double kTwoPow32Inv = 1.0 / 4294967296.0;

// Two normals from two 32-bit words.
inline void box_muller(std::uint32_t a, std::uint32_t b, double& z0, double& z1) {
  const double u1 = (static_cast<double>(a) + 1.0) * kTwoPow32Inv;  // (0, 1]
  const double u2 = static_cast<double>(b) * kTwoPow32Inv;          // [0, 1)
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * std::numbers::pi * u2;
  z0 = r * std::cos(angle);
  z1 = r * std::sin(angle);
}

}  // namespace

PhiloxCounter philox4x32_10(PhiloxCounter counter, PhiloxKey key) {
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, lo0, hi1, lo1;
    mul_hi_lo(kPhiloxM0, counter[0], hi0, lo0);
    mul_hi_lo(kPhiloxM1, counter[2], hi1, lo1);
    counter = {hi1 ^ counter[1] ^ key[0], lo1, hi0 ^ counter[3] ^ key[1], lo0};
    key[0] += kPhiloxW0;
    key[1] += kPhiloxW1;
  }
  return counter;
}

void fill_noise(std::uint64_t seed, std::uint64_t stream, std::uint64_t first_index,
                std::span<float> out) {
  const PhiloxKey key = {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)};
  std::size_t done = 0;
  while (done < out.size()) {
    const std::uint64_t index = first_index + done;
    const std::uint64_t block = index / 4;
    const PhiloxCounter bits = philox4x32_10(
        {static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
         static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)},
        key);
    double values[4];
    box_muller(bits[0], bits[1], values[0], values[1]);
    box_muller(bits[2], bits[3], values[2], values[3]);
    for (auto lane = static_cast<std::size_t>(index % 4); lane < 4 && done < out.size(); ++lane) {
      out[done++] = static_cast<float>(values[lane]);
    }
  }
}

std::vector<float> noise(std::uint64_t seed, std::uint64_t stream, std::size_t count) {
  std::vector<float> out(count);
  fill_noise(seed, stream, 0, out);
  return out;
}

std::vector<float> batch_noise(std::span<const std::uint64_t> item_seeds, std::uint64_t stream,
                               std::size_t per_item) {
  std::vector<float> out(item_seeds.size() * per_item);
  for (std::size_t b = 0; b < item_seeds.size(); ++b) {
    fill_noise(item_seeds[b], stream, 0, std::span<float>(out).subspan(b * per_item, per_item));
  }
  return out;
}

std::vector<std::uint64_t> consecutive_seeds(std::uint64_t base_seed, std::size_t batch) {
  std::vector<std::uint64_t> seeds(batch);
  for (std::size_t b = 0; b < batch; ++b) seeds[b] = base_seed + b;
  return seeds;
}

}  // namespace acefit
