// The adaptive VAE decode (gpu-adaptation.md 9.2, 9.3): planned decode peaks
// per candidate chunk (for choosing the chunk before the decode) and the
// three-level ladder that runs it:
//   level 1  device tiled decode, each item's audio assembled on the device
//   level 2  device tiled decode, each core copied to the host as decoded
//   level 3  host decode: the decoder copied to the host, the whole latent
//            of each item decoded in one call
// On out_of_memory at level 1 or 2 the chunk halves (not below 64) and the
// same level is tried again; at 64 the next level starts again from the
// requested chunk. What worked is remembered per device and shape
// (VaeDecodeMemory). Batch items are decoded one at a time, so the device
// peak does not grow with the batch.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapt/vae_chunk.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "device/device.h"
#include "io/checkpoint/model_config.h"
#include "models/vae/host_audio.h"
#include "models/vae/oobleck_decoder.h"
#include "models/vae/tiled_decode.h"
#include "ops/op_context.h"

namespace acefit {

enum class VaeDecodeLevel : int {
  device_tiled = 1,        // cores assembled on the device
  device_host_accumulate,  // cores copied to the host as decoded
  host,                    // whole latent on the host, no tiling
};

// "device tiled", "device, host accumulation", "host".
std::string_view vae_decode_level_name(VaeDecodeLevel level);
inline int vae_decode_level_number(VaeDecodeLevel level) {
  return static_cast<int>(level);
}

// The planned device memory of decoding one item at each chunk.
struct VaeDecodePeaks {
  std::int64_t frames = 0;
  std::int64_t overlap = 0;  // as asked; each chunk may halve it (plan_decode_tiles)
  VaeDecodeLevel level = VaeDecodeLevel::device_host_accumulate;
  // The decoder's weights as the device's budget accounts them (each tensor
  // rounded up to the granularity); not part of `peaks`.
  std::uint64_t weight_bytes = 0;
  // Per chunk, in the order asked: the peak above the weights, latent upload
  // included (what the decode adds to a device that already holds the VAE).
  std::vector<VaeChunkPeak> peaks;
  double seconds = 0.0;  // how long planning took
};

// Plans the decode of one item of `frames` latent frames at each of `chunks`
// by running the ladder's own per-item code (latent upload + tiled_decode)
// on make_planning_device(like) with OobleckDecoder::plan(config), its cap
// lifted so every chunk is measured. `level` is device_tiled or
// device_host_accumulate (the host level has no device peak:
// invalid_argument).
Expected<VaeDecodePeaks> plan_vae_decode_peaks(
    const VaeConfig& config, const Device& like, std::int64_t frames,
    std::int64_t overlap = models::kDefaultVaeOverlap,
    VaeDecodeLevel level = VaeDecodeLevel::device_host_accumulate,
    std::span<const std::int64_t> chunks = kVaeChunkCandidates);

// A rung of the ladder.
struct VaeDecodeRung {
  VaeDecodeLevel level = VaeDecodeLevel::device_host_accumulate;
  std::int64_t chunk = 0;
  friend bool operator==(const VaeDecodeRung&, const VaeDecodeRung&) = default;
};

// What decodes of a shape taught: (device name, latent frames) -> the rung
// that succeeded after an out_of_memory. The next decode of that shape on
// that device starts there: at the remembered level (or the requested one
// if lower on the ladder) with a chunk no larger than the remembered one,
// so chunks that failed are not tried again. Only rungs reached through a
// failure are recorded (a decode that succeeded where it started says
// nothing about larger chunks); planning runs read the memory but never
// write it. The entries stay until forget()/clear(): call clear() when the
// device's memory situation changes for good (offload mode, other models
// loaded or dropped). Thread-safe.
class VaeDecodeMemory {
 public:
  std::optional<VaeDecodeRung> find(const std::string& device_name, std::int64_t frames) const;
  void remember(const std::string& device_name, std::int64_t frames, VaeDecodeRung rung);
  void forget(const std::string& device_name, std::int64_t frames);
  void clear();
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::int64_t>, VaeDecodeRung> rungs_;
};

struct VaeDecodeOptions {
  std::int64_t chunk = 512;  // the chunk to start from (choose_vae_chunk), latent frames
  std::int64_t overlap = models::kDefaultVaeOverlap;
  // Level 1 or 2 (the wav-offload rule of 9.2: start at 2 unless the
  // effective free memory is >= 24 GiB; the caller decides).
  VaeDecodeLevel start_level = VaeDecodeLevel::device_host_accumulate;
  bool force_host = false;  // ACESTEP_VAE_ON_CPU: level 3 straight away
  // (tiles done, tiles in all) over every item at the current rung. After
  // a fallback the total is recomputed for the new rung and `done` starts
  // again from the items already finished.
  std::function<void(std::int64_t done, std::int64_t total)> progress;
};

struct VaeDecodeOutcome {
  models::HostAudio audio;  // [B, channels, hop T], not normalised; empty data when planning
  // The rung that decoded the last item (rungs only go down, so the lowest
  // one used). At level 3: chunk = frames, overlap = 0.
  std::int64_t chunk = 0;
  std::int64_t overlap = 0;  // after halving (plan_decode_tiles)
  VaeDecodeLevel level = VaeDecodeLevel::device_host_accumulate;
  int retries = 0;           // out_of_memory recoveries
  bool from_memory = false;  // started at a rung VaeDecodeMemory remembered
  // Per item, the rung that decoded it (items finished before a fallback
  // keep their audio).
  std::vector<VaeDecodeRung> items;
  std::vector<std::string> log;  // one line per attempt
};

// Decodes host latents f32 [batch, frames, C] (frame-major, as the
// Generator holds them; C = decoder_input_channels) with the ladder.
// `decoder` lives on ctx.device (the compute device); `host` is the cpu
// device level 3 decodes on (a copy of the decoder is made there and
// released afterwards; none when ctx.device is itself a cpu device). On a
// planning ctx.device the same code runs (rungs change only on
// out_of_memory, which a planning device with the same cap reproduces);
// level 3 is then planned on make_planning_device(host), and `latents` may
// be empty. Errors other than out_of_memory, and any failure at level 3,
// are returned as they are. `memory` may be null.
Expected<VaeDecodeOutcome> adaptive_vae_decode(const models::OobleckDecoder& decoder,
                                               const ops::OpContext& ctx, Device& host,
                                               ThreadPool& pool, const std::vector<float>& latents,
                                               std::int64_t batch, std::int64_t frames,
                                               const VaeDecodeOptions& options,
                                               VaeDecodeMemory* memory = nullptr);

}  // namespace acefit
