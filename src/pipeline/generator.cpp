#include "pipeline/generator.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/timer.h"
#include "io/checkpoint_check.h"
#include "io/torch_zip.h"
#include "models/host_tensor.h"
#include "models/vae/audio_postprocess.h"
#include "models/vae/tiled_decode.h"
#include "ops/layout.h"
#include "pipeline/noise.h"
#include "pipeline/prompt.h"

namespace acefit {

namespace {

constexpr std::int64_t kMinLatentFrames = 128;
constexpr int kTurboSteps = 8;
constexpr int kDefaultBaseSteps = 50;
constexpr double kDefaultBaseGuidance = 7.0;

Status bad_request(const std::string& what) {
  return Status(ErrorCode::invalid_argument, "generate: " + what);
}

void report(const ProgressFn& progress, std::string_view stage, std::int64_t done,
            std::int64_t total) {
  if (progress) progress(stage, done, total);
}

Expected<std::string> pick_dit(const CheckpointLayout& layout, const std::string& wanted) {
  if (layout.dits.empty())
    return Status(ErrorCode::not_found,
                  layout.root + ": no DiT folder (acestep-v15-*) in the checkpoints folder");
  if (!wanted.empty()) {
    for (const DitFolder& dit : layout.dits) {
      if (dit.name == wanted) return dit.path;
    }
    std::string names;
    for (const DitFolder& dit : layout.dits) names += (names.empty() ? "" : ", ") + dit.name;
    return Status(ErrorCode::not_found,
                  layout.root + ": no DiT folder named " + wanted + " (found: " + names + ")");
  }
  for (const DitFolder& dit : layout.dits) {
    if (dit.name == "acestep-v15-turbo") return dit.path;
  }
  return layout.dits.front().path;
}

std::string folder_name(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::int64_t latent_frames_for_duration(double duration_s, std::int64_t hop_samples,
                                        std::int64_t sample_rate) {
  const double rounded = std::max(0.1, std::round(duration_s * 10.0) / 10.0);
  const auto samples =
      static_cast<std::int64_t>(std::llround(rounded * static_cast<double>(sample_rate)));
  return std::max(kMinLatentFrames, samples / hop_samples);
}

Expected<Generator> Generator::load(const GeneratorOptions& options, const ops::OpContext& ctx,
                                    const ProgressFn& progress) {
  Generator g;
  g.device_ = &ctx.device;
  g.pool_ = &ctx.pool;
  ACEFIT_ASSIGN(const CheckpointLayout layout, discover_checkpoints(options.checkpoints));
  if (!layout.text_encoder)
    return Status(ErrorCode::not_found,
                  options.checkpoints + ": no Qwen3-Embedding-0.6B folder (the text encoder)");
  if (!layout.vae) return Status(ErrorCode::not_found, options.checkpoints + ": no vae folder");
  ACEFIT_ASSIGN(const std::string dit_dir, pick_dit(layout, options.dit));
  g.dit_name_ = folder_name(dit_dir);
  const std::int64_t parts = 5;
  report(progress, "load", 0, parts);

  // The tokenizer is needed for prompts, not for the stages driven by ids
  // (the golden tests); generate() says so when it is missing.
  g.text_encoder_dir_ = *layout.text_encoder;
  if (std::filesystem::exists(*layout.text_encoder + "/tokenizer.json") ||
      std::filesystem::exists(*layout.text_encoder + "/vocab.json")) {
    ACEFIT_ASSIGN(Tokenizer tokenizer, Tokenizer::load(*layout.text_encoder));
    g.tokenizer_.emplace(std::move(tokenizer));
  }
  ACEFIT_ASSIGN(models::TextEncoder text_encoder,
                models::TextEncoder::load(*layout.text_encoder, ctx.device, options.matrix_dtype));
  g.text_encoder_.emplace(std::move(text_encoder));
  report(progress, "load", 1, parts);

  ACEFIT_ASSIGN(g.dit_config_, load_dit_config(dit_dir));
  g.turbo_ = g.dit_config_.is_turbo || g.dit_name_.find("turbo") != std::string::npos;
  if (g.dit_config_.text_hidden_dim != g.text_encoder_->config().hidden_size)
    return Status(ErrorCode::corrupt, dit_dir + ": text_hidden_dim " +
                                          std::to_string(g.dit_config_.text_hidden_dim) +
                                          " does not match the text encoder's hidden size " +
                                          std::to_string(g.text_encoder_->config().hidden_size));
  {
    ACEFIT_ASSIGN(const models::WeightLoader loader, models::WeightLoader::open(dit_dir));
    ACEFIT_ASSIGN(models::ConditionEncoder condition,
                  models::ConditionEncoder::load(loader, ctx, g.dit_config_, options.matrix_dtype));
    g.condition_encoder_.emplace(std::move(condition));
    report(progress, "load", 2, parts);
    ACEFIT_ASSIGN(models::DitDecoder dit,
                  models::DitDecoder::load(loader, ctx, g.dit_config_, options.matrix_dtype));
    g.dit_.emplace(std::move(dit));
    report(progress, "load", 3, parts);
  }
  {
    const std::int64_t shape[] = {1, g.dit_config_.audio_acoustic_hidden_dim, kSilenceLatentFrames};
    ACEFIT_ASSIGN(const PtTensor silence,
                  read_pt_float_tensor(dit_dir + "/silence_latent.pt", shape));
    // [1, C, T] channel-major -> [T, C] frame-major.
    const std::int64_t channels = shape[1];
    g.silence_.resize(silence.values.size());
    for (std::int64_t c = 0; c < channels; ++c) {
      for (std::int64_t t = 0; t < kSilenceLatentFrames; ++t) {
        g.silence_[static_cast<std::size_t>(t * channels + c)] =
            silence.values[static_cast<std::size_t>(c * kSilenceLatentFrames + t)];
      }
    }
  }
  ACEFIT_ASSIGN(models::OobleckDecoder vae, models::OobleckDecoder::load(*layout.vae, ctx.device));
  g.vae_config_ = vae.config();
  g.vae_.emplace(std::move(vae));
  report(progress, "load", parts, parts);
  return g;
}

std::vector<float> Generator::silence_frames(std::int64_t count, std::int64_t batch) const {
  const std::int64_t channels = dit_config_.audio_acoustic_hidden_dim;
  std::vector<float> out;
  out.reserve(static_cast<std::size_t>(count * channels * batch));
  for (std::int64_t b = 0; b < batch; ++b)
    out.insert(out.end(), silence_.begin(), silence_.begin() + count * channels);
  return out;
}

Expected<models::EncoderStates> Generator::encode_ids(std::span<const std::int64_t> caption_ids,
                                                      std::span<const std::int64_t> lyric_ids,
                                                      std::int64_t batch,
                                                      GenerationTimings* timings) const {
  if (caption_ids.empty() || lyric_ids.empty())
    return bad_request("the caption and lyric prompts must have at least one token");
  if (batch < 1) return bad_request("batch must be >= 1");
  const ops::OpContext c = ctx();
  const auto lt = static_cast<std::int64_t>(caption_ids.size());
  const auto ll = static_cast<std::int64_t>(lyric_ids.size());
  Stopwatch watch;
  Tensor text, lyric;
  {
    ACEFIT_ASSIGN(Tensor ids, models::tensor_from_host(*device_, Shape{1, lt}, caption_ids));
    ACEFIT_ASSIGN(Tensor one, text_encoder_->encode(c, ids));
    ACEFIT_ASSIGN(text,
                  ops::concat(c, std::vector<Tensor>(static_cast<std::size_t>(batch), one), 0));
  }
  {
    ACEFIT_ASSIGN(Tensor ids, models::tensor_from_host(*device_, Shape{1, ll}, lyric_ids));
    ACEFIT_ASSIGN(Tensor one, text_encoder_->embed(c, ids));
    ACEFIT_ASSIGN(lyric,
                  ops::concat(c, std::vector<Tensor>(static_cast<std::size_t>(batch), one), 0));
  }
  if (timings) timings->text_encoding_s = watch.elapsed_s();
  watch = Stopwatch();
  models::ConditionInputs inputs;
  inputs.text_hidden = text;
  inputs.text_lengths.assign(static_cast<std::size_t>(batch), lt);
  inputs.lyric_embeddings = lyric;
  inputs.lyric_lengths.assign(static_cast<std::size_t>(batch), ll);
  const std::int64_t timbre_frames = dit_config_.timbre_fix_frame;
  if (timbre_frames < 1 || timbre_frames > kSilenceLatentFrames)
    return Status(ErrorCode::corrupt,
                  "timbre_fix_frame " + std::to_string(timbre_frames) + " is outside [1, 15000]");
  ACEFIT_ASSIGN(
      inputs.timbre_latents,
      models::tensor_from_host(*device_, Shape{batch, timbre_frames, dit_config_.timbre_hidden_dim},
                               silence_frames(timbre_frames, batch)));
  ACEFIT_ASSIGN(models::EncoderStates states, condition_encoder_->encode(c, inputs));
  if (timings) timings->condition_encoding_s = watch.elapsed_s();
  return states;
}

Expected<std::vector<float>> Generator::sample(const models::EncoderStates& states,
                                               std::vector<float> x, std::int64_t frames,
                                               const SamplingPlan& plan, const ProgressFn& progress,
                                               GenerationTimings* timings) const {
  const ops::OpContext c = ctx();
  const std::int64_t batch = states.states.dim(0);
  const std::int64_t channels = dit_config_.audio_acoustic_hidden_dim;
  const LatentShape shape{batch, frames, channels};
  ACEFIT_TRY(shape.validate());
  if (frames > kSilenceLatentFrames)
    return bad_request(std::to_string(frames) + " latent frames exceed the 15000 (600 s) limit");
  if (static_cast<std::int64_t>(x.size()) != shape.element_count())
    return bad_request("noise has " + std::to_string(x.size()) + " values, expected " +
                       std::to_string(shape.element_count()));
  const int steps = plan.schedule.step_count();
  if (steps < 1) return bad_request("the schedule has no steps");
  const bool cfg = plan.guidance.scale > 1.0;
  const std::int64_t runs = cfg ? 2 : 1;  // [cond; uncond] in one doubled batch

  // Context: [silence frames 0..T-1 | chunk mask of ones] per item.
  std::vector<float> context_values;
  {
    const std::vector<float> src = silence_frames(frames, 1);
    context_values.reserve(static_cast<std::size_t>(runs * batch * frames * 2 * channels));
    for (std::int64_t b = 0; b < runs * batch; ++b) {
      for (std::int64_t t = 0; t < frames; ++t) {
        const auto* row = src.data() + t * channels;
        context_values.insert(context_values.end(), row, row + channels);
        context_values.insert(context_values.end(), static_cast<std::size_t>(channels), 1.0f);
      }
    }
  }
  ACEFIT_ASSIGN(const Tensor context,
                models::tensor_from_host(*device_, Shape{runs * batch, frames, 2 * channels},
                                         context_values));
  context_values = {};
  models::DitCrossCache cache;
  if (cfg) {
    ACEFIT_ASSIGN(Tensor null_states, dit_->null_condition(c, batch, states.states.dim(1)));
    ACEFIT_ASSIGN(Tensor both, ops::concat(c, {states.states, null_states}, 0));
    ACEFIT_ASSIGN(cache, dit_->prepare(c, both));
  } else {
    ACEFIT_ASSIGN(cache, dit_->prepare(c, states.states));
  }
  std::optional<ApgState> apg;
  if (cfg && plan.guidance.method == GuidanceMethod::apg) {
    ACEFIT_ASSIGN(ApgState state, ApgState::create(shape));
    apg.emplace(std::move(state));
  }

  const auto count = static_cast<std::size_t>(shape.element_count());
  std::vector<float> v(count);
  report(progress, "diffusion", 0, steps);
  for (int i = 0; i < steps; ++i) {
    Stopwatch watch;
    const auto t = static_cast<float>(plan.schedule.t[static_cast<std::size_t>(i)]);
    std::vector<float> input = x;
    if (cfg) input.insert(input.end(), x.begin(), x.end());
    ACEFIT_ASSIGN(const Tensor x_t,
                  models::tensor_from_host(*device_, Shape{runs * batch, frames, channels}, input));
    const std::vector<float> times(static_cast<std::size_t>(runs * batch), t);
    ACEFIT_ASSIGN(const Tensor velocity, dit_->forward(c, x_t, context, times, times, cache));
    ACEFIT_ASSIGN(std::vector<float> all, models::tensor_to_host(velocity));
    if (cfg) {
      const std::span<const float> cond(all.data(), count), uncond(all.data() + count, count);
      ACEFIT_TRY(apply_guidance(plan.guidance, plan.schedule.t[static_cast<std::size_t>(i)],
                                apg ? &*apg : nullptr, cond, uncond, v)
                     .status());
    } else {
      v = std::move(all);
    }
    std::vector<float> step_noise;
    if (plan.method == InferMethod::sde && i + 1 < steps) {
      if (!plan.sde_noise) return bad_request("SDE sampling needs a noise source");
      ACEFIT_ASSIGN(step_noise, plan.sde_noise(i));
      if (step_noise.size() != count) return bad_request("SDE noise has the wrong size");
    }
    ACEFIT_TRY(sampler_step(plan.schedule, i, plan.method, x, v, step_noise));
    if (timings) timings->dit_steps_s.push_back(watch.elapsed_s());
    if (plan.on_step) plan.on_step(i, x);
    report(progress, "diffusion", i + 1, steps);
  }
  if (!device_->planning()) ACEFIT_TRY(check_sampled_latents(x, shape));
  return x;
}

Expected<models::HostAudio> Generator::decode(const std::vector<float>& latents, std::int64_t batch,
                                              std::int64_t frames, std::int64_t chunk_frames,
                                              std::int64_t overlap_frames,
                                              const ProgressFn& progress) const {
  const ops::OpContext c = ctx();
  const std::int64_t channels = dit_config_.audio_acoustic_hidden_dim;
  ACEFIT_ASSIGN(const Tensor btc,
                models::tensor_from_host(*device_, Shape{batch, frames, channels}, latents));
  ACEFIT_ASSIGN(const Tensor bct, ops::transpose(c, btc, 1, 2));
  models::TiledDecodeOptions options;
  options.chunk = chunk_frames;
  options.overlap = overlap_frames;
  options.progress = [&](std::int64_t done, std::int64_t total) {
    report(progress, "decode", done, total);
  };
  return models::tiled_decode(*vae_, c, bct, options);
}

Expected<GenerationResult> Generator::generate(const GenerationRequest& request,
                                               const ProgressFn& progress) const {
  GenerationResult result;
  result.dit = dit_name_;
  result.turbo = turbo_;
  if (request.batch < 1)
    return bad_request("batch must be >= 1, got " + std::to_string(request.batch));
  if (!(request.duration_s > 0.0) || !std::isfinite(request.duration_s))
    return bad_request("duration must be a positive number of seconds");
  if (request.vae_chunk_frames < 1) return bad_request("the VAE chunk must be >= 1 frame");
  if (request.vae_overlap_frames < 0) return bad_request("the VAE overlap must be >= 0 frames");
  const std::int64_t hop = vae_config_.hop_samples();
  const std::int64_t frames =
      latent_frames_for_duration(request.duration_s, hop, vae_config_.sampling_rate);
  if (frames > kSilenceLatentFrames)
    return bad_request("duration " + std::to_string(request.duration_s) +
                       " s is longer than the 600 s the model supports");
  result.latent_frames = frames;
  result.duration_s =
      static_cast<double>(frames * hop) / static_cast<double>(vae_config_.sampling_rate);

  // Prompts (6.1-6.3).
  if (!tokenizer_)
    return Status(
        ErrorCode::not_found,
        text_encoder_dir_ + ": no tokenizer files (tokenizer.json, or vocab.json + merges.txt)");
  PromptMetas metas;
  metas.bpm = request.bpm;
  metas.time_signature = request.time_signature;
  metas.keyscale = request.keyscale;
  metas.duration_s = request.duration_s;
  ACEFIT_ASSIGN(const std::string instruction, task_instruction(Task::text2music));
  ACEFIT_ASSIGN(const std::string caption_text,
                caption_prompt(instruction, request.caption, metas));
  ACEFIT_ASSIGN(const std::string lyric_text, lyric_prompt(request.language, request.lyrics));
  ACEFIT_ASSIGN(const PromptTokens caption_tokens,
                tokenize_prompt(*tokenizer_, caption_text, kCaptionMaxTokens));
  ACEFIT_ASSIGN(const PromptTokens lyric_tokens,
                tokenize_prompt(*tokenizer_, lyric_text, kLyricMaxTokens));
  if (caption_tokens.truncated)
    result.warnings.push_back("the caption prompt has " +
                              std::to_string(caption_tokens.full_length) +
                              " tokens; only the first 256 are used");
  if (lyric_tokens.truncated)
    result.warnings.push_back("the lyric prompt has " + std::to_string(lyric_tokens.full_length) +
                              " tokens; only the first 2048 are used");
  const std::vector<std::int64_t> caption_ids(caption_tokens.ids.begin(), caption_tokens.ids.end());
  const std::vector<std::int64_t> lyric_ids(lyric_tokens.ids.begin(), lyric_tokens.ids.end());

  // Schedule and guidance (11.1, 11.2).
  SamplingPlan plan;
  plan.method = request.method;
  if (turbo_) {
    const double shift = request.shift.value_or(3.0);
    ACEFIT_ASSIGN(plan.schedule, turbo_schedule(shift));
    ACEFIT_ASSIGN(result.shift, snap_turbo_shift(shift));
    if (request.steps && *request.steps != kTurboSteps)
      result.warnings.push_back("turbo models always take 8 steps; --steps " +
                                std::to_string(*request.steps) + " is ignored");
    if (request.guidance && *request.guidance != 1.0)
      result.warnings.push_back("turbo models run without guidance; --guidance is ignored");
    if (result.shift != shift)
      result.warnings.push_back("turbo shift " + std::to_string(shift) + " snapped to " +
                                std::to_string(result.shift));
    plan.guidance.scale = 1.0;
  } else {
    result.shift = request.shift.value_or(1.0);
    ACEFIT_ASSIGN(plan.schedule,
                  base_schedule(request.steps.value_or(kDefaultBaseSteps), result.shift));
    plan.guidance.scale = request.guidance.value_or(kDefaultBaseGuidance);
  }
  result.steps = plan.schedule.step_count();
  result.guidance = plan.guidance.scale;

  // Noise (12): item b uses seed + b.
  result.seeds = consecutive_seeds(request.seed, static_cast<std::size_t>(request.batch));
  const auto per_item = static_cast<std::size_t>(frames * dit_config_.audio_acoustic_hidden_dim);
  plan.sde_noise = [&](int step) -> Expected<std::vector<float>> {
    return batch_noise(result.seeds, sde_noise_stream(step), per_item);
  };

  Stopwatch total;
  report(progress, "encode", 0, 1);
  ACEFIT_ASSIGN(const models::EncoderStates states,
                encode_ids(caption_ids, lyric_ids, request.batch, &result.timings));
  report(progress, "encode", 1, 1);
  ACEFIT_ASSIGN(const std::vector<float> latents,
                sample(states, batch_noise(result.seeds, kInitialNoiseStream, per_item), frames,
                       plan, progress, &result.timings));
  Stopwatch decode_watch;
  ACEFIT_ASSIGN(result.audio, decode(latents, request.batch, frames, request.vae_chunk_frames,
                                     request.vae_overlap_frames, progress));
  if (!device_->planning()) ACEFIT_TRY(models::postprocess_audio(result.audio));
  result.timings.vae_decode_s = decode_watch.elapsed_s();
  result.timings.total_s = total.elapsed_s();
  return result;
}

}  // namespace acefit
