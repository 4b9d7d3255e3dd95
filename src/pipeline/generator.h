// A text-to-music generation session over one checkpoints/ folder (spec:
// acestep-model.md 1, 6, 7, 9-13): prompts -> tokens -> text encoder and
// lyric embeddings -> condition encoder -> DiT sampling (turbo: the fixed
// 8-step schedule; base: N steps with CFG + APG) -> tiled VAE decode ->
// peak normalisation. Every stage runs on the session's device; progress
// and per-stage timings are reported. The stages are public so the golden
// tests can drive them with the reference's inputs.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/checkpoint_layout.h"
#include "io/tokenizer.h"
#include "models/dit/condition_encoder.h"
#include "models/dit/dit_decoder.h"
#include "models/qwen3/text_encoder.h"
#include "models/vae/host_audio.h"
#include "models/vae/oobleck_decoder.h"
#include "pipeline/sampler.h"
#include "pipeline/schedule.h"

namespace acefit {

// (stage, done, total): "load" (parts), "encode" (0/1, 1/1), "diffusion"
// (steps), "decode" (tiles).
using ProgressFn =
    std::function<void(std::string_view stage, std::int64_t done, std::int64_t total)>;

struct GeneratorOptions {
  std::string checkpoints;  // the checkpoints/ folder
  std::string dit;          // DiT folder name; empty: acestep-v15-turbo, else the first found
  DType matrix_dtype = DType::bf16;  // projection matrices: bf16 (as stored) or f32
};

struct GenerationRequest {
  std::string caption;
  std::string lyrics;  // empty: instrumental
  std::string language = "unknown";
  double duration_s = 30.0;
  int batch = 1;
  std::uint64_t seed = 0;          // item b uses seed + b
  std::optional<int> steps;        // base models (turbo: always 8)
  std::optional<double> shift;     // turbo default 3, base default 1
  std::optional<double> guidance;  // base models (turbo: none); default 7
  std::optional<int> bpm;
  std::optional<std::string> keyscale;
  std::optional<int> time_signature;
  InferMethod method = InferMethod::ode;
  std::int64_t vae_chunk_frames = 256;
  std::int64_t vae_overlap_frames = 64;
};

struct GenerationTimings {
  double load_s = 0;  // filled by the caller that timed load()
  double text_encoding_s = 0;
  double condition_encoding_s = 0;
  std::vector<double> dit_steps_s;
  double vae_decode_s = 0;
  double total_s = 0;  // encode + diffusion + decode
};

struct GenerationResult {
  models::HostAudio audio;  // [batch, 2, samples], peak-normalised
  std::int64_t latent_frames = 0;
  double duration_s = 0;  // of each output
  std::vector<std::uint64_t> seeds;
  std::string dit;  // the DiT folder used
  bool turbo = true;
  int steps = 0;
  double shift = 0;
  double guidance = 1;
  GenerationTimings timings;
  std::vector<std::string> warnings;
};

// Latent frames for a duration: round(duration, 0.1 s) * 48000 // 1920,
// never below 128 (the reference pads shorter targets to 128 frames).
std::int64_t latent_frames_for_duration(double duration_s, std::int64_t hop_samples,
                                        std::int64_t sample_rate);

class Generator {
 public:
  static Expected<Generator> load(const GeneratorOptions& options, const ops::OpContext& ctx,
                                  const ProgressFn& progress = {});

  Expected<GenerationResult> generate(const GenerationRequest& request,
                                      const ProgressFn& progress = {}) const;

  // ---- stages ----
  // Caption and lyric token ids (one prompt, shared by `batch` items) ->
  // packed encoder states [batch, L, H].
  Expected<models::EncoderStates> encode_ids(std::span<const std::int64_t> caption_ids,
                                             std::span<const std::int64_t> lyric_ids,
                                             std::int64_t batch,
                                             GenerationTimings* timings = nullptr) const;

  struct SamplingPlan {
    Schedule schedule;
    InferMethod method = InferMethod::ode;
    GuidanceOptions guidance;  // scale <= 1: no CFG
    // Noise the SDE adds after step i (i < steps - 1), [B, T, 64].
    std::function<Expected<std::vector<float>>(int step)> sde_noise;
    // Called with the state after each step.
    std::function<void(int step, const std::vector<float>& x)> on_step;
  };
  // noise [B, T, 64] (host) -> latents [B, T, 64] (host) after the schedule.
  Expected<std::vector<float>> sample(const models::EncoderStates& states, std::vector<float> noise,
                                      std::int64_t frames, const SamplingPlan& plan,
                                      const ProgressFn& progress = {},
                                      GenerationTimings* timings = nullptr) const;

  // latents [B, T, 64] (host) -> audio [B, 2, hop T] (host), not normalised.
  Expected<models::HostAudio> decode(const std::vector<float>& latents, std::int64_t batch,
                                     std::int64_t frames, std::int64_t chunk_frames,
                                     std::int64_t overlap_frames,
                                     const ProgressFn& progress = {}) const;

  bool turbo() const { return turbo_; }
  const std::string& dit_name() const { return dit_name_; }
  const DitConfig& dit_config() const { return dit_config_; }
  const VaeConfig& vae_config() const { return vae_config_; }

 private:
  Generator() = default;
  ops::OpContext ctx() const { return ops::OpContext{*device_, *pool_}; }
  // Silence latent frames 0 .. count - 1, repeated for each of `batch` items.
  std::vector<float> silence_frames(std::int64_t count, std::int64_t batch) const;

  Device* device_ = nullptr;
  ThreadPool* pool_ = nullptr;
  std::string dit_name_;
  std::string text_encoder_dir_;
  bool turbo_ = true;
  DitConfig dit_config_;
  VaeConfig vae_config_;
  std::optional<Tokenizer> tokenizer_;
  std::optional<models::TextEncoder> text_encoder_;
  std::optional<models::ConditionEncoder> condition_encoder_;
  std::optional<models::DitDecoder> dit_;
  std::optional<models::OobleckDecoder> vae_;
  std::vector<float> silence_;  // [15000, 64], frame-major
};

}  // namespace acefit
