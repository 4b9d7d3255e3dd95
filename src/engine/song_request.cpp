#include "engine/song_request.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>

#include "core/timer.h"
#include "io/checkpoint/checkpoint_layout.h"
#include "io/text/text_input.h"
#include "pipeline/prompt.h"

namespace acefit {

namespace {

Status refused(const std::string& message) {
  return Status(ErrorCode::invalid_argument, message);
}

}  // namespace

Status check_song_request(SongRequest& request) {
  ACEFIT_TRY(check_text_field("--caption", request.caption, kMaxCaptionBytes));
  ACEFIT_TRY(check_text_field("--lyrics", request.lyrics, kMaxLyricsBytes));
  if (request.instrumental && !request.lyrics.empty())
    return refused(
        "--instrumental writes \"[Instrumental]\" as the lyrics; give it without --lyrics (or "
        "drop --instrumental to sing the lyrics)");
  if (request.keyscale) ACEFIT_TRY(check_text_field("--keyscale", *request.keyscale, 256));
  if (request.time_signature)
    ACEFIT_TRY(check_text_field("--timesignature", *request.time_signature, 64));
  ACEFIT_TRY(check_text_field("--language", request.language, 64));
  ACEFIT_TRY(
      check_text_field("--lm-negative-prompt", request.lm_negative_prompt, kMaxCaptionBytes));
  if (request.method != "ode" && request.method != "sde")
    return refused("--method must be ode or sde, got '" + printable_text(request.method) + "'");
  if (request.time_signature) {
    auto parsed = parse_time_signature(*request.time_signature);
    if (!parsed.ok()) return refused("--timesignature: " + parsed.status().message());
  }
  if (request.keyscale) {
    const Status status = validate_keyscale(*request.keyscale);
    if (!status.ok()) return refused("--keyscale: " + status.message());
  }
  if (const Status status = validate_language(request.language); !status.ok())
    return refused("--language: " + status.message());
  if (request.bpm) {
    const Status status = validate_bpm(*request.bpm);
    if (!status.ok()) return refused("--bpm: " + status.message());
  }
  if (request.seed > kMaxSeed)
    return refused("--seed must be -1 (random) or 0.." + std::to_string(kMaxSeed) + ", got " +
                   std::to_string(request.seed));
  if (request.uses_lm() && !request.audio_codes.empty())
    return refused("--audio-codes and --thinking/--cot were both given (codes skip the LM)");
  if (request.random_seed) {
    std::random_device device;
    std::uniform_int_distribution<std::uint64_t> draw(0, kMaxSeed);
    request.seed = draw(device);
    request.random_seed = false;
  }
  return Status();
}

Expected<GenerationRequest> generation_request(const SongRequest& args,
                                               const EffectiveSettings& settings) {
  GenerationRequest request;
  if (args.method != "ode" && args.method != "sde")
    return invalid_argument("--method must be ode or sde, got " + args.method);
  if (args.time_signature) {
    ACEFIT_TRY(parse_time_signature(*args.time_signature).status());
    request.time_signature = *args.time_signature;  // written verbatim (18.2)
  }
  if (args.instrumental && !args.lyrics.empty())
    return invalid_argument("--instrumental and lyrics were both given");
  if (args.bpm) ACEFIT_TRY(validate_bpm(*args.bpm));
  if (args.keyscale) ACEFIT_TRY(validate_keyscale(*args.keyscale));
  ACEFIT_TRY(validate_language(args.language));
  request.caption = args.caption;
  request.lyrics = args.instrumental ? std::string(kInstrumentalLyrics) : args.lyrics;
  request.language = args.language;
  request.duration_s = settings.duration_s.value.value_or(kDefaultDurationS);
  request.batch = settings.batch.value;
  request.seed = args.seed;
  request.steps = args.steps;
  request.shift = args.shift;
  request.guidance = args.guidance;
  request.bpm = args.bpm;
  request.keyscale = args.keyscale;
  request.method = args.method == "sde" ? InferMethod::sde : InferMethod::ode;
  request.dcw_enabled = args.dcw;
  request.dcw = args.dcw_options;
  if (!args.audio_codes.empty()) request.audio_codes = {args.audio_codes};
  if (args.uses_lm() && !args.audio_codes.empty())
    return invalid_argument(
        "--audio-codes and --thinking/--cot were both given (codes skip the LM)");
  request.lm.thinking = args.thinking;
  request.lm.cot = args.cot;
  request.lm.use_cot_caption = !args.no_cot_caption;
  request.lm.use_cot_language = !args.no_cot_language;
  request.lm.negative_prompt = args.lm_negative_prompt;
  request.lm.sampling.temperature = args.lm_temperature;
  request.lm.sampling.cfg_scale = args.lm_cfg_scale;
  request.lm.sampling.top_k = args.lm_top_k;
  request.lm.sampling.top_p = args.lm_top_p;
  request.lm.sampling.repetition_penalty = args.lm_repetition_penalty;
  request.lm.max_duration_s = settings.lm_max_duration_s.value;
  request.lm.duration_given = settings.duration_s.value.has_value();
  if (settings.vae_decode_chunk_size.value)
    request.vae_chunk_frames = *settings.vae_decode_chunk_size.value;
  request.vae_on_host = settings.vae_on_cpu.value;
  return request;
}
GeneratorOptions generator_options_for(const SongRequest& args, const EffectiveSettings& settings,
                                       const std::string& checkpoints, std::string* note) {
  GeneratorOptions options;
  options.checkpoints = checkpoints;
  options.matrix_dtype = args.f32_weights ? DType::f32 : DType::bf16;
  options.quantize_int8 = settings.quantization.value;
  options.offload = settings.offload.value;
  if (settings.tier_record && settings.tier_record->max_vae_chunk_frames)
    options.max_auto_vae_chunk_frames = *settings.tier_record->max_vae_chunk_frames;
  // The DiT folder: --config-path / ACESTEP_CONFIG_PATH when that folder
  // exists, else the default choice (acestep-v15-turbo, else another turbo
  // DiT such as acestep-v15-xl-turbo, else the first by name).
  const std::string wanted = settings.config_path.value;
  std::error_code error;
  if (!checkpoints.empty() && (settings.config_path.source != SettingSource::built_in ||
                               std::filesystem::is_directory(checkpoints + "/" + wanted, error)))
    options.dit = wanted;
  // The LM, when the run uses it: the tier's (or the chosen) model and backend.
  if (args.uses_lm() && settings.init_lm.value && settings.lm_model.value) {
    options.lm_model = *settings.lm_model.value;
    options.lm_backend = parse_lm_backend(settings.backend.value).value_or(LmBackend::pt);
    // The tier's pick is a recommendation: when that folder is not there,
    // the largest LM the folder has that the tier allows.
    const bool chosen = settings.lm_model.source == SettingSource::command_line ||
                        settings.lm_model.source == SettingSource::environment ||
                        settings.lm_model.source == SettingSource::dotenv;
    auto layout = checkpoints.empty() ? Expected<CheckpointLayout>(Status(ErrorCode::not_found, ""))
                                      : discover_checkpoints(checkpoints);
    if (!chosen && layout.ok()) {
      bool present = false;
      const LmFolder* fallback = nullptr;
      static constexpr std::string_view kOrder[] = {"0.6B", "1.7B", "4B"};
      const auto rank = [](const std::string& size) {
        return std::find(std::begin(kOrder), std::end(kOrder), size) - std::begin(kOrder);
      };
      for (const LmFolder& lm : layout->lms) {
        present |= lm.name == options.lm_model;
        const bool allowed = settings.tier_record == nullptr ||
                             settings.tier_record->lm_models.empty() ||
                             settings.tier_record->allows_lm(lm.size_class);
        if (allowed && (fallback == nullptr || rank(lm.size_class) > rank(fallback->size_class)))
          fallback = &lm;
      }
      if (!present && fallback != nullptr) {
        if (note != nullptr)
          *note = options.lm_model + " (recommended) is not in " + checkpoints + ": using " +
                  fallback->name;
        options.lm_model = fallback->name;
      }
    }
  }
  return options;
}

TokenizerPreload::TokenizerPreload(const std::string& checkpoints, const std::string& preset_dir) {
  std::string dir = preset_dir;
  if (dir.empty() && !checkpoints.empty()) {
    auto layout = discover_checkpoints(checkpoints);
    if (layout.ok() && layout->text_encoder) dir = *layout->text_encoder;
  }
  std::error_code error;
  if (dir.empty() || !std::filesystem::is_regular_file(dir + "/tokenizer.json", error)) return;
  pending_ = std::async(std::launch::async, [dir]() -> Loaded {
    Stopwatch watch;
    try {
      auto loaded = Tokenizer::load(dir);
      if (!loaded.ok()) return {};
      return {std::make_shared<const Tokenizer>(std::move(loaded).value()), watch.elapsed_s()};
    } catch (...) {  // out of memory: the run's own load reports it
      return {};
    }
  });
}

TokenizerPreload::~TokenizerPreload() {
  if (pending_.valid()) pending_.wait();
}

std::shared_ptr<const Tokenizer> TokenizerPreload::take() {
  if (!pending_.valid()) return nullptr;
  Loaded loaded = pending_.get();
  load_s_ = loaded.seconds;
  return std::move(loaded.tokenizer);
}

}  // namespace acefit
