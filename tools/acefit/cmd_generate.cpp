// acefit generate: caption (+ lyrics) -> audio files, with the settings of
// the GPU adaptation system (device, duration and batch limits, DiT folder,
// VAE chunk), a progress bar on stderr and a timing breakdown.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "commands.h"
#include "core/timer.h"
#include "io/audio_file.h"
#include "pipeline/generator.h"
#include "pipeline/prompt.h"
#include "settings_cli.h"

namespace acefit::cli {

namespace {

struct GenerateArgs {
  SettingFlags settings;
  std::string checkpoints;
  std::string caption;
  std::string lyrics;
  std::string language = "unknown";
  std::uint64_t seed = 42;
  std::optional<int> steps;
  std::optional<double> shift;
  std::optional<double> guidance;
  std::optional<int> bpm;
  std::optional<std::string> keyscale;
  std::optional<std::string> time_signature;
  std::string method = "ode";
  std::string format;
  std::string out;
  bool f32_weights = false;
  bool json = false;
};

constexpr double kDefaultDurationS = 30.0;

// PATH, or PATH with -1, -2, ... before the extension for a batch.
std::string output_path(const std::string& path, int index, int batch) {
  if (batch == 1) return path;
  const std::filesystem::path p(path);
  const std::string stem = p.stem().string() + "-" + std::to_string(index + 1);
  return (p.parent_path() / (stem + p.extension().string())).string();
}

Expected<AudioFormat> pick_format(const std::string& format, const std::string& out) {
  if (format.empty()) return audio_format_from_extension(out);
  if (format == "wav") return AudioFormat::wav16;
  if (format == "flac") return AudioFormat::flac16;
  return audio_format_from_name(format);  // wav16, wav32f, flac16, flac24
}

class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled), tty_(::isatty(2) == 1) {}
  void update(std::string_view stage, std::int64_t done, std::int64_t total) {
    if (!enabled_ || total <= 0) return;
    const int width = 24;
    const auto filled = static_cast<int>(width * done / total);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(width, '.');
    const char* unit = stage == "diffusion" ? "step" : stage == "decode" ? "tile" : "part";
    std::fprintf(stderr, "%s%-9.*s [%s] %s %lld/%lld%s", tty_ ? "\r" : "",
                 static_cast<int>(stage.size()), stage.data(), bar.c_str(), unit,
                 static_cast<long long>(done), static_cast<long long>(total),
                 tty_ && done < total ? "" : "\n");
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  bool tty_;
};

int fail(const std::string& message, int code = 2) {
  std::fprintf(stderr, "acefit generate: %s\n", message.c_str());
  return code;
}

int run_generate(const GenerateArgs& args) {
  Stopwatch wall;
  if (args.caption.empty()) return fail("--caption must not be empty");
  auto format = pick_format(args.format, args.out);
  if (!format.ok()) return fail(format.status().message());
  if (args.method != "ode" && args.method != "sde")
    return fail("--method must be ode or sde, got " + args.method);
  GenerationRequest request;
  if (args.time_signature) {
    auto numerator = parse_time_signature(*args.time_signature);
    if (!numerator.ok()) return fail(numerator.status().message());
    request.time_signature = *numerator;
  }
  if (args.bpm) {
    if (const Status s = validate_bpm(*args.bpm); !s.ok()) return fail(s.message());
  }
  if (args.keyscale) {
    if (const Status s = validate_keyscale(*args.keyscale); !s.ok()) return fail(s.message());
  }
  if (const Status s = validate_language(args.language); !s.ok()) return fail(s.message());

  auto context = resolve_from_process(args.settings);
  if (!context.ok()) return fail(context.status().message());
  const EffectiveSettings& settings = context->settings;
  std::vector<std::string> warnings = settings.warnings;
  for (const auto& w : context->runtime.warnings) {
    if (std::find(warnings.begin(), warnings.end(), w) == warnings.end()) warnings.push_back(w);
  }
  if (!args.json)
    for (const auto& w : warnings)
      std::fprintf(stderr, "acefit generate: warning: %s\n", w.c_str());

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

  ProgressBar bar(true);
  const ProgressFn progress = [&](std::string_view stage, std::int64_t done, std::int64_t total) {
    bar.update(stage, done, total);
  };
  const ops::OpContext ctx{*context->runtime.device, *context->runtime.pool};
  GeneratorOptions options;
  options.checkpoints = args.checkpoints;
  options.matrix_dtype = args.f32_weights ? DType::f32 : DType::bf16;
  {
    // The DiT folder: --config-path / ACESTEP_CONFIG_PATH when that folder
    // exists, else the default choice (acestep-v15-turbo, else the first).
    const std::string wanted = settings.config_path.value;
    std::error_code error;
    if (settings.config_path.source != SettingSource::built_in ||
        std::filesystem::is_directory(args.checkpoints + "/" + wanted, error))
      options.dit = wanted;
  }
  Stopwatch load_watch;
  auto generator = Generator::load(options, ctx, progress);
  if (!generator.ok()) return fail(generator.status().to_string());
  const double load_s = load_watch.elapsed_s();

  auto result = generator->generate(request, progress);
  if (!result.ok()) return fail(result.status().to_string());
  result->timings.load_s = load_s;
  for (const auto& w : result->warnings) {
    warnings.push_back(w);
    if (!args.json) std::fprintf(stderr, "acefit generate: warning: %s\n", w.c_str());
  }

  // Write every item (atomically: a failed write leaves no partial file).
  std::vector<std::string> outputs;
  const models::HostAudio& audio = result->audio;
  for (std::int64_t b = 0; b < audio.batch; ++b) {
    AudioBuffer buffer;
    buffer.sample_rate_hz = static_cast<int>(audio.sample_rate);
    buffer.channels = static_cast<int>(audio.channels);
    buffer.interleaved.resize(audio.item_size());
    const auto item = audio.item(b);
    for (std::int64_t s = 0; s < audio.samples; ++s)
      for (std::int64_t c = 0; c < audio.channels; ++c)
        buffer.interleaved[static_cast<std::size_t>(s * audio.channels + c)] =
            item[static_cast<std::size_t>(c * audio.samples + s)];
    const std::string path =
        output_path(args.out, static_cast<int>(b), static_cast<int>(audio.batch));
    auto written = write_audio_file(path, buffer, *format);
    if (!written.ok()) return fail(written.status().to_string(), 1);
    outputs.push_back(path);
  }

  const GenerationTimings& t = result->timings;
  double dit_s = 0;
  for (const double s : t.dit_steps_s) dit_s += s;
  const double rtf = result->duration_s > 0 ? t.total_s / result->duration_s : 0.0;
  if (args.json) {
    nlohmann::json out;
    out["outputs"] = outputs;
    out["duration_s"] = result->duration_s;
    out["sample_rate"] = audio.sample_rate;
    out["timings"] = {{"load_s", t.load_s},
                      {"text_encoding_s", t.text_encoding_s},
                      {"condition_encoding_s", t.condition_encoding_s},
                      {"dit_steps_s", t.dit_steps_s},
                      {"dit_total_s", dit_s},
                      {"vae_decode_s", t.vae_decode_s},
                      {"total_s", t.total_s},
                      {"wall_s", wall.elapsed_s()},
                      {"real_time_factor", rtf}};
    out["settings"] = {{"checkpoints", args.checkpoints},
                       {"dit", result->dit},
                       {"turbo", result->turbo},
                       {"device", context->runtime.device->name()},
                       {"tier", settings.tier.value},
                       {"batch", audio.batch},
                       {"seeds", result->seeds},
                       {"steps", result->steps},
                       {"shift", result->shift},
                       {"guidance", result->guidance},
                       {"method", args.method},
                       {"latent_frames", result->latent_frames},
                       {"vae_chunk_frames", request.vae_chunk_frames},
                       {"format", audio_format_name(*format)},
                       {"weights", args.f32_weights ? "f32" : "bf16"}};
    out["warnings"] = warnings;
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  for (const auto& path : outputs) std::printf("%s\n", path.c_str());
  std::fprintf(stderr,
               "acefit generate: %.2f s of 48 kHz stereo x %lld on %s (%s, %d steps)\n"
               "  load %.2f s | text encoding %.3f s | conditions %.3f s | diffusion %.3f s "
               "(%.3f s/step) | VAE decode %.3f s | total %.2f s | real-time factor %.3f\n",
               result->duration_s, static_cast<long long>(audio.batch),
               context->runtime.device->name().c_str(), result->dit.c_str(), result->steps,
               t.load_s, t.text_encoding_s, t.condition_encoding_s, dit_s,
               t.dit_steps_s.empty() ? 0.0 : dit_s / static_cast<double>(t.dit_steps_s.size()),
               t.vae_decode_s, t.total_s, rtf);
  return 0;
}

}  // namespace

void add_generate_command(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand(
      "generate",
      "Generate music from a caption (and lyrics) with an ACE-Step 1.5 checkpoints folder");
  auto args = std::make_shared<GenerateArgs>();
  command->add_option("--checkpoints", args->checkpoints, "The checkpoints/ folder")->required();
  command->add_option("--caption", args->caption, "What the music should be like")->required();
  command->add_option("--lyrics", args->lyrics, "Lyrics (empty: instrumental)");
  command->add_option("--language", args->language, "Vocal language code (en, zh, ..., unknown)")
      ->default_val("unknown");
  command->add_option("--seed", args->seed, "Noise seed; batch item b uses seed + b")
      ->default_val(42);
  command->add_option("--steps", args->steps, "Diffusion steps for base models (turbo: 8)");
  command->add_option("--shift", args->shift, "Timestep shift (turbo: 1, 2 or 3; default 3)");
  command->add_option("--guidance", args->guidance,
                      "CFG scale with APG for base models (default 7; turbo: none)");
  command->add_option("--bpm", args->bpm, "Tempo, 30-300");
  command->add_option("--keyscale", args->keyscale, "Key, e.g. \"C major\", \"F# minor\"");
  command->add_option("--timesignature", args->time_signature, "2, 3, 4 or 6 (or 4/4, 6/8, ...)");
  command->add_option("--method", args->method, "Sampler: ode (default) or sde")
      ->default_val("ode");
  command->add_option("--format", args->format,
                      "wav or flac (16-bit), wav32f or flac24; default from --out's extension");
  command->add_option("--out", args->out, "Output file (.wav or .flac); a batch adds -1, -2, ...")
      ->required();
  command->add_flag("--f32-weights", args->f32_weights,
                    "Keep projection matrices in f32 instead of bf16 (twice the memory)");
  command->add_flag("--json", args->json,
                    "Print {\"outputs\", \"duration_s\", \"sample_rate\", \"timings\", "
                    "\"settings\", \"warnings\"} on stdout");
  add_setting_flags(*command, args->settings);
  command->callback([args, &exit_code] { exit_code = run_generate(*args); });
}

}  // namespace acefit::cli
