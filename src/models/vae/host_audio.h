// Decoded audio in host memory: float samples, planar per item
// ([batch, channels, samples], samples contiguous), as the VAE produces it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace acefit::models {

struct HostAudio {
  std::int64_t batch = 0;
  std::int64_t channels = 0;
  std::int64_t samples = 0;  // per channel
  std::int64_t sample_rate = 0;
  // batch * channels * samples values; empty after a planning run.
  std::vector<float> data;

  std::size_t item_size() const { return static_cast<std::size_t>(channels * samples); }
  // Item b's [channels, samples] block.
  std::span<float> item(std::int64_t b) {
    return std::span<float>(data).subspan(static_cast<std::size_t>(b) * item_size(), item_size());
  }
  std::span<const float> item(std::int64_t b) const {
    return std::span<const float>(data).subspan(static_cast<std::size_t>(b) * item_size(),
                                                item_size());
  }
};

}  // namespace acefit::models
