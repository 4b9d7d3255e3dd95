// What one generation did to memory and time: per stage, the device and host
// peaks split by tag (at the moment of the peak), the offload copies, and
// the VAE decode's ladder outcome. A planning run fills the same record, so
// a plan and a real run compare field by field.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/memory_tag.h"
#include "core/timer.h"
#include "device/device.h"

namespace acefit {

struct StageMemory {
  std::string name;  // text_encoder, condition_encoder, dit, vae_decode
  std::uint64_t device_peak_bytes = 0;
  std::array<std::uint64_t, kMemoryTagCount> device_by_tag{};  // at the device peak
  std::uint64_t host_peak_bytes = 0;  // weights waiting on the host (offload)
  std::array<std::uint64_t, kMemoryTagCount> host_by_tag{};
  std::uint64_t to_device_bytes = 0;  // weight and input copies into the device
  std::uint64_t to_host_bytes = 0;
  double transfer_s = 0;
  double seconds = 0;
};

struct VaeDecodeReport {
  std::int64_t chunk = 0;    // latent frames per window, after any halving
  std::int64_t overlap = 0;  // latent frames per side
  int level = 0;             // 1 device tiled, 2 device + host accumulation, 3 host
  int retries = 0;           // out-of-memory recoveries
  std::string reason;        // why this chunk
  std::vector<std::string> log;
};

struct GenerationTimings {
  double load_s = 0;  // filled by the caller that timed load()
  double lm_s = 0;    // both LM phases
  double detokenizer_s = 0;
  double text_encoding_s = 0;
  double condition_encoding_s = 0;
  std::vector<double> dit_steps_s;
  double vae_decode_s = 0;
  double total_s = 0;  // encode + diffusion + decode
};

// One phase of the 5 Hz LM (CoT or codes).
struct LmPhaseReport {
  std::string name;                // "cot" or "codes"
  int sequences = 0;               // CFG twins included
  std::int64_t prompt_tokens = 0;  // of the conditional sequence
  std::int64_t new_tokens = 0;     // generated per sequence (the longest)
  double seconds = 0;
  double tokens_per_s() const {
    return seconds > 0 ? static_cast<double>(new_tokens) / seconds : 0;
  }
};

struct LmReport {
  bool ran = false;
  std::string model;    // folder name
  std::string backend;  // "vllm" or "pt"
  std::vector<LmPhaseReport> phases;
  std::uint64_t kv_reserved_bytes = 0;  // the most the KV cache held
};

struct RunRecord {
  GenerationTimings timings;
  std::vector<StageMemory> stages;
  VaeDecodeReport vae;
  LmReport lm;
  std::uint64_t peak_device_bytes = 0;  // over the whole run, resident weights included
  std::array<std::uint64_t, kMemoryTagCount> peak_device_by_tag{};
  std::uint64_t peak_host_bytes = 0;
  TransferStats transfers;  // host <-> device copies of the run (offload, streaming, io)
  bool dit_streamed = false;
  int dit_stream_window = 0;
};

// Measures one stage: resets the peaks of the device and the host budgets at
// construction; finish() appends the stage to the record and folds its peaks
// into the run's.
class StageMeter {
 public:
  StageMeter(std::string name, Device& device, Device& host);
  void finish(RunRecord& record);

 private:
  std::string name_;
  Device& device_;
  Device& host_;
  TransferStats start_;
  Stopwatch watch_;
};

}  // namespace acefit
