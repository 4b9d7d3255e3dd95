#include "pipeline/generator.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/timer.h"
#include "device/cpu/cpu_device.h"
#include "device/planning/planning_device.h"
#include "io/checkpoint/checkpoint_check.h"
#include "io/checkpoint/checkpoint_tensors.h"
#include "io/checkpoint/model_config.h"
#include "io/torch/torch_zip.h"
#include "models/host_tensor.h"
#include "models/lm/causal_lm.h"
#include "models/vae/audio_postprocess.h"
#include "models/vae/tiled_decode.h"
#include "models/weight_copy.h"
#include "ops/layout.h"
#include "pipeline/noise.h"
#include "pipeline/prompt.h"
#include "pipeline/stage_support.h"

namespace acefit {

using stage::bad_request;
using stage::check_cancelled;
using stage::report;

namespace {

constexpr std::int64_t kMinLatentFrames = 128;
constexpr int kDefaultBaseSteps = 50;
constexpr double kDefaultBaseGuidance = 7.0;

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
  // No 2B turbo: a turbo DiT (acestep-v15-xl-turbo), as upstream defaults
  // to turbo, else the first by name.
  for (const DitFolder& dit : layout.dits) {
    if (dit.turbo) return dit.path;
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

namespace {

// The host device of a session: the device itself when it is the host, else
// a cpu device (a planning one when the session plans).
std::shared_ptr<Device> make_host_for(Device& device) {
  if (device.kind() == DeviceKind::cpu) {
    if (auto self = device.weak_from_this().lock()) return self;
  }
  std::shared_ptr<Device> cpu = make_cpu_device();
  if (!device.planning()) return cpu;
  std::shared_ptr<Device> planner = make_planning_device(*cpu);
  planner->budget().set_cap_bytes(kUnlimitedBytes);
  return planner;
}

// The weight sources of one session: the checkpoint's files, or a preset's
// tensor shapes (planning without a checkpoint).
struct Sources {
  std::string dit_dir;
  std::string text_encoder_dir;
  std::string vae_dir;
  std::optional<models::WeightLoader> dit;
  std::optional<models::WeightLoader> text_encoder;
  Qwen3Config text_config;
  std::optional<VaeConfig> vae_config;  // preset only
};

Expected<Sources> open_checkpoint_sources(const GeneratorOptions& options) {
  Sources sources;
  ACEFIT_ASSIGN(const CheckpointLayout layout, discover_checkpoints(options.checkpoints));
  if (!layout.text_encoder)
    return Status(ErrorCode::not_found,
                  options.checkpoints + ": no Qwen3-Embedding-0.6B folder (the text encoder)");
  if (!layout.vae) return Status(ErrorCode::not_found, options.checkpoints + ": no vae folder");
  ACEFIT_ASSIGN(sources.dit_dir, pick_dit(layout, options.dit));
  sources.text_encoder_dir = *layout.text_encoder;
  sources.vae_dir = *layout.vae;
  ACEFIT_ASSIGN(sources.text_config, load_qwen3_config(sources.text_encoder_dir));
  ACEFIT_ASSIGN(models::WeightLoader text, models::WeightLoader::open(sources.text_encoder_dir));
  sources.text_encoder.emplace(std::move(text));
  ACEFIT_ASSIGN(models::WeightLoader dit, models::WeightLoader::open(sources.dit_dir));
  sources.dit.emplace(std::move(dit));
  return sources;
}

Sources preset_sources(SyntheticPreset preset, const DitConfig& dit_config) {
  Sources sources;
  const std::string name(preset_name(preset));
  sources.dit_dir = "preset:" + name + "/" + std::string(preset_dit_folder(preset));
  sources.text_encoder_dir = "preset:" + name + "/Qwen3-Embedding-0.6B";
  sources.vae_dir = "preset:" + name + "/vae";
  sources.text_config = preset_text_encoder_config(preset);
  sources.vae_config = preset_vae_config(preset);
  sources.text_encoder.emplace(models::WeightLoader::planned(
      sources.text_encoder_dir, expected_qwen3_tensors(sources.text_config, "")));
  sources.dit.emplace(
      models::WeightLoader::planned(sources.dit_dir, expected_dit_tensors(dit_config)));
  return sources;
}

}  // namespace

Expected<Generator> Generator::load(const GeneratorOptions& options, const ops::OpContext& ctx,
                                    const ProgressFn& progress) {
  Generator g;
  g.device_ = &ctx.device;
  g.pool_ = &ctx.pool;
  g.host_ = make_host_for(ctx.device);
  g.offload_ = g.host_.get() == g.device_ ? OffloadMode::none : options.offload;
  g.max_auto_vae_chunk_frames_ = options.max_auto_vae_chunk_frames;
  g.matrix_dtype_ = options.matrix_dtype;
  if (options.preset && !ctx.device.planning())
    return Status(ErrorCode::invalid_argument,
                  "a preset has shapes but no weights: it can only be planned, not run");
  Sources sources;
  if (options.preset) {
    g.dit_config_ = preset_dit_config(*options.preset);
    sources = preset_sources(*options.preset, g.dit_config_);
  } else {
    ACEFIT_ASSIGN(sources, open_checkpoint_sources(options));
    ACEFIT_ASSIGN(g.dit_config_, load_dit_config(sources.dit_dir));
  }
  g.dit_name_ = folder_name(sources.dit_dir);
  const std::int64_t parts = 5;
  report(progress, "load", 0, parts);

  // The tokenizer is needed for prompts, not for the stages driven by ids
  // (the golden tests); generate() says so when it is missing.
  g.text_encoder_dir_ = options.preset ? options.tokenizer_dir : sources.text_encoder_dir;
  if (options.tokenizer) {
    g.tokenizer_ = options.tokenizer;
  } else if (!g.text_encoder_dir_.empty() &&
             (std::filesystem::exists(g.text_encoder_dir_ + "/tokenizer.json") ||
              std::filesystem::exists(g.text_encoder_dir_ + "/vocab.json"))) {
    Stopwatch watch;
    ACEFIT_ASSIGN(Tokenizer tokenizer, Tokenizer::load(g.text_encoder_dir_));
    g.tokenizer_ = std::make_shared<const Tokenizer>(std::move(tokenizer));
    g.tokenizer_load_s_ = watch.elapsed_s();
  }
  g.planned_prompts_ = !g.tokenizer_ && ctx.device.planning();
  Device& text_home = g.home(g.text_vae_offloaded());
  Device& dit_home = g.home(g.dit_offloaded());
  const ops::OpContext dit_ctx{dit_home, ctx.pool};
  const DType text_dtype = options.matrix_dtype;
  const DType dit_dtype = options.quantize_int8 ? DType::i8 : options.matrix_dtype;

  ACEFIT_ASSIGN(
      models::TextEncoder text_encoder,
      models::TextEncoder::load(*sources.text_encoder, sources.text_config, text_home, text_dtype));
  g.text_encoder_.emplace(std::move(text_encoder));
  report(progress, "load", 1, parts);

  g.turbo_ = g.dit_config_.is_turbo || g.dit_name_.find("turbo") != std::string::npos;
  if (g.dit_config_.text_hidden_dim != g.text_encoder_->config().hidden_size)
    return Status(ErrorCode::corrupt, sources.dit_dir + ": text_hidden_dim " +
                                          std::to_string(g.dit_config_.text_hidden_dim) +
                                          " does not match the text encoder's hidden size " +
                                          std::to_string(g.text_encoder_->config().hidden_size));
  ACEFIT_ASSIGN(models::ConditionEncoder condition,
                models::ConditionEncoder::load(*sources.dit, dit_ctx, g.dit_config_, dit_dtype));
  g.condition_encoder_.emplace(std::move(condition));
  report(progress, "load", 2, parts);
  ACEFIT_ASSIGN(models::DitDecoder dit,
                models::DitDecoder::load(*sources.dit, dit_ctx, g.dit_config_, dit_dtype));
  g.dit_.emplace(std::move(dit));
  g.dit_loader_ = std::make_shared<const models::WeightLoader>(std::move(*sources.dit));
  report(progress, "load", 3, parts);

  g.silence_.assign(
      static_cast<std::size_t>(kSilenceLatentFrames * g.dit_config_.audio_acoustic_hidden_dim),
      0.0f);
  if (!options.preset) {
    const std::int64_t shape[] = {1, g.dit_config_.audio_acoustic_hidden_dim, kSilenceLatentFrames};
    ACEFIT_ASSIGN(const PtTensor silence,
                  read_pt_float_tensor(sources.dit_dir + "/silence_latent.pt", shape));
    // [1, C, T] channel-major -> [T, C] frame-major.
    const std::int64_t channels = shape[1];
    for (std::int64_t c = 0; c < channels; ++c) {
      for (std::int64_t t = 0; t < kSilenceLatentFrames; ++t) {
        g.silence_[static_cast<std::size_t>(t * channels + c)] =
            silence.values[static_cast<std::size_t>(c * kSilenceLatentFrames + t)];
      }
    }
  }
  if (sources.vae_config) {
    ACEFIT_ASSIGN(models::OobleckDecoder vae,
                  models::OobleckDecoder::plan(*sources.vae_config, text_home));
    g.vae_.emplace(std::move(vae));
  } else {
    ACEFIT_ASSIGN(models::OobleckDecoder vae,
                  models::OobleckDecoder::load(sources.vae_dir, text_home, &ctx.pool));
    g.vae_.emplace(std::move(vae));
  }
  g.vae_config_ = g.vae_->config();
  ACEFIT_TRY(g.load_lm(options));
  report(progress, "load", parts, parts);
  return g;
}

Status Generator::load_lm(const GeneratorOptions& options) {
  if (options.lm_model.empty()) return Status();
  lm_name_ = options.lm_model;
  lm_backend_ = options.lm_backend;
  lm_on_host_ = options.lm_on_host || host_.get() == device_;
  // vllm keeps the weights resident; pt lets them wait on the host when
  // the offload mode moves weights at all.
  lm_offloaded_ = !lm_on_host_ && lm_backend_ == LmBackend::pt && offload_ != OffloadMode::none;
  Device& lm_home = (lm_on_host_ || lm_offloaded_) ? *host_ : *device_;
  if (options.preset) {
    const Qwen3Config config = preset_lm_config(*options.preset, lm_size_class(options.lm_model));
    const models::WeightLoader loader = models::WeightLoader::planned(
        "preset:" + std::string(preset_name(*options.preset)) + "/" + options.lm_model,
        expected_qwen3_tensors(config, "model."));
    ACEFIT_ASSIGN(models::lm::CausalLm model,
                  models::lm::CausalLm::load(loader, config, lm_home, options.matrix_dtype));
    lm_.emplace(std::move(model));
    // Planning a preset: the Qwen3 tokenizer makes exact prompts.
    lm_tokenizer_ = options.lm_tokenizer ? options.lm_tokenizer : tokenizer_;
    return Status();
  }
  ACEFIT_ASSIGN(const CheckpointLayout layout, discover_checkpoints(options.checkpoints));
  const LmFolder* folder = nullptr;
  std::string names;
  for (const LmFolder& lm : layout.lms) {
    if (lm.name == options.lm_model) folder = &lm;
    names += (names.empty() ? "" : ", ") + lm.name;
  }
  if (folder == nullptr)
    return Status(ErrorCode::not_found,
                  options.checkpoints + ": no LM folder named " + options.lm_model +
                      (names.empty() ? " (none found)" : " (found: " + names + ")"));
  ACEFIT_ASSIGN(models::lm::CausalLm model,
                models::lm::CausalLm::load(folder->path, lm_home, options.matrix_dtype));
  lm_.emplace(std::move(model));
  if (options.lm_tokenizer) {
    lm_tokenizer_ = options.lm_tokenizer;
  } else if (std::filesystem::exists(folder->path + "/tokenizer.json") ||
             std::filesystem::exists(folder->path + "/vocab.json")) {
    TokenizerOptions tokenizer_options;
    tokenizer_options.embedding_rows = lm_->vocab_size();
    ACEFIT_ASSIGN(Tokenizer tokenizer, Tokenizer::load(folder->path, tokenizer_options));
    lm_tokenizer_ = std::make_shared<const Tokenizer>(std::move(tokenizer));
  }
  return Status();
}

LmInputs lm_inputs(const GenerationRequest& request) {
  LmInputs inputs;
  inputs.caption = request.caption;
  inputs.lyrics = request.lyrics;
  inputs.language = request.language;
  inputs.bpm = request.bpm;
  inputs.keyscale = request.keyscale;
  inputs.time_signature = request.time_signature;
  inputs.duration_s = request.duration_s;
  inputs.batch = request.batch;
  inputs.seed = request.seed;
  return inputs;
}

Expected<LmOutcome> Generator::run_lm(const GenerationRequest& request, RunRecord& record,
                                      const ProgressFn& progress) const {
  if (!lm_)
    return bad_request(
        "the request asks for the 5 Hz LM (--thinking or --cot) but no LM is "
        "loaded (init_lm off, or no acestep-5Hz-lm-* folder)");
  if (!lm_tokenizer_ && !device_->planning())
    return Status(ErrorCode::not_found,
                  lm_name_ + ": no tokenizer files (tokenizer.json, or vocab.json + merges.txt)");
  const LmInputs inputs = lm_inputs(request);
  Device& compute = lm_on_host_ ? *host_ : *device_;
  Device& home = (lm_on_host_ || lm_offloaded_) ? *host_ : *device_;
  const ops::OpContext c{compute, *pool_};
  StageMeter meter("lm", *device_, *host_);
  Stopwatch watch;
  record.lm.model = lm_name_;
  LmOutcome outcome;
  {
    ACEFIT_ASSIGN(const auto model,
                  stage::OnDevice<models::lm::CausalLm>::acquire(*lm_, home, compute));
    const LmProgressFn phase_progress = [&](std::string_view phase, std::int64_t done,
                                            std::int64_t total) {
      report(progress, phase, done, total);
    };
    ACEFIT_ASSIGN(outcome, run_lm_stage(*model, lm_tokenizer_.get(), lm_backend_, c, inputs,
                                        request.lm, record.lm, phase_progress));
  }
  record.timings.lm_s = watch.elapsed_s();
  meter.finish(record);
  return outcome;
}

Generator::WeightGroupBytes Generator::weight_bytes() const {
  const std::uint64_t granularity = device_->budget().granularity_bytes();
  WeightGroupBytes bytes;
  bytes.text_encoder = models::weight_bytes(*text_encoder_, granularity);
  bytes.condition_encoder = models::weight_bytes(*condition_encoder_, granularity);
  bytes.dit = models::weight_bytes(*dit_, granularity);
  models::DitDecoder dit = *dit_;
  std::vector<Tensor*> layer;
  dit.collect_layer_weights(0, layer);
  bytes.dit_layer = models::tensor_bytes(layer, granularity);
  bytes.vae = vae_->weight_bytes();
  if (lm_) bytes.lm = models::weight_bytes(*lm_, granularity);
  return bytes;
}

int Generator::dit_layer_count() const {
  return static_cast<int>(dit_config_.num_hidden_layers);
}

std::uint64_t Generator::decision_budget(std::uint64_t budget_bytes) const {
  return budget_bytes != 0 ? budget_bytes : device_->budget().cap_bytes();
}

Expected<GenerationResult> Generator::generate(const GenerationRequest& request,
                                               const ProgressFn& progress) const {
  ACEFIT_TRY(check_cancelled(request.cancelled));
  if (!request.lm.active()) return generate_dit(request, progress, RunRecord());
  RunRecord record;
  ACEFIT_ASSIGN(LmOutcome outcome, run_lm(request, record, progress));
  ACEFIT_TRY(check_cancelled(request.cancelled));
  // The user's metadata stays; the CoT fills the rest (14.5).
  GenerationRequest next = request;
  next.lm = LmRequest();
  const models::lm::CotFields& cot = outcome.cot;
  if (!next.bpm && cot.bpm) next.bpm = cot.bpm;
  if (!next.keyscale && cot.keyscale) next.keyscale = cot.keyscale;
  if (!next.time_signature && cot.time_signature) next.time_signature = cot.time_signature;
  if (next.language == "unknown" && cot.language) next.language = *cot.language;
  if (request.lm.use_cot_caption && cot.caption && !cot.caption->empty())
    next.caption = *cot.caption;
  if (!request.lm.duration_given) {
    if (device_->planning())
      next.duration_s = std::min(request.lm.max_duration_s, 600);
    else if (cot.duration_s)
      next.duration_s = *cot.duration_s;
  }
  if (!outcome.codes.empty()) next.audio_codes = outcome.codes;
  ACEFIT_ASSIGN(GenerationResult result, generate_dit(next, progress, std::move(record)));
  result.lm = std::move(outcome);
  result.record.timings.total_s += result.record.timings.lm_s;
  return result;
}

Expected<GenerationResult> Generator::generate_dit(const GenerationRequest& request,
                                                   const ProgressFn& progress,
                                                   RunRecord initial_record) const {
  GenerationResult result;
  result.record = std::move(initial_record);
  result.caption = request.caption;
  result.language = request.language;
  result.bpm = request.bpm;
  result.keyscale = request.keyscale;
  result.time_signature = request.time_signature;
  result.dit = dit_name_;
  result.turbo = turbo_;
  if (request.batch < 1)
    return bad_request("batch must be >= 1, got " + std::to_string(request.batch));
  if (!(request.duration_s > 0.0) || !std::isfinite(request.duration_s))
    return bad_request("duration must be a positive number of seconds");
  if (request.vae_chunk_frames < 0)
    return bad_request("the VAE chunk must be >= 1 frame (0: auto)");
  if (request.vae_overlap_frames < 0) return bad_request("the VAE overlap must be >= 0 frames");
  const std::int64_t hop = vae_config_.hop_samples();
  // Audio codes (one list for every item, or one per item) set the length.
  const std::vector<std::vector<std::int64_t>>& codes = request.audio_codes;
  const bool has_codes = !codes.empty();
  if (has_codes) {
    if (codes.size() != 1 && codes.size() != static_cast<std::size_t>(request.batch))
      return bad_request("audio codes: " + std::to_string(codes.size()) + " lists for a batch of " +
                         std::to_string(request.batch) + " (give one list, or one per item)");
    for (std::size_t b = 0; b < codes.size(); ++b) {
      if (codes[b].empty())
        return bad_request("audio codes: list " + std::to_string(b) + " is empty");
      if (codes[b].size() != codes.front().size())
        return bad_request("audio codes: every list needs the same length");
      for (std::size_t i = 0; i < codes[b].size(); ++i) {
        if (codes[b][i] < 0 || codes[b][i] >= kAudioCodeCount)
          return bad_request("audio code " + std::to_string(codes[b][i]) + " at position " +
                             std::to_string(i) + " is outside 0..63999");
      }
    }
  }
  const std::int64_t code_frames =
      has_codes ? static_cast<std::int64_t>(codes.front().size()) * dit_config_.pool_window_size
                : 0;
  const std::int64_t frames =
      has_codes ? std::max<std::int64_t>(128, code_frames)
                : latent_frames_for_duration(request.duration_s, hop, vae_config_.sampling_rate);
  if (frames > kSilenceLatentFrames)
    return bad_request("duration " + std::to_string(request.duration_s) +
                       " s is longer than the 600 s the model supports");
  result.latent_frames = frames;
  result.duration_s =
      static_cast<double>(frames * hop) / static_cast<double>(vae_config_.sampling_rate);

  // Prompts (6.1-6.3). A plan without a tokenizer assumes the longest ones.
  std::vector<std::int64_t> caption_ids, lyric_ids;
  if (planned_prompts_) {
    caption_ids.assign(static_cast<std::size_t>(kCaptionMaxTokens), 0);
    lyric_ids.assign(static_cast<std::size_t>(kLyricMaxTokens), 0);
    result.warnings.push_back("no tokenizer: planned with the longest prompts (" +
                              std::to_string(kCaptionMaxTokens) + " caption and " +
                              std::to_string(kLyricMaxTokens) + " lyric tokens)");
  } else {
    if (!tokenizer_)
      return Status(
          ErrorCode::not_found,
          text_encoder_dir_ + ": no tokenizer files (tokenizer.json, or vocab.json + merges.txt)");
    PromptMetas metas;
    metas.bpm = request.bpm;
    metas.time_signature = request.time_signature;
    metas.keyscale = request.keyscale;
    metas.duration_s = has_codes ? result.duration_s : request.duration_s;
    // A text2music request with audio codes is a cover (6.4).
    ACEFIT_ASSIGN(const std::string instruction,
                  task_instruction(has_codes ? Task::cover : Task::text2music));
    ACEFIT_ASSIGN(const std::string caption_text,
                  caption_prompt(instruction, request.caption, metas));
    ACEFIT_ASSIGN(const std::string lyric_text, lyric_prompt(request.language, request.lyrics));
    ACEFIT_ASSIGN(const PromptTokens caption_tokens,
                  tokenize_prompt(*tokenizer_, caption_text, kCaptionMaxTokens));
    ACEFIT_ASSIGN(const PromptTokens lyric_tokens,
                  tokenize_prompt(*tokenizer_, lyric_text, kLyricMaxTokens));
    // Truncation keeps the tokenizer's special tokens (18.1): the text gives way.
    const std::size_t special = tokenizer_->special_token_count();
    const auto cut = [special](const char* name, const PromptTokens& tokens, std::size_t max) {
      std::string text = std::string("the ") + name + " prompt has " +
                         std::to_string(tokens.full_length) + " tokens; only " +
                         std::to_string(max) + " are used";
      if (special > 0)
        text += " (its first " + std::to_string(max - special) + " text tokens and the " +
                std::to_string(special) + " special token(s) the tokenizer adds)";
      return text;
    };
    if (caption_tokens.truncated)
      result.warnings.push_back(cut("caption", caption_tokens, kCaptionMaxTokens));
    if (lyric_tokens.truncated)
      result.warnings.push_back(cut("lyric", lyric_tokens, kLyricMaxTokens));
    caption_ids.assign(caption_tokens.ids.begin(), caption_tokens.ids.end());
    lyric_ids.assign(lyric_tokens.ids.begin(), lyric_tokens.ids.end());
  }

  // Schedule and guidance (11.1, 11.2).
  SamplingPlan plan;
  plan.method = request.method;
  plan.cancelled = request.cancelled;
  if (turbo_) {
    // 18.3: 1 to 8 steps at any shift > 0.
    const double shift = request.shift.value_or(3.0);
    int steps = request.steps.value_or(kTurboStepCount);
    if (steps < 1) return bad_request("steps must be >= 1, got " + std::to_string(steps));
    if (steps > kTurboStepCount) {
      result.warnings.push_back("turbo models take at most 8 steps; --steps " +
                                std::to_string(steps) + " runs 8");
      steps = kTurboStepCount;
    }
    ACEFIT_ASSIGN(plan.schedule, turbo_schedule(shift, steps));
    result.shift = shift;
    if (request.guidance && *request.guidance != 1.0)
      result.warnings.push_back("turbo models run without guidance; --guidance is ignored");
    plan.guidance.scale = 1.0;
  } else {
    result.shift = request.shift.value_or(1.0);
    ACEFIT_ASSIGN(plan.schedule,
                  base_schedule(request.steps.value_or(kDefaultBaseSteps), result.shift));
    plan.guidance.scale = request.guidance.value_or(kDefaultBaseGuidance);
  }
  // 18.4: DCW on by default for turbo models, off for base/SFT.
  plan.dcw = request.dcw;
  plan.dcw.enabled = request.dcw_enabled.value_or(turbo_);
  if (const Status status = validate_dcw_options(plan.dcw); !status.ok())
    return bad_request(status.message());
  result.dcw = plan.dcw;
  result.steps = plan.schedule.step_count();
  result.guidance = plan.guidance.scale;

  // Noise (12): item b uses seed + b.
  result.seeds = consecutive_seeds(request.seed, static_cast<std::size_t>(request.batch));
  const auto per_item = static_cast<std::size_t>(frames * dit_config_.audio_acoustic_hidden_dim);
  plan.sde_noise = [&](int step) -> Expected<std::vector<float>> {
    return batch_noise(result.seeds, sde_noise_stream(step), per_item);
  };

  Stopwatch total;
  RunRecord& record = result.record;
  if (has_codes) {
    std::vector<std::vector<std::int64_t>> item_codes = codes;
    if (item_codes.size() == 1 && request.batch > 1)
      item_codes.assign(static_cast<std::size_t>(request.batch), codes.front());
    report(progress, "codes", 0, 1);
    ACEFIT_ASSIGN(plan.context_src, code_hints(item_codes, frames, &record));
    report(progress, "codes", 1, 1);
  }
  ACEFIT_TRY(check_cancelled(request.cancelled));
  report(progress, "encode", 0, 1);
  std::vector<float> latents;
  {
    // The encoder states are released before the decode.
    ACEFIT_ASSIGN(const models::EncoderStates states,
                  encode_ids(caption_ids, lyric_ids, request.batch, &record));
    report(progress, "encode", 1, 1);
    // A plan samples no values (Generator::sample): no noise to draw.
    std::vector<float> noise = device_->planning()
                                   ? std::vector<float>()
                                   : batch_noise(result.seeds, kInitialNoiseStream, per_item);
    ACEFIT_ASSIGN(latents, sample(states, std::move(noise), frames, plan, progress, &record,
                                  request.dit_stream_window));
  }
  ACEFIT_TRY(check_cancelled(request.cancelled));
  Stopwatch decode_watch;
  ACEFIT_ASSIGN(result.audio, decode(latents, request.batch, frames, request.vae_chunk_frames,
                                     request.vae_overlap_frames, progress, &record,
                                     request.vae_on_host, request.budget_bytes));
  ACEFIT_TRY(check_cancelled(request.cancelled));
  if (!device_->planning()) ACEFIT_TRY(models::postprocess_audio(result.audio));
  record.timings.vae_decode_s = decode_watch.elapsed_s();
  record.timings.total_s = total.elapsed_s();
  return result;
}

}  // namespace acefit
