// A text-to-music generation session over one checkpoints/ folder (spec:
// acestep-model.md 1, 6, 7, 9-13): prompts -> tokens -> text encoder and
// lyric embeddings -> condition encoder -> DiT sampling (turbo: 1 to 8
// steps; base: N steps with CFG + APG; DCW after each step) -> adaptive VAE decode ->
// peak normalisation. Every stage computes on the session's device; weight
// groups wait on the host between stages as the offload mode says
// (gpu-adaptation.md 6), and the DiT's layers can stream through the device
// a window at a time. Each stage's memory (device and host, by tag),
// transfers and time are recorded. On a planning device the same code plans
// the run (docs/MEMORY.md). The stages are public so the golden tests can
// drive them with the reference's inputs.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapt/tier_table.h"
#include "io/checkpoint/checkpoint_layout.h"
#include "io/checkpoint/checkpoint_synth.h"
#include "io/tokenizer/tokenizer.h"
#include "models/dit/condition_encoder.h"
#include "models/dit/dit_decoder.h"
#include "models/lm/causal_lm.h"
#include "models/qwen3/text_encoder.h"
#include "models/vae/host_audio.h"
#include "models/vae/oobleck_decoder.h"
#include "pipeline/dcw.h"
#include "pipeline/lm_stage.h"
#include "pipeline/run_record.h"
#include "pipeline/sampler.h"
#include "pipeline/schedule.h"
#include "pipeline/vae_decode.h"

namespace acefit {

// (stage, done, total): "load" (parts), "encode" (0/1, 1/1), "diffusion"
// (steps), "decode" (tiles).
using ProgressFn =
    std::function<void(std::string_view stage, std::int64_t done, std::int64_t total)>;

struct GeneratorOptions {
  std::string checkpoints;  // the checkpoints/ folder
  // Planning without a checkpoint: the preset's configs and tensor shapes
  // (the full preset is the shipped model). Only on a planning device.
  std::optional<SyntheticPreset> preset;
  std::string tokenizer_dir;  // with a preset: the Qwen3 tokenizer files (optional)
  // A tokenizer already loaded (e.g. by the planner of the same run): used
  // instead of reading the files again.
  std::shared_ptr<const Tokenizer> tokenizer;
  std::string dit;  // DiT folder name; empty: acestep-v15-turbo, else the first found
  DType matrix_dtype = DType::bf16;  // projection matrices: bf16 (as stored) or f32
  // INT8 weight-only quantization of the DiT's decoder and condition
  // encoder linears (gpu-adaptation.md 7.1).
  bool quantize_int8 = false;
  // none: every weight on the device; cpu: the text encoder and the VAE wait
  // on the host and visit the device for their stage; cpu+dit: the DiT too.
  // Ignored (none) when the device is the host itself.
  OffloadMode offload = OffloadMode::none;
  // The largest VAE chunk an automatic choice may take (the tier table's
  // max_vae_chunk_frames); 0: no cap.
  std::int64_t max_auto_vae_chunk_frames = 0;
  // The 5 Hz LM (docs/LM.md): its folder name under checkpoints
  // ("acestep-5Hz-lm-1.7B"; with a preset, the size it names); empty: none
  // loaded. vllm keeps its weights on the device; pt keeps them on the host
  // between runs when the offload mode is not none. lm_on_host: the LM
  // computes on the host (an LM forced onto a device it does not fit).
  std::string lm_model;
  LmBackend lm_backend = LmBackend::pt;
  bool lm_on_host = false;
  std::shared_ptr<const Tokenizer> lm_tokenizer;  // already loaded (else read from the LM folder)
};

struct GenerationRequest {
  std::string caption;
  std::string lyrics;  // written as given, empty included ("[Instrumental]": an instrumental)
  std::string language = "unknown";
  double duration_s = 30.0;
  int batch = 1;
  std::uint64_t seed = 0;       // item b uses seed + b
  std::optional<int> steps;     // turbo: 1-8, default 8 (more: 8 and a warning); base: default 50
  std::optional<double> shift;  // turbo default 3, base default 1
  std::optional<double> guidance;  // base models (turbo: none); default 7
  std::optional<int> bpm;
  std::optional<std::string> keyscale;
  std::optional<std::string> time_signature;  // as written ("3/4"), checked
  InferMethod method = InferMethod::ode;
  // DCW (acestep-model.md 18.4): nullopt = the model's default, on for
  // turbo models and off for base/SFT. `dcw` gives the mode and strengths
  // (its `enabled` is ignored).
  std::optional<bool> dcw_enabled;
  DcwOptions dcw;
  // Audio codes (FSQ indices 0..63999, acestep-model.md 8, 9): per batch
  // item, or one list shared by every item; empty: none. With codes the
  // length is 5 frames a code (at least 128 frames, the duration is then
  // ignored), the item is a cover (6.4) and its context holds the
  // detokenized 25 Hz hints.
  std::vector<std::vector<std::int64_t>> audio_codes;
  // VAE decode: 0 = the largest chunk whose planned peak fits the free
  // budget; n = n latent frames (ACESTEP_VAE_DECODE_CHUNK_SIZE).
  std::int64_t vae_chunk_frames = 0;
  std::int64_t vae_overlap_frames = 64;
  bool vae_on_host = false;  // ACESTEP_VAE_ON_CPU: straight to the host decode
  // The 5 Hz LM stage (needs GeneratorOptions::lm_model).
  LmRequest lm;
  // DiT layer streaming: 0 = the whole DiT on the device for its stage; n =
  // n layers at a time (needs offload cpu+dit, where the DiT waits on the host).
  int dit_stream_window = 0;
  // The memory the run's decisions (VAE chunk and level) are made against;
  // 0: the device's budget cap. A plan passes the real device's figure.
  std::uint64_t budget_bytes = 0;
  // Polled between stages and diffusion steps: true stops the run with
  // ErrorCode::cancelled (everything it held released). Empty: never.
  std::function<bool()> cancelled;
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
  DcwOptions dcw;    // as run (enabled or not)
  RunRecord record;  // timings, memory per stage, transfers, the VAE ladder
  std::vector<std::string> warnings;
  // The LM stage: the CoT (phase 1) and the codes (phase 2, per item).
  LmOutcome lm;
  // The metadata the DiT was prompted with (the user's, CoT values filling the rest).
  std::string caption, language;
  std::optional<int> bpm;
  std::optional<std::string> keyscale, time_signature;
};

// Latent frames for a duration: round(duration, 0.1 s) * 48000 // 1920,
// never below 128 (the reference pads shorter targets to 128 frames).
std::int64_t latent_frames_for_duration(double duration_s, std::int64_t hop_samples,
                                        std::int64_t sample_rate);

// The request's text and metadata as the LM stage sees them.
LmInputs lm_inputs(const GenerationRequest& request);

class Generator {
 public:
  static Expected<Generator> load(const GeneratorOptions& options, const ops::OpContext& ctx,
                                  const ProgressFn& progress = {});

  Expected<GenerationResult> generate(const GenerationRequest& request,
                                      const ProgressFn& progress = {}) const;

  // The LM stage alone (generate() runs it first when request.lm asks).
  Expected<LmOutcome> run_lm(const GenerationRequest& request, RunRecord& record,
                             const ProgressFn& progress = {}) const;
  bool has_lm() const { return lm_.has_value(); }
  const std::string& lm_name() const { return lm_name_; }
  std::shared_ptr<const Tokenizer> lm_tokenizer() const { return lm_tokenizer_; }

  // ---- stages ----
  // Caption and lyric token ids (one prompt, shared by `batch` items) ->
  // packed encoder states [batch, L, H].
  Expected<models::EncoderStates> encode_ids(std::span<const std::int64_t> caption_ids,
                                             std::span<const std::int64_t> lyric_ids,
                                             std::int64_t batch, RunRecord* record = nullptr) const;

  struct SamplingPlan {
    Schedule schedule;
    InferMethod method = InferMethod::ode;
    GuidanceOptions guidance;  // scale <= 1: no CFG
    DcwOptions dcw;            // after every step, with the guided v (off by default)
    // Noise the SDE adds after step i (i < steps - 1), [B, T, 64].
    std::function<Expected<std::vector<float>>(int step)> sde_noise;
    // The context's source latents per item, [B, T, 64] (the detokenized
    // hints of audio codes); empty: the silence latent.
    std::vector<float> context_src;
    // Called with the state after each step.
    std::function<void(int step, const std::vector<float>& x)> on_step;
    std::function<bool()> cancelled;  // polled before each step
  };
  // noise [B, T, 64] (host) -> latents [B, T, 64] (host) after the schedule.
  // stream_window > 0 streams the DiT's layers (offload cpu+dit only).
  Expected<std::vector<float>> sample(const models::EncoderStates& states, std::vector<float> noise,
                                      std::int64_t frames, const SamplingPlan& plan,
                                      const ProgressFn& progress = {}, RunRecord* record = nullptr,
                                      int stream_window = 0) const;

  // Audio codes -> 25 Hz hints [B, frames, 64] (host): FSQ values,
  // project_out and the detokenizer (8.2, 8.3), cropped to `frames` or
  // padded with silence frames. codes: one list per item (all the same
  // length). The detokenizer is read from the DiT checkpoint for this stage
  // and dropped after it.
  Expected<std::vector<float>> code_hints(const std::vector<std::vector<std::int64_t>>& codes,
                                          std::int64_t frames, RunRecord* record = nullptr) const;

  // latents [B, T, 64] (host) -> audio [B, 2, hop T] (host), not normalised.
  // chunk_frames 0 picks the chunk from the free budget (budget_bytes 0: the
  // device's cap); the ladder of gpu-adaptation.md 9.2 handles running out.
  Expected<models::HostAudio> decode(const std::vector<float>& latents, std::int64_t batch,
                                     std::int64_t frames, std::int64_t chunk_frames,
                                     std::int64_t overlap_frames, const ProgressFn& progress = {},
                                     RunRecord* record = nullptr, bool vae_on_host = false,
                                     std::uint64_t budget_bytes = 0) const;

  bool turbo() const { return turbo_; }
  std::shared_ptr<const Tokenizer> tokenizer() const { return tokenizer_; }
  double tokenizer_load_s() const { return tokenizer_load_s_; }
  OffloadMode offload() const { return offload_; }
  Device& device() const { return *device_; }
  Device& host() const { return *host_; }
  // Weight bytes of each group wherever it lives (after quantization).
  struct WeightGroupBytes {
    std::uint64_t text_encoder = 0, condition_encoder = 0, dit = 0, dit_layer = 0, vae = 0, lm = 0;
  };
  WeightGroupBytes weight_bytes() const;
  int dit_layer_count() const;
  const std::string& dit_name() const { return dit_name_; }
  const DitConfig& dit_config() const { return dit_config_; }
  const VaeConfig& vae_config() const { return vae_config_; }

 private:
  Generator() = default;
  Expected<GenerationResult> generate_dit(const GenerationRequest& request,
                                          const ProgressFn& progress, RunRecord record) const;
  Status load_lm(const GeneratorOptions& options);
  ops::OpContext ctx() const { return ops::OpContext{*device_, *pool_}; }
  ops::OpContext host_ctx() const { return ops::OpContext{*host_, *pool_}; }
  // The home of an offloadable group: the host when offloaded, else the device.
  Device& home(bool offloaded) const { return offloaded ? *host_ : *device_; }
  bool text_vae_offloaded() const { return offload_ != OffloadMode::none; }
  bool dit_offloaded() const { return offload_ == OffloadMode::cpu_dit; }
  std::uint64_t decision_budget(std::uint64_t budget_bytes) const;
  // Silence latent frames 0 .. count - 1, repeated for each of `batch` items.
  std::vector<float> silence_frames(std::int64_t count, std::int64_t batch) const;

  Device* device_ = nullptr;
  ThreadPool* pool_ = nullptr;
  std::shared_ptr<Device> host_;  // a cpu device (a planning one when planning)
  OffloadMode offload_ = OffloadMode::none;
  std::int64_t max_auto_vae_chunk_frames_ = 0;
  bool planned_prompts_ = false;  // planning without a tokenizer: the longest prompts
  std::string dit_name_;
  std::string text_encoder_dir_;
  bool turbo_ = true;
  DitConfig dit_config_;
  VaeConfig vae_config_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  double tokenizer_load_s_ = 0;
  DType matrix_dtype_ = DType::bf16;
  std::shared_ptr<const models::WeightLoader> dit_loader_;  // the detokenizer's source
  std::optional<models::lm::CausalLm> lm_;
  std::string lm_name_;
  LmBackend lm_backend_ = LmBackend::pt;
  bool lm_on_host_ = false;
  bool lm_offloaded_ = false;  // its weights wait on the host between runs
  std::shared_ptr<const Tokenizer> lm_tokenizer_;
  std::optional<models::TextEncoder> text_encoder_;
  std::optional<models::ConditionEncoder> condition_encoder_;
  std::optional<models::DitDecoder> dit_;
  std::optional<models::OobleckDecoder> vae_;
  std::vector<float> silence_;  // [15000, 64], frame-major
  std::shared_ptr<VaeDecodeMemory> vae_memory_ = std::make_shared<VaeDecodeMemory>();
};

}  // namespace acefit
