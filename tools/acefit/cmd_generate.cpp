// acefit generate: caption (+ lyrics) -> audio files, with the settings of
// the GPU adaptation system (device, duration and batch limits, DiT folder,
// VAE chunk), a progress bar on stderr and a timing breakdown.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli_common.h"
#include "commands.h"
#include "core/timer.h"
#include "io/audio/audio_file.h"
#include "io/audio/audio_outputs.h"
#include "io/file/temp_cleanup.h"
#include "pipeline/generator.h"
#include "pipeline/memory_plan.h"
#include "request_cli.h"
#include "settings_cli.h"

namespace acefit::cli {

namespace {

struct GenerateArgs {
  SettingFlags settings;
  RequestArgs request;
  std::string checkpoints;
  std::string format;
  std::string out;
  bool json = false;
  bool no_overwrite = false;
};

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
    const char* unit = stage == "diffusion"  ? "step"
                       : stage == "decode"   ? "tile"
                       : stage == "lm_cot"   ? "token"
                       : stage == "lm_codes" ? "code"
                                             : "part";
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

nlohmann::json optional_json(const auto& value) {
  return value ? nlohmann::json(*value) : nlohmann::json();
}

// The LM stage for --json: the CoT, the code count, per-phase tokens and
// times, the KV cache and the stage's device peak.
nlohmann::json lm_json(const GenerationResult& result, const GeneratorOptions& options) {
  const LmReport& lm = result.record.lm;
  nlohmann::json out;
  out["model"] = lm.model;
  out["backend"] = lm.backend;
  out["on_host"] = options.lm_on_host;
  const models::lm::CotFields& cot = result.lm.cot;
  out["cot_ran"] = result.lm.cot_ran;
  out["cot"] = {{"bpm", optional_json(cot.bpm)},
                {"caption", optional_json(cot.caption)},
                {"duration", optional_json(cot.duration_s)},
                {"keyscale", optional_json(cot.keyscale)},
                {"language", optional_json(cot.language)},
                {"timesignature", optional_json(cot.time_signature)}};
  out["cot_text"] = result.lm.cot_text;
  out["codes"] = result.lm.codes.empty() ? 0 : result.lm.codes.front().size();
  out["phases"] = nlohmann::json::array();
  for (const LmPhaseReport& phase : lm.phases)
    out["phases"].push_back({{"name", phase.name},
                             {"sequences", phase.sequences},
                             {"prompt_tokens", phase.prompt_tokens},
                             {"new_tokens", phase.new_tokens},
                             {"seconds", phase.seconds},
                             {"tokens_per_s", phase.tokens_per_s()}});
  out["kv_reserved_bytes"] = lm.kv_reserved_bytes;
  for (const StageMemory& stage : result.record.stages)
    if (stage.name == "lm") out["device_peak_bytes"] = stage.device_peak_bytes;
  out["seconds"] = result.record.timings.lm_s;
  return out;
}

int generate_fail(const std::string& message, int code = kExitBadInput) {
  return report_error("generate", message, code);
}

int run_generate(const GenerateArgs& given) {
  Stopwatch wall;
  GenerateArgs args = given;
  // Text, files and seed first: bad input stops before anything opens.
  if (const Status status = prepare_request_args(args.request, true); !status.ok())
    return generate_fail(status.message());
  if (args.request.random_seed)
    std::fprintf(stderr,
                 "acefit generate: --seed -1: random seed %llu (batch item b uses seed + b)\n",
                 static_cast<unsigned long long>(args.request.seed));
  auto format = pick_format(args.format, args.out);
  if (!format.ok()) return generate_fail(format.status().message());
  TokenizerPreload tokenizer(args.checkpoints, "");
  args.settings.lm_in_pipeline = args.request.uses_lm();
  auto context = resolve_from_process(args.settings);
  if (!context.ok()) return generate_fail(context.status().message());
  const EffectiveSettings& settings = context->settings;
  if (args.request.uses_lm() && (!settings.init_lm.value || !settings.lm_model.value))
    return generate_fail(
        std::string(args.request.thinking ? "--thinking" : "--cot") +
        " needs the 5 Hz LM, which is off: " +
        (settings.init_lm.reason.empty() ? std::string("init_lm is false")
                                         : settings.init_lm.reason) +
        " (--init-llm true --force runs it anyway, on the host when it does not fit the device)");
  auto built = build_request(args.request, settings);
  if (!built.ok()) return generate_fail(built.status().message());
  GenerationRequest request = *built;
  // The destination, before anything is planned or loaded (a 48 kHz output
  // of whole 1920-sample latent frames).
  const auto out_frames = [&request] {
    return static_cast<std::uint64_t>(latent_frames_for_duration(request.duration_s, 1920, 48000)) *
           1920;
  };
  install_temp_cleanup_signal_handlers();
  // Names follow the batch the user asked for (NAME-1 ... NAME-N for
  // --batch N > 1), never what the tier or the guard ran.
  const bool numbered = request.batch > 1 ||
                        (settings.batch.requested && settings.batch.requested != std::string("1"));
  auto outputs_plan =
      plan_outputs(args.out, request.batch, numbered, *format, out_frames(), args.no_overwrite);
  if (!outputs_plan.ok()) return generate_fail(outputs_plan.status().message());
  FILE* report = outputs_plan->stream_is_stdout ? stderr : stdout;
  std::vector<std::string> warnings = settings.warnings;
  for (const auto& w : context->runtime.warnings) {
    if (std::find(warnings.begin(), warnings.end(), w) == warnings.end()) warnings.push_back(w);
  }
  ProgressBar bar(true);
  const ProgressFn progress = [&](std::string_view stage, std::int64_t done, std::int64_t total) {
    bar.update(stage, done, total);
  };
  Device& device = *context->runtime.device;
  const ops::OpContext ctx{device, *context->runtime.pool};
  std::string lm_note;
  GeneratorOptions options = generator_options(args.request, settings, args.checkpoints, &lm_note);
  if (!lm_note.empty()) warnings.push_back(lm_note);

  // Plan first: the VRAM guard shrinks the batch or streams the DiT, or
  // stops here with the numbers, before anything is loaded.
  Stopwatch plan_watch;
  options.tokenizer = tokenizer.take();
  auto planner = MemoryPlanner::create(options, device, *context->runtime.pool);
  if (!planner.ok())
    return generate_fail(planner.status().to_string(), exit_code_for(planner.status()));
  const std::uint64_t budget = device_budget_bytes(device);
  auto fit = fit_request(*planner, request, budget);
  // An LM forced onto a tier without LM models runs on the host when the
  // device cannot hold it with the rest.
  const bool lm_forced = !options.lm_model.empty() && settings.force.value &&
                         settings.tier_record != nullptr && settings.tier_record->lm_models.empty();
  if (lm_forced && !fit.ok() && fit.status().code() == ErrorCode::out_of_memory &&
      device.kind() != DeviceKind::cpu) {
    options.lm_on_host = true;
    options.lm_tokenizer = planner->generator().lm_tokenizer();
    planner = MemoryPlanner::create(options, device, *context->runtime.pool);
    if (!planner.ok())
      return generate_fail(planner.status().to_string(), exit_code_for(planner.status()));
    fit = fit_request(*planner, request, budget);
    if (fit.ok())
      fit->warnings.push_back("the forced LM does not fit " + device.name() +
                              " with the rest of the run: it runs on the host");
  }
  if (!fit.ok()) return generate_fail(fit.status().message(), 1);
  const double plan_s = plan_watch.elapsed_s();
  // The settings' warnings once the run is known to start: a failed
  // command's error comes first and alone.
  if (!args.json)
    for (const auto& w : warnings) report_warning("generate", w);
  const int asked_batch = request.batch;
  request = fit->request;
  request.budget_bytes = budget;
  if (request.batch != asked_batch) {  // the guard shrank the batch: new names
    outputs_plan =
        plan_outputs(args.out, request.batch, numbered, *format, out_frames(), args.no_overwrite);
    if (!outputs_plan.ok()) return generate_fail(outputs_plan.status().message());
  }
  for (const auto& w : fit->warnings) {
    warnings.push_back(w);
    if (!args.json) report_warning("generate", w);
  }

  options.tokenizer = planner->generator().tokenizer();  // read once
  options.lm_tokenizer = planner->generator().lm_tokenizer();
  Stopwatch load_watch;
  auto generator = Generator::load(options, ctx, progress);
  if (!generator.ok())
    return generate_fail(generator.status().to_string(), exit_code_for(generator.status()));
  const double load_s = load_watch.elapsed_s();

  auto result = generator->generate(request, progress);
  if (!result.ok()) return generate_fail(result.status().to_string(), kExitRunFailed);
  result->record.timings.load_s = load_s;
  for (const auto& w : result->warnings) {
    warnings.push_back(w);
    if (!args.json) report_warning("generate", w);
  }

  // Write every item or none (docs/AUDIO.md).
  const models::HostAudio& audio = result->audio;
  const auto make_item = [&audio](int b) {
    AudioBuffer buffer;
    buffer.sample_rate_hz = static_cast<int>(audio.sample_rate);
    buffer.channels = static_cast<int>(audio.channels);
    buffer.interleaved.resize(audio.item_size());
    const auto item = audio.item(b);
    for (std::int64_t s = 0; s < audio.samples; ++s)
      for (std::int64_t c = 0; c < audio.channels; ++c)
        buffer.interleaved[static_cast<std::size_t>(s * audio.channels + c)] =
            item[static_cast<std::size_t>(c * audio.samples + s)];
    return buffer;
  };
  const auto test_hook = [] {  // tests: a signal once every temp file is complete
    if (const char* hook = std::getenv("ACEFIT_TEST_SIGNAL_BEFORE_COMMIT"); hook && *hook)
      std::raise(SIGTERM);
  };
  const OutputReport written =
      write_outputs(*outputs_plan, static_cast<int>(audio.batch), make_item, nullptr, test_hook);
  const std::vector<std::string>& outputs = written.written;
  if (!written.status.ok()) {
    if (args.json) {
      const nlohmann::json partial = {{"outputs", outputs}, {"error", written.status.to_string()}};
      std::fprintf(report, "%s\n", partial.dump(2).c_str());
    } else {
      for (const auto& path : outputs) std::fprintf(report, "%s\n", path.c_str());
    }
    return generate_fail(written.status.to_string(), 1);
  }

  const RunRecord& record = result->record;
  const GenerationTimings& t = record.timings;
  double dit_s = 0;
  for (const double s : t.dit_steps_s) dit_s += s;
  const double rtf = result->duration_s > 0 ? t.total_s / result->duration_s : 0.0;
  if (args.json) {
    nlohmann::json out;
    out["outputs"] = outputs;
    out["duration_s"] = result->duration_s;
    out["sample_rate"] = audio.sample_rate;
    out["timings"] = {{"plan_s", plan_s},
                      {"load_s", t.load_s},
                      {"lm_s", t.lm_s},
                      {"detokenizer_s", t.detokenizer_s},
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
                       {"method", args.request.method},
                       {"dcw",
                        {{"enabled", result->dcw.enabled},
                         {"mode", std::string(dcw_mode_name(result->dcw.mode))},
                         {"scaler", result->dcw.scaler},
                         {"high_scaler", result->dcw.high_scaler}}},
                       {"latent_frames", result->latent_frames},
                       {"format", audio_format_name(*format)},
                       {"offload", std::string(offload_mode_name(generator->offload()))},
                       {"quantization", options.quantize_int8 ? "int8" : "none"},
                       {"dit_stream_window", request.dit_stream_window},
                       {"weights", args.request.f32_weights ? "f32" : "bf16"}};
    out["vae"] = {{"chunk", record.vae.chunk},
                  {"overlap", record.vae.overlap},
                  {"level", record.vae.level},
                  {"retries", record.vae.retries},
                  {"reason", record.vae.reason}};
    out["metadata"] = {
        {"caption", result->caption},
        {"language", result->language},
        {"bpm", result->bpm ? nlohmann::json(*result->bpm) : nlohmann::json()},
        {"keyscale", result->keyscale ? nlohmann::json(*result->keyscale) : nlohmann::json()},
        {"timesignature",
         result->time_signature ? nlohmann::json(*result->time_signature) : nlohmann::json()},
        {"duration_s", result->duration_s}};
    if (record.lm.ran) out["lm"] = lm_json(*result, options);
    out["peak_device_bytes"] = record.peak_device_bytes;
    out["planned_peak_device_bytes"] = fit->plan.peak_device_bytes;
    out["budget_bytes"] = budget;
    out["peak_host_bytes"] = record.peak_host_bytes;
    out["offload"] = {
        {"to_device_bytes", record.transfers.to_device_bytes},
        {"to_host_bytes", record.transfers.to_host_bytes},
        {"transfers", record.transfers.to_device_count + record.transfers.to_host_count},
        {"seconds", record.transfers.seconds}};
    out["stages"] = nlohmann::json::array();
    for (const StageMemory& stage : record.stages)
      out["stages"].push_back({{"name", stage.name},
                               {"device_bytes", stage.device_peak_bytes},
                               {"host_bytes", stage.host_peak_bytes},
                               {"to_device_bytes", stage.to_device_bytes},
                               {"seconds", stage.seconds}});
    out["warnings"] = warnings;
    std::fprintf(report, "%s\n",
                 out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  for (const auto& path : outputs) std::fprintf(report, "%s\n", path.c_str());
  if (record.lm.ran) {
    std::string phases;
    for (const LmPhaseReport& phase : record.lm.phases) {
      char text[160];
      std::snprintf(text, sizeof text, "%s%s %lld tokens x %d in %.2f s (%.1f tokens/s)",
                    phases.empty() ? "" : " | ", phase.name.c_str(),
                    static_cast<long long>(phase.new_tokens), phase.sequences, phase.seconds,
                    phase.tokens_per_s());
      phases += text;
    }
    std::fprintf(stderr, "acefit generate: LM %s (%s%s): %s | KV %s\n", record.lm.model.c_str(),
                 record.lm.backend.c_str(), options.lm_on_host ? ", on the host" : "",
                 phases.c_str(), format_bytes(record.lm.kv_reserved_bytes).c_str());
    if (result->lm.cot_ran)
      std::fprintf(
          stderr, "  metadata: bpm %s | key %s | time signature %s | language %s | caption %s\n",
          result->bpm ? std::to_string(*result->bpm).c_str() : "-",
          result->keyscale.value_or("-").c_str(), result->time_signature.value_or("-").c_str(),
          result->language.c_str(), result->caption.c_str());
  }
  std::fprintf(stderr,
               "acefit generate: %.2f s of 48 kHz stereo x %lld on %s (%s, %d steps)\n"
               "  load %.2f s | text encoding %.3f s | conditions %.3f s | diffusion %.3f s "
               "(%.3f s/step) | VAE decode %.3f s | total %.2f s | real-time factor %.3f\n",
               result->duration_s, static_cast<long long>(audio.batch),
               context->runtime.device->name().c_str(), result->dit.c_str(), result->steps,
               t.load_s, t.text_encoding_s, t.condition_encoding_s, dit_s,
               t.dit_steps_s.empty() ? 0.0 : dit_s / static_cast<double>(t.dit_steps_s.size()),
               t.vae_decode_s, t.total_s, rtf);
  std::fprintf(
      stderr,
      "  device peak %s (planned %s, budget %s) | VAE chunk %lld level %d retries %d | "
      "offload copies %s in %.3f s\n",
      format_bytes(record.peak_device_bytes).c_str(),
      format_bytes(fit->plan.peak_device_bytes).c_str(), format_bytes(budget).c_str(),
      static_cast<long long>(record.vae.chunk), record.vae.level, record.vae.retries,
      format_bytes(record.transfers.to_device_bytes + record.transfers.to_host_bytes).c_str(),
      record.transfers.seconds);
  return 0;
}

}  // namespace

void add_generate_command(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand(
      "generate",
      "Generate music from a caption (and lyrics) with an ACE-Step 1.5 checkpoints folder");
  auto args = std::make_shared<GenerateArgs>();
  keep_text(command->add_option("--checkpoints", args->checkpoints, "The checkpoints/ folder"))
      ->required();
  add_request_flags(*command, args->request, true);
  keep_text(command->add_option(
      "--format", args->format,
      "wav or flac (16-bit), wav32f or flac24 [default: from --out's extension]"));
  keep_text(command->add_option("--out", args->out,
                                "Output file (.wav or .flac); a batch adds -1, -2, ...; a device "
                                "or FIFO (/dev/stdout) is written as a stream"))
      ->required();
  command->add_flag("--no-overwrite", args->no_overwrite,
                    "Refuse to replace existing output files (checked before any work)");
  command->add_flag("--json", args->json,
                    "Print {\"outputs\", \"duration_s\", \"sample_rate\", \"timings\", "
                    "\"settings\", \"vae\", \"metadata\", \"lm\" (with --thinking or --cot), "
                    "\"peak_device_bytes\", "
                    "\"planned_peak_device_bytes\", \"offload\", \"stages\", \"warnings\"} on "
                    "stdout");
  add_setting_flags(*command, args->settings);
  command->callback([args, &exit_code] { exit_code = run_generate(*args); });
}

}  // namespace acefit::cli
