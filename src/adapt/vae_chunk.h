// The VAE decode chunk (gpu-adaptation.md 9.3), chosen from numbers: the
// largest candidate whose planned decode peak fits the free budget, or the
// override (ACESTEP_VAE_DECODE_CHUNK_SIZE / --vae-chunk). The peaks come from
// planning the real decode (pipeline/vae_decode.h); this file never sees a
// model.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "core/status.h"

namespace acefit {

// The guide's chunk set, in latent frames, ascending.
inline constexpr std::array<std::int64_t, 6> kVaeChunkCandidates = {64, 128, 256, 512, 1024, 1536};
// The ladder never halves a chunk below this.
inline constexpr std::int64_t kMinVaeChunk = 64;

// The planned device peak of decoding one item at `chunk`.
struct VaeChunkPeak {
  std::int64_t chunk = 0;
  std::uint64_t peak_bytes = 0;
};

struct VaeChunkChoice {
  std::int64_t chunk = 0;
  // The chosen chunk's peak fits free_bytes. An override is taken as given
  // (the spec lets it bypass every cap) and reports true.
  bool fits = false;
  bool overridden = false;
  // One line for the log, e.g. "chunk 512: planned decode peak 1.31 GiB fits
  // 2.00 GiB free", "override ACESTEP_VAE_DECODE_CHUNK_SIZE=300", "no chunk
  // fits 0.20 GiB free: the smallest needs 0.31 GiB".
  std::string reason;
};

// Picks the largest chunk in `peaks` whose peak_bytes <= free_bytes; when
// none fits, the smallest chunk with fits = false (the ladder will fall back
// at run time). Whether free_bytes already excludes the decoder's weights is
// the caller's business (resident VAE: yes; offloaded VAE: subtract them).
// invalid_argument when peaks is empty, a chunk in it is < 1 or the
// override is < 1.
Expected<VaeChunkChoice> choose_vae_chunk(std::span<const VaeChunkPeak> peaks,
                                          std::uint64_t free_bytes,
                                          std::optional<std::int64_t> override_chunk = {});

// "1.31 GiB": bytes in GiB with two decimals, as the chunk reasons print them.
std::string format_gib(std::uint64_t bytes);

}  // namespace acefit
