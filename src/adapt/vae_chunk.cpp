// Choosing the VAE decode chunk from planned peaks and free memory.
#include "adapt/vae_chunk.h"

#include <cstdio>

namespace acefit {

std::string format_gib(std::uint64_t bytes) {
  char text[48];
  std::snprintf(text, sizeof text, "%.2f GiB",
                static_cast<double>(bytes) / static_cast<double>(std::uint64_t{1} << 30));
  return text;
}

Expected<VaeChunkChoice> choose_vae_chunk(std::span<const VaeChunkPeak> peaks,
                                          std::uint64_t free_bytes,
                                          std::optional<std::int64_t> override_chunk) {
  VaeChunkChoice choice;
  if (override_chunk) {
    if (*override_chunk < 1) {
      return invalid_argument("ACESTEP_VAE_DECODE_CHUNK_SIZE must be >= 1 latent frame, got " +
                              std::to_string(*override_chunk));
    }
    choice.chunk = *override_chunk;
    choice.fits = true;
    choice.overridden = true;
    choice.reason = "override ACESTEP_VAE_DECODE_CHUNK_SIZE=" + std::to_string(*override_chunk);
    return choice;
  }
  if (peaks.empty()) return invalid_argument("choose_vae_chunk: no candidate chunks");
  const VaeChunkPeak* best = nullptr;
  const VaeChunkPeak* smallest = nullptr;
  for (const VaeChunkPeak& peak : peaks) {
    if (peak.chunk < 1) {
      return invalid_argument("choose_vae_chunk: candidate chunk " + std::to_string(peak.chunk) +
                              " is not >= 1");
    }
    if (smallest == nullptr || peak.chunk < smallest->chunk) smallest = &peak;
    if (peak.peak_bytes <= free_bytes && (best == nullptr || peak.chunk > best->chunk))
      best = &peak;
  }
  if (best == nullptr) {
    choice.chunk = smallest->chunk;
    choice.fits = false;
    choice.reason = "no chunk fits " + format_gib(free_bytes) + " free: the smallest needs " +
                    format_gib(smallest->peak_bytes);
    return choice;
  }
  choice.chunk = best->chunk;
  choice.fits = true;
  choice.reason = "chunk " + std::to_string(best->chunk) + ": planned decode peak " +
                  format_gib(best->peak_bytes) + " fits " + format_gib(free_bytes) + " free";
  return choice;
}

}  // namespace acefit
