// Tiled VAE decode (acestep-model.md 13.5, gpu-adaptation.md 9.2):
// overlap-discard tiling along the latent frames. Each window is decoded
// alone, its overlap samples are trimmed and the core is kept, so the device
// holds one tile's activations at a time. No crossfade; batch items are
// decoded one at a time. The cores go either straight into the host buffer
// (level 2 of the adaptive decode) or into one device buffer per item that
// is copied to the host when the item is done (level 1).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "models/vae/host_audio.h"
#include "models/vae/oobleck_decoder.h"
#include "ops/op_context.h"

namespace acefit::models {

inline constexpr std::int64_t kDefaultVaeOverlap = 64;  // latent frames per side
// The overlap is never reduced below this (acestep-model.md 18.6).
inline constexpr std::int64_t kMinVaeOverlap = 4;
// The smallest chunk that tiles with an overlap of at least kMinVaeOverlap.
inline constexpr std::int64_t kMinTiledVaeChunk = 2 * kMinVaeOverlap + 1;

// One tile: the core frames it contributes and the window it decodes.
struct DecodeTile {
  std::int64_t core_start = 0;
  std::int64_t core_end = 0;
  std::int64_t window_start = 0;
  std::int64_t window_end = 0;
};

struct DecodeTilePlan {
  std::int64_t chunk = 0;
  std::int64_t overlap = 0;     // after halving
  bool overlap_halved = false;  // reduced from the one asked
  std::int64_t stride = 0;      // chunk - 2 overlap; 0 when decoded in one piece
  std::vector<DecodeTile> tiles;
};

// The tiles for `frames` latent frames (13.5 as amended by 18.6): overlap
// halves while chunk - 2 overlap <= 0 and overlap > 4, and an overlap asked
// at 4 or more ends at 4 or more (6 -> 3 becomes 4); frames <= chunk gives
// one tile covering everything; otherwise stride = chunk - 2 overlap, n =
// ceil(frames / stride), core i = [i stride, min(i stride + stride,
// frames)), window = [max(0, core_start - overlap), min(frames, core_end +
// overlap)). invalid_argument unless frames >= 1, chunk >= 1 and overlap >=
// 0, and when the decode needs tiles but chunk - 2 overlap <= 0 (a chunk of
// 8 or less with an overlap of 4 or more).
Expected<DecodeTilePlan> plan_decode_tiles(std::int64_t frames, std::int64_t chunk,
                                           std::int64_t overlap = kDefaultVaeOverlap);

struct TiledDecodeOptions {
  std::int64_t chunk = 256;  // latent frames per decoded window
  std::int64_t overlap = kDefaultVaeOverlap;
  // false: each trimmed core is copied to the host buffer as soon as it is
  // decoded. true: the cores of an item are written into one device tensor
  // f32 [audio_channels, hop T] (tag io), copied to the host buffer when the
  // item is done and released before the next item, so the device peak is
  // one tile's activations plus that buffer, whatever the batch.
  bool accumulate_on_device = false;
  // Called after each decoded tile with (tiles done, tiles in all), counting
  // over every batch item: 1 of n first, n of n last.
  std::function<void(std::int64_t done, std::int64_t total)> progress;
};

// Decodes latents f32 [B, C, T] on ctx.device (the decoder's device) into a
// host buffer [B, audio_channels, hop T]. On a planning device the tiles are
// planned (the same reservations as the real run, so the planned peak is the
// real one) and the returned data is empty. Errors from a tile name the item
// and the window; everything a failed call reserved is released on return.
Expected<HostAudio> tiled_decode(const OobleckDecoder& decoder, const ops::OpContext& ctx,
                                 const Tensor& latents, const TiledDecodeOptions& options = {});

}  // namespace acefit::models
