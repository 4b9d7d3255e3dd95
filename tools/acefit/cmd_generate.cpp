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

#include "acefit/engine.h"
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
  SongRequest song = args.request;  // the seed is drawn
  song.random_seed = false;
  song.settings = args.settings.values;
  EngineConfig config;
  config.checkpoints = args.checkpoints;
  config.environment = process_environment();
  config.tier_table = args.settings.tier_table_path;
  config.tokenizer_dir = default_tokenizer_dir();
  if (const auto it = args.settings.values.find("device"); it != args.settings.values.end())
    config.settings["device"] = it->second;
  auto engine = Engine::open(config);
  if (!engine.ok()) return generate_fail(engine.status().message(), exit_code_for(engine.status()));
  install_temp_cleanup_signal_handlers();
  ProgressBar bar(true);
  bool to_stdout = false;
  std::vector<std::string> written;
  RunCallbacks callbacks;
  callbacks.progress = [&](std::string_view stage, std::int64_t done, std::int64_t total) {
    if (stage != "write") bar.update(stage, done, total);
  };
  callbacks.warning = [&args](const std::string& w) {
    if (!args.json) report_warning("generate", w);
  };
  callbacks.before_commit = [] {  // tests: a signal once every temp file is complete
    if (const char* hook = std::getenv("ACEFIT_TEST_SIGNAL_BEFORE_COMMIT"); hook && *hook)
      std::raise(SIGTERM);
  };
  callbacks.written = [&written](const std::vector<std::string>& paths) { written = paths; };
  OutputTarget target;
  target.path = args.out;
  target.format = args.format;
  target.no_overwrite = args.no_overwrite;
  auto result = (*engine)->generate(song, target, callbacks);
  to_stdout = args.out == "/dev/stdout" || args.out == "-";
  FILE* report = to_stdout ? stderr : stdout;
  if (!result.ok()) {
    const Status& status = result.status();
    if (!written.empty() || (args.json && status.code() == ErrorCode::io)) {
      if (args.json) {
        const nlohmann::json partial = {{"outputs", written}, {"error", status.to_string()}};
        std::fprintf(report, "%s\n", partial.dump(2).c_str());
      } else {
        for (const auto& path : written) std::fprintf(report, "%s\n", path.c_str());
      }
    }
    const bool plain =
        status.code() == ErrorCode::invalid_argument || status.code() == ErrorCode::out_of_memory;
    const int code =
        status.code() == ErrorCode::out_of_memory ? kExitRunFailed : exit_code_for(status);
    return generate_fail(plain ? status.message() : status.to_string(), code);
  }
  const std::vector<std::string>& outputs = result->outputs;
  const GeneratorOptions& options = result->prepared.options;
  const EffectiveSettings& settings = result->prepared.settings;
  const std::uint64_t budget = result->prepared.budget_bytes;
  const GenerationPlan& planned = result->prepared.plan;
  const double plan_s = result->prepared.plan_s;
  const std::vector<std::string>& warnings = result->warnings;
  const std::string device_name = (*engine)->info().device;
  const std::string format_name = result->format;
  const std::string offload_name(offload_mode_name(result->offload));
  const GenerationResult& run = result->run;
  const models::HostAudio& audio = run.audio;
  const RunRecord& record = run.record;
  const GenerationTimings& t = record.timings;
  double dit_s = 0;
  for (const double s : t.dit_steps_s) dit_s += s;
  const double rtf = run.duration_s > 0 ? t.total_s / run.duration_s : 0.0;
  if (args.json) {
    nlohmann::json out;
    out["outputs"] = outputs;
    out["duration_s"] = run.duration_s;
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
                       {"dit", run.dit},
                       {"turbo", run.turbo},
                       {"device", device_name},
                       {"tier", settings.tier.value},
                       {"batch", audio.batch},
                       {"seeds", run.seeds},
                       {"steps", run.steps},
                       {"shift", run.shift},
                       {"guidance", run.guidance},
                       {"method", args.request.method},
                       {"dcw",
                        {{"enabled", run.dcw.enabled},
                         {"mode", std::string(dcw_mode_name(run.dcw.mode))},
                         {"scaler", run.dcw.scaler},
                         {"high_scaler", run.dcw.high_scaler}}},
                       {"latent_frames", run.latent_frames},
                       {"format", format_name},
                       {"offload", offload_name},
                       {"quantization", options.quantize_int8 ? "int8" : "none"},
                       {"dit_stream_window", result->prepared.request.dit_stream_window},
                       {"weights", args.request.f32_weights ? "f32" : "bf16"}};
    out["vae"] = {{"chunk", record.vae.chunk},
                  {"overlap", record.vae.overlap},
                  {"level", record.vae.level},
                  {"retries", record.vae.retries},
                  {"reason", record.vae.reason}};
    out["metadata"] = {
        {"caption", run.caption},
        {"language", run.language},
        {"bpm", run.bpm ? nlohmann::json(*run.bpm) : nlohmann::json()},
        {"keyscale", run.keyscale ? nlohmann::json(*run.keyscale) : nlohmann::json()},
        {"timesignature",
         run.time_signature ? nlohmann::json(*run.time_signature) : nlohmann::json()},
        {"duration_s", run.duration_s}};
    if (record.lm.ran) out["lm"] = lm_json(run, options);
    out["peak_device_bytes"] = record.peak_device_bytes;
    out["planned_peak_device_bytes"] = planned.peak_device_bytes;
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
    if (run.lm.cot_ran)
      std::fprintf(
          stderr, "  metadata: bpm %s | key %s | time signature %s | language %s | caption %s\n",
          run.bpm ? std::to_string(*run.bpm).c_str() : "-", run.keyscale.value_or("-").c_str(),
          run.time_signature.value_or("-").c_str(), run.language.c_str(), run.caption.c_str());
  }
  std::fprintf(stderr,
               "acefit generate: %.2f s of 48 kHz stereo x %lld on %s (%s, %d steps)\n"
               "  load %.2f s | text encoding %.3f s | conditions %.3f s | diffusion %.3f s "
               "(%.3f s/step) | VAE decode %.3f s | total %.2f s | real-time factor %.3f\n",
               run.duration_s, static_cast<long long>(audio.batch), device_name.c_str(),
               run.dit.c_str(), run.steps, t.load_s, t.text_encoding_s, t.condition_encoding_s,
               dit_s,
               t.dit_steps_s.empty() ? 0.0 : dit_s / static_cast<double>(t.dit_steps_s.size()),
               t.vae_decode_s, t.total_s, rtf);
  std::fprintf(
      stderr,
      "  device peak %s (planned %s, budget %s) | VAE chunk %lld level %d retries %d | "
      "offload copies %s in %.3f s\n",
      format_bytes(record.peak_device_bytes).c_str(),
      format_bytes(planned.peak_device_bytes).c_str(), format_bytes(budget).c_str(),
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
      "wav or flac (16-bit), wav32f, flac24, mp3 or opus [default: from --out's extension]"));
  keep_text(command->add_option(
                "--out", args->out,
                "Output file (.wav, .flac, .mp3 or .opus); a batch adds -1, -2, ...; a device "
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
