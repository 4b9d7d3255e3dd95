// Deterministic random numbers (xoshiro256** seeded by splitmix64), the same
// sequence on every platform for a given seed.
#pragma once

#include <cstdint>

namespace acefit {

class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  std::uint64_t next_u64();
  float uniform();  // [0, 1)
  float normal();   // standard normal (Box-Muller)

 private:
  std::uint64_t state_[4];
  bool has_spare_ = false;
  float spare_ = 0.0f;
};

}  // namespace acefit
