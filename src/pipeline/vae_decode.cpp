// The adaptive VAE decode: per-item decode, planned peaks per chunk, the
// three-level ladder and the memory of what worked.
#include "pipeline/vae_decode.h"

#include <algorithm>
#include <memory>

#include "core/timer.h"
#include "device/planning/planning_device.h"

namespace acefit {

namespace {

using models::HostAudio;
using models::OobleckDecoder;

// One item: its latents (host, frame-major [frames, C]; empty on a planning
// device) uploaded as f32 [1, C, frames] (tag io) and decoded by
// tiled_decode. Planning and real runs make the same reservations; all of
// them are released on return, whether it succeeded or not.
Expected<HostAudio> decode_item(const OobleckDecoder& decoder, const ops::OpContext& ctx,
                                std::span<const float> item, std::int64_t frames,
                                std::int64_t chunk, std::int64_t overlap, bool accumulate_on_device,
                                const std::function<void(std::int64_t, std::int64_t)>& progress) {
  const std::int64_t channels = decoder.config().decoder_input_channels;
  auto uploaded = ctx.device.empty(DType::f32, Shape{1, channels, frames}, MemoryTag::io);
  if (!uploaded.ok()) return uploaded.status().with_context("VAE decode: uploading the latents");
  Tensor z = std::move(uploaded).value();
  if (!ctx.device.planning()) {
    if (item.size() != static_cast<std::size_t>(channels * frames)) {
      return internal_error("VAE decode: " + std::to_string(item.size()) +
                            " latent values for an item of " + std::to_string(frames) +
                            " frames x " + std::to_string(channels));
    }
    std::vector<float> channel_major(item.size());
    for (std::int64_t t = 0; t < frames; ++t)
      for (std::int64_t c = 0; c < channels; ++c)
        channel_major[static_cast<std::size_t>(c * frames + t)] =
            item[static_cast<std::size_t>(t * channels + c)];
    ACEFIT_TRY(ctx.device.copy_from_host(z.raw_data(), channel_major.data(),
                                         channel_major.size() * sizeof(float)));
  }
  models::TiledDecodeOptions options;
  options.chunk = chunk;
  options.overlap = overlap;
  options.accumulate_on_device = accumulate_on_device;
  options.progress = progress;
  return models::tiled_decode(decoder, ctx, z, options);
}

std::string oom_text(const Status& status) {
  if (!status.oom()) return status.message();
  const OutOfMemoryInfo& oom = *status.oom();
  return "out of memory on '" + oom.device + "' (" + format_bytes(oom.requested_bytes) + " of " +
         std::string(memory_tag_name(oom.tag)) + " asked with " + format_bytes(oom.used_bytes) +
         " of " +
         (oom.cap_bytes == kUnlimitedBytes ? std::string("unlimited")
                                           : format_bytes(oom.cap_bytes)) +
         " in use)";
}

std::string rung_text(const VaeDecodeRung& rung, std::int64_t overlap) {
  std::string text = "level " + std::to_string(vae_decode_level_number(rung.level)) + " (" +
                     std::string(vae_decode_level_name(rung.level)) + ")";
  if (rung.level != VaeDecodeLevel::host) {
    text += ", chunk " + std::to_string(rung.chunk) + ", overlap " + std::to_string(overlap);
  }
  return text;
}

}  // namespace

std::string_view vae_decode_level_name(VaeDecodeLevel level) {
  switch (level) {
    case VaeDecodeLevel::device_tiled:
      return "device tiled";
    case VaeDecodeLevel::device_host_accumulate:
      return "device, host accumulation";
    case VaeDecodeLevel::host:
      return "host";
  }
  return "unknown";
}

Expected<VaeDecodePeaks> plan_vae_decode_peaks(const VaeConfig& config, const Device& like,
                                               std::int64_t frames, std::int64_t overlap,
                                               VaeDecodeLevel level,
                                               std::span<const std::int64_t> chunks) {
  const Stopwatch watch;
  if (level != VaeDecodeLevel::device_tiled && level != VaeDecodeLevel::device_host_accumulate) {
    return invalid_argument("plan_vae_decode_peaks: level " +
                            std::to_string(vae_decode_level_number(level)) +
                            " has no device peak; plan level 1 or 2");
  }
  if (frames < 1) {
    return invalid_argument("plan_vae_decode_peaks: frames must be >= 1, got " +
                            std::to_string(frames));
  }
  auto planner = make_planning_device(like);
  planner->budget().set_cap_bytes(kUnlimitedBytes);  // measure every chunk, fitting or not
  planner->budget().set_keep_ledger(false);          // only the peaks are wanted
  ThreadPool pool(1);
  const ops::OpContext ctx{*planner, pool};
  ACEFIT_ASSIGN(const OobleckDecoder decoder, OobleckDecoder::plan(config, *planner));
  VaeDecodePeaks result;
  result.frames = frames;
  result.overlap = overlap;
  result.level = level;
  result.weight_bytes = planner->budget().used_bytes();
  result.peaks.reserve(chunks.size());
  for (const std::int64_t chunk : chunks) {
    planner->budget().reset_peaks();
    const std::uint64_t before = planner->budget().used_bytes();
    auto planned = decode_item(decoder, ctx, {}, frames, chunk, overlap,
                               level == VaeDecodeLevel::device_tiled, {});
    if (!planned.ok()) {
      return planned.status().with_context("planning the VAE decode at chunk " +
                                           std::to_string(chunk));
    }
    result.peaks.push_back({chunk, planner->budget().peak_bytes() - before});
  }
  result.seconds = watch.elapsed_s();
  return result;
}

std::optional<VaeDecodeRung> VaeDecodeMemory::find(const std::string& device_name,
                                                   std::int64_t frames) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto it = rungs_.find({device_name, frames});
  if (it == rungs_.end()) return std::nullopt;
  return it->second;
}

void VaeDecodeMemory::remember(const std::string& device_name, std::int64_t frames,
                               VaeDecodeRung rung) {
  const std::lock_guard<std::mutex> lock(mutex_);
  rungs_[{device_name, frames}] = rung;
}

void VaeDecodeMemory::forget(const std::string& device_name, std::int64_t frames) {
  const std::lock_guard<std::mutex> lock(mutex_);
  rungs_.erase({device_name, frames});
}

void VaeDecodeMemory::clear() {
  const std::lock_guard<std::mutex> lock(mutex_);
  rungs_.clear();
}

std::size_t VaeDecodeMemory::size() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return rungs_.size();
}

Expected<VaeDecodeOutcome> adaptive_vae_decode(const OobleckDecoder& decoder,
                                               const ops::OpContext& ctx, Device& host,
                                               ThreadPool& pool, const std::vector<float>& latents,
                                               std::int64_t batch, std::int64_t frames,
                                               const VaeDecodeOptions& options,
                                               VaeDecodeMemory* memory) {
  const VaeConfig& config = decoder.config();
  const std::int64_t channels = config.decoder_input_channels;
  const bool planning = ctx.device.planning();
  if (batch < 1 || frames < 1) {
    return invalid_argument("VAE decode: batch and frames must be >= 1, got " +
                            std::to_string(batch) + " and " + std::to_string(frames));
  }
  if (options.chunk < 1 || options.overlap < 0) {
    return invalid_argument("VAE decode: chunk must be >= 1 and overlap >= 0, got " +
                            std::to_string(options.chunk) + " and " +
                            std::to_string(options.overlap));
  }
  if (&decoder.device() != &ctx.device) {
    return invalid_argument("VAE decode: the decoder lives on '" + decoder.device().name() +
                            "', not on the compute device '" + ctx.device.name() + "'");
  }
  const auto item_values = static_cast<std::size_t>(frames * channels);
  if (latents.size() != static_cast<std::size_t>(batch) * item_values &&
      !(planning && latents.empty())) {
    return invalid_argument("VAE decode: " + std::to_string(latents.size()) +
                            " latent values for [" + std::to_string(batch) + ", " +
                            std::to_string(frames) + ", " + std::to_string(channels) + "]");
  }

  VaeDecodeOutcome outcome;
  HostAudio& out = outcome.audio;
  out.batch = batch;
  out.channels = config.audio_channels;
  out.samples = frames * config.hop_samples();
  out.sample_rate = config.sampling_rate;

  VaeDecodeRung rung{options.start_level, options.chunk};
  const bool host_only = options.force_host || options.start_level == VaeDecodeLevel::host;
  if (!host_only) {
    // A chunk too small to tile (acestep-model.md 18.6: the overlap stops at
    // 4 frames) is refused before anything is reserved; the ladder's own
    // chunks (>= 64) always tile.
    const auto tiles = models::plan_decode_tiles(frames, options.chunk, options.overlap);
    if (!tiles.ok()) return tiles.status().with_context("VAE decode");
  }
  if (host_only) {
    rung = {VaeDecodeLevel::host, frames};
    outcome.log.push_back(std::string("VAE decode: host decode asked for") +
                          (options.force_host ? " (ACESTEP_VAE_ON_CPU)" : ""));
  } else if (memory != nullptr) {
    if (const auto known = memory->find(ctx.device.name(), frames)) {
      rung.level = std::max(rung.level, known->level);
      rung.chunk = rung.level == VaeDecodeLevel::host ? frames : std::min(rung.chunk, known->chunk);
      outcome.from_memory = true;
      outcome.log.push_back("VAE decode: " + std::to_string(frames) + " frames on '" +
                            ctx.device.name() + "' worked at " +
                            rung_text(*known, options.overlap) + " before; starting there");
    }
  }

  // Level 3's decoder and context: the decoder itself when the compute
  // device is the host, otherwise a copy made on first use and released on
  // return.
  std::shared_ptr<Device> host_planner;
  std::optional<OobleckDecoder> host_copy;
  auto host_decoder = [&]() -> Expected<const OobleckDecoder*> {
    if (ctx.device.kind() == DeviceKind::cpu) return &decoder;
    if (!host_copy) {
      Device* target = &host;
      if (planning) {
        host_planner = make_planning_device(host);
        target = host_planner.get();
      }
      auto copied = decoder.copy_to(*target);
      if (!copied.ok()) return copied.status();
      host_copy.emplace(std::move(copied).value());
    }
    return &*host_copy;
  };

  auto effective_overlap = [&](const VaeDecodeRung& r) -> std::int64_t {
    if (r.level == VaeDecodeLevel::host) return 0;
    const auto plan = models::plan_decode_tiles(frames, r.chunk, options.overlap);
    return plan.ok() ? plan->overlap : options.overlap;
  };

  std::int64_t tiles_before = 0;  // tiles of the items already finished
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::span<const float> item =
        latents.empty() ? std::span<const float>()
                        : std::span<const float>(latents).subspan(
                              static_cast<std::size_t>(b) * item_values, item_values);
    const std::string which =
        "VAE decode item " + std::to_string(b + 1) + "/" + std::to_string(batch) + ": ";
    std::int64_t item_tiles = 0;
    auto progress = [&](std::int64_t done, std::int64_t total) {
      item_tiles = total;
      if (options.progress)
        options.progress(tiles_before + done, tiles_before + (batch - b) * total);
    };
    Expected<HostAudio> decoded = internal_error("VAE decode: no attempt made");
    while (true) {
      const std::int64_t overlap = effective_overlap(rung);
      if (rung.level == VaeDecodeLevel::host) {
        auto on_host = host_decoder();
        if (!on_host.ok()) {
          return on_host.status().with_context(which + "copying the decoder to the host");
        }
        const OobleckDecoder& hd = *on_host.value();
        const ops::OpContext host_ctx{hd.device(), pool};
        decoded = decode_item(hd, host_ctx, item, frames, frames, 0, false, progress);
      } else {
        decoded = decode_item(decoder, ctx, item, frames, rung.chunk, options.overlap,
                              rung.level == VaeDecodeLevel::device_tiled, progress);
      }
      if (decoded.ok()) {
        outcome.log.push_back(which + rung_text(rung, overlap) + ": ok, " +
                              std::to_string(item_tiles) + (item_tiles == 1 ? " tile" : " tiles"));
        break;
      }
      const Status failed = decoded.status();
      if (failed.code() != ErrorCode::out_of_memory || rung.level == VaeDecodeLevel::host) {
        return failed.with_context(which + rung_text(rung, overlap));
      }
      ++outcome.retries;
      VaeDecodeRung next = rung;
      if (rung.chunk > kMinVaeChunk) {
        next.chunk = std::max(kMinVaeChunk, rung.chunk / 2);
      } else {
        next.level = static_cast<VaeDecodeLevel>(vae_decode_level_number(rung.level) + 1);
        next.chunk = next.level == VaeDecodeLevel::host ? frames : options.chunk;
      }
      outcome.log.push_back(which + rung_text(rung, overlap) + ": " + oom_text(failed) + "; next " +
                            rung_text(next, effective_overlap(next)));
      rung = next;
    }
    HostAudio audio = std::move(decoded).value();
    if (!planning) {
      if (batch == 1) {
        out.data = std::move(audio.data);
      } else {
        if (out.data.empty())
          out.data.assign(static_cast<std::size_t>(batch) * out.item_size(), 0.f);
        std::copy(audio.data.begin(), audio.data.end(), out.item(b).begin());
      }
    }
    tiles_before += item_tiles;
    outcome.items.push_back(rung);
  }
  outcome.level = rung.level;
  outcome.chunk = rung.chunk;
  outcome.overlap = effective_overlap(rung);
  if (memory != nullptr && !planning && outcome.retries > 0) {
    memory->remember(ctx.device.name(), frames, rung);
  }
  return outcome;
}

}  // namespace acefit
