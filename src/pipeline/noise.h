// Seeded Gaussian noise for the sampler (acestep-model.md 12): a
// counter-based Philox4x32-10 generator (Salmon et al., "Parallel random
// numbers: as easy as 1, 2, 3", SC'11) turned into standard normals by
// Box-Muller. The value at index i of a stream depends only on (seed,
// stream, i), so the same seed gives the same noise whatever the batch
// size, the chunking or the thread count. Batch item b uses seed
// base_seed + b. Streams separate the initial noise (0) from each SDE
// step's noise (1 + step).
//
// These values are NOT bit-compatible with PyTorch's generators (neither
// CPU nor CUDA): the same seed gives different noise than the reference.
//
// Mapping: key = {seed low 32 bits, seed high 32 bits}; counter = {block
// low, block high, stream low, stream high} with block = i / 4. The four
// 32-bit outputs x0..x3 form two Box-Muller pairs (x0, x1) -> values 4k,
// 4k + 1 and (x2, x3) -> 4k + 2, 4k + 3, with u1 = (x + 1) / 2^32 in
// (0, 1], u2 = x / 2^32 in [0, 1): r = sqrt(-2 ln u1), values r cos(2 pi
// u2), r sin(2 pi u2), computed in double and rounded to float.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace acefit {

using PhiloxCounter = std::array<std::uint32_t, 4>;
using PhiloxKey = std::array<std::uint32_t, 2>;

// One Philox4x32-10 block: the 10-round bijection of `counter` under `key`.
PhiloxCounter philox4x32_10(PhiloxCounter counter, PhiloxKey key);

inline constexpr std::uint64_t kInitialNoiseStream = 0;
// The stream of the noise drawn by SDE step `step` (0-based).
inline constexpr std::uint64_t sde_noise_stream(int step) {
  return 1 + static_cast<std::uint64_t>(step);
}

// Standard normals for indices first_index .. first_index + out.size() - 1
// of (seed, stream). Filling a range in pieces gives the same values.
void fill_noise(std::uint64_t seed, std::uint64_t stream, std::uint64_t first_index,
                std::span<float> out);

// `count` standard normals, indices 0 .. count - 1 of (seed, stream).
std::vector<float> noise(std::uint64_t seed, std::uint64_t stream, std::size_t count);

// Noise for a batch laid out item after item: item b gets
// noise(item_seeds[b], stream, per_item).
std::vector<float> batch_noise(std::span<const std::uint64_t> item_seeds, std::uint64_t stream,
                               std::size_t per_item);

// The seeds of a batch from one explicit seed: base_seed, base_seed + 1, ...
// (unsigned wrap-around).
std::vector<std::uint64_t> consecutive_seeds(std::uint64_t base_seed, std::size_t batch);

}  // namespace acefit
