// Overlap-discard tiled decode: tile geometry and the per-tile loop.
#include "models/vae/tiled_decode.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "ops/layout.h"

namespace acefit::models {

namespace {

std::string frames_text(std::int64_t start, std::int64_t end) {
  return "[" + std::to_string(start) + ", " + std::to_string(end) + ")";
}

}  // namespace

Expected<DecodeTilePlan> plan_decode_tiles(std::int64_t frames, std::int64_t chunk,
                                           std::int64_t overlap) {
  if (frames < 1) {
    return invalid_argument("tiled VAE decode: the latent has " + std::to_string(frames) +
                            " frames; it needs at least 1");
  }
  if (chunk < 1) {
    return invalid_argument("tiled VAE decode: chunk must be >= 1 latent frame, got " +
                            std::to_string(chunk));
  }
  if (overlap < 0) {
    return invalid_argument("tiled VAE decode: overlap must be >= 0 latent frames, got " +
                            std::to_string(overlap));
  }
  DecodeTilePlan plan;
  plan.chunk = chunk;
  // 18.6: halve down to 4 frames, never below (an overlap asked below 4 stays).
  const std::int64_t asked = overlap;
  while (chunk - 2 * overlap <= 0 && overlap > kMinVaeOverlap) overlap /= 2;
  if (overlap < kMinVaeOverlap && asked >= kMinVaeOverlap) overlap = kMinVaeOverlap;
  plan.overlap_halved = overlap != asked;
  plan.overlap = overlap;
  if (frames <= chunk) {
    plan.tiles.push_back({0, frames, 0, frames});
    return plan;
  }
  if (chunk - 2 * overlap <= 0) {
    return invalid_argument("tiled VAE decode: a chunk of " + std::to_string(chunk) +
                            " latent frames leaves no core with an overlap of " +
                            std::to_string(overlap) + " (asked " + std::to_string(asked) +
                            "; the overlap is not reduced below " + std::to_string(kMinVaeOverlap) +
                            " frames): the chunk must be more than " + std::to_string(2 * overlap) +
                            " frames");
  }
  plan.stride = chunk - 2 * overlap;
  const std::int64_t count = (frames + plan.stride - 1) / plan.stride;
  plan.tiles.reserve(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    DecodeTile tile;
    tile.core_start = i * plan.stride;
    tile.core_end = std::min(tile.core_start + plan.stride, frames);
    tile.window_start = std::max<std::int64_t>(0, tile.core_start - overlap);
    tile.window_end = std::min(frames, tile.core_end + overlap);
    plan.tiles.push_back(tile);
  }
  return plan;
}

Expected<HostAudio> tiled_decode(const OobleckDecoder& decoder, const ops::OpContext& ctx,
                                 const Tensor& latents, const TiledDecodeOptions& options) {
  const VaeConfig& config = decoder.config();
  if (!latents.defined() || latents.dtype() != DType::f32 || latents.rank() != 3 ||
      latents.dim(0) < 1 || latents.dim(1) != config.decoder_input_channels) {
    return invalid_argument("tiled VAE decode: latents " +
                            (latents.defined() ? latents.describe() : std::string("undefined")) +
                            " should be f32 [B, " + std::to_string(config.decoder_input_channels) +
                            ", T] with B >= 1");
  }
  if (latents.device() != &ctx.device) {
    return invalid_argument("tiled VAE decode: the latents are not on '" + ctx.device.name() + "'");
  }
  const std::int64_t batch = latents.dim(0), frames = latents.dim(2);
  ACEFIT_ASSIGN(const DecodeTilePlan plan,
                plan_decode_tiles(frames, options.chunk, options.overlap));

  const bool planned = ctx.device.planning();
  HostAudio out;
  out.batch = batch;
  out.channels = config.audio_channels;
  out.samples = frames * decoder.hop();
  out.sample_rate = config.sampling_rate;
  if (!planned) {
    out.data.assign(static_cast<std::size_t>(batch * out.channels * out.samples), 0.0f);
  }

  const auto tiles_per_item = static_cast<std::int64_t>(plan.tiles.size());
  const std::int64_t total = batch * tiles_per_item;
  double factor = 0.0;  // output samples per latent frame, measured on the first tile
  std::int64_t done = 0;
  const std::uint64_t item_bytes =
      static_cast<std::uint64_t>(out.channels * out.samples) * sizeof(float);
  for (std::int64_t b = 0; b < batch; ++b) {
    // Level 1: the item's audio is assembled on the device.
    Tensor accumulator;
    if (options.accumulate_on_device) {
      auto buffer = ctx.device.empty(DType::f32, Shape{out.channels, out.samples}, MemoryTag::io);
      if (!buffer.ok()) {
        return buffer.status().with_context("tiled VAE decode: item " + std::to_string(b) +
                                            ", the device buffer for its audio");
      }
      accumulator = std::move(buffer).value();
    }
    for (std::int64_t i = 0; i < tiles_per_item; ++i) {
      const DecodeTile& tile = plan.tiles[static_cast<std::size_t>(i)];
      const std::string where = "tiled VAE decode: item " + std::to_string(b) + ", tile " +
                                std::to_string(i + 1) + " of " + std::to_string(tiles_per_item) +
                                " (frames " + frames_text(tile.window_start, tile.window_end) + ")";
      Tensor audio;
      {
        ACEFIT_ASSIGN(Tensor view, latents.narrow(0, b, 1));
        ACEFIT_ASSIGN(view, view.narrow(2, tile.window_start, tile.window_end - tile.window_start));
        auto window = ops::contiguous(ctx, view);
        if (!window.ok()) return window.status().with_context(where);
        auto decoded = decoder.decode(ctx, window.value());
        if (!decoded.ok()) return decoded.status().with_context(where);
        audio = std::move(decoded).value();
      }  // the window is released before the next tile
      const std::int64_t window_frames = tile.window_end - tile.window_start;
      const std::int64_t length = audio.dim(2);
      if (factor == 0.0) factor = static_cast<double>(length) / static_cast<double>(window_frames);
      const auto front = static_cast<std::int64_t>(
          std::llround(static_cast<double>(tile.core_start - tile.window_start) * factor));
      const auto back = static_cast<std::int64_t>(
          std::llround(static_cast<double>(tile.window_end - tile.core_end) * factor));
      const std::int64_t keep = length - front - back;
      const std::int64_t at = tile.core_start * decoder.hop();
      if (audio.dim(1) != out.channels ||
          keep != (tile.core_end - tile.core_start) * decoder.hop() || at + keep > out.samples) {
        return internal_error(where + ": decoded " + audio.describe() + " does not fit the core " +
                              frames_text(tile.core_start, tile.core_end) + " at " +
                              std::to_string(decoder.hop()) + " samples per frame");
      }
      if (!planned) {
        const auto* source = static_cast<const float*>(audio.raw_data());
        for (std::int64_t c = 0; c < out.channels; ++c) {
          const std::uint64_t bytes = static_cast<std::uint64_t>(keep) * sizeof(float);
          const Status copied =
              accumulator.defined()
                  ? ctx.device.copy_on_device(
                        static_cast<float*>(accumulator.raw_data()) + c * out.samples + at,
                        source + c * length + front, bytes)
                  : ctx.device.copy_to_host(
                        out.data.data() + (b * out.channels + c) * out.samples + at,
                        source + c * length + front, bytes);
          if (!copied.ok()) return copied.with_context(where);
        }
      }
      audio = Tensor();
      ++done;
      if (options.progress) options.progress(done, total);
    }
    if (accumulator.defined() && !planned) {
      const Status copied =
          ctx.device.copy_to_host(out.item(b).data(), accumulator.raw_data(), item_bytes);
      if (!copied.ok()) {
        return copied.with_context("tiled VAE decode: item " + std::to_string(b) +
                                   ", copying its audio to the host");
      }
    }
  }  // the accumulator is released before the next item
  return out;
}

}  // namespace acefit::models
