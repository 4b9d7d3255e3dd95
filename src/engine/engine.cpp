// The engine behind include/acefit/engine.h: settings per request, the plan
// and the VRAM guard before any load, models kept loaded between requests
// that use the same ones, and the audio written all or nothing.
#include "acefit/engine.h"

#include <algorithm>

#include "adapt/options.h"
#include "core/timer.h"
#include "engine/resolve.h"
#include "engine/song_request.h"
#include "io/audio/audio_outputs.h"
#include "io/checkpoint/checkpoint_layout.h"

namespace acefit {

namespace {

// Everything about GeneratorOptions that changes what gets loaded.
std::string options_key(const GeneratorOptions& o) {
  return o.checkpoints + '\n' + o.dit + '\n' + std::to_string(static_cast<int>(o.matrix_dtype)) +
         '\n' + (o.quantize_int8 ? "int8" : "none") + '\n' +
         std::string(offload_mode_name(o.offload)) + '\n' +
         std::to_string(o.max_auto_vae_chunk_frames) + '\n' + o.lm_model + '\n' +
         std::to_string(static_cast<int>(o.lm_backend)) + '\n' + (o.lm_on_host ? "host" : "");
}

Expected<AudioFormat> pick_format(const std::string& format, const std::string& path) {
  if (format.empty()) return audio_format_from_extension(path);
  if (format == "wav") return AudioFormat::wav16;
  if (format == "flac") return AudioFormat::flac16;
  return audio_format_from_name(format);
}

// Names a request's settings may use: the option table's.
Status check_setting_name(const std::string& name) {
  std::string known;
  for (const OptionSpec& option : option_table()) {
    if (option.setting == name) return Status();
    if (known.find(std::string(option.setting) + ",") == std::string::npos)
      known += std::string(option.setting) + ", ";
  }
  return Status(ErrorCode::invalid_argument, "unknown setting '" + name + "' (known: " +
                                                 known.substr(0, known.size() - 2) + ")");
}

void add_once(std::vector<std::string>& to, const std::string& warning) {
  if (std::find(to.begin(), to.end(), warning) == to.end()) to.push_back(warning);
}

AudioBuffer item_buffer(const models::HostAudio& audio, int b) {
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
}

}  // namespace

struct Engine::Impl {
  EngineConfig config;
  ResolvedContext context;
  EngineInfo info;
  std::shared_ptr<const Tokenizer> tokenizer;     // the text encoder's, read once
  std::shared_ptr<const Tokenizer> lm_tokenizer;  // the LM's, once read
  std::string lm_tokenizer_model;
  std::optional<MemoryPlanner> planner;
  std::string planner_key;
  std::optional<Generator> generator;
  std::string generator_key;

  ops::OpContext op_context() const {
    return ops::OpContext{*context.runtime.device, *context.runtime.pool};
  }

  Expected<const MemoryPlanner*> planner_for(GeneratorOptions options) {
    const std::string key = options_key(options);
    if (!planner || planner_key != key) {
      planner.reset();
      options.tokenizer = tokenizer;
      if (options.lm_model == lm_tokenizer_model) options.lm_tokenizer = lm_tokenizer;
      ACEFIT_ASSIGN(MemoryPlanner created,
                    MemoryPlanner::create(options, *context.runtime.device, *context.runtime.pool));
      planner.emplace(std::move(created));
      planner_key = key;
      if (!tokenizer) tokenizer = planner->generator().tokenizer();
      if (planner->generator().lm_tokenizer()) {
        lm_tokenizer = planner->generator().lm_tokenizer();
        lm_tokenizer_model = options.lm_model;
      }
    }
    return &*planner;
  }

  // Settings, the pipeline request and the models of `song`; no plan yet.
  Expected<PreparedSong> resolve(SongRequest& song) {
    ACEFIT_TRY(check_song_request(song));
    std::map<std::string, std::string> values = config.settings;
    for (const auto& [name, value] : song.settings) {
      ACEFIT_TRY(check_setting_name(name));
      if (name == "device" &&
          (!config.settings.contains("device") || value != config.settings.at("device")))
        return Status(ErrorCode::invalid_argument,
                      "the device is the engine's (EngineConfig::settings[\"device\"]); a "
                      "request cannot change it");
      values[name] = value;
    }
    PreparedSong prepared;
    ACEFIT_ASSIGN(prepared.settings, resolve_settings_for(context, values, song.uses_lm()));
    const EffectiveSettings& settings = prepared.settings;
    if (song.uses_lm() && (!settings.init_lm.value || !settings.lm_model.value))
      return Status(ErrorCode::invalid_argument,
                    std::string(song.thinking ? "--thinking" : "--cot") +
                        " needs the 5 Hz LM, which is off: " +
                        (settings.init_lm.reason.empty() ? std::string("init_lm is false")
                                                         : settings.init_lm.reason) +
                        " (--init-llm true --force runs it anyway, on the host when it does not "
                        "fit the device)");
    ACEFIT_ASSIGN(prepared.request, generation_request(song, settings));
    std::string note;
    prepared.options = generator_options_for(song, settings, config.checkpoints, &note);
    prepared.warnings = settings.warnings;
    if (!note.empty()) add_once(prepared.warnings, note);
    prepared.asked_batch = prepared.request.batch;
    return prepared;
  }

  // The plan and the guard's decision for a resolved request.
  Status fit(PreparedSong& prepared) {
    Stopwatch watch;
    Device& device = *context.runtime.device;
    ACEFIT_ASSIGN(const MemoryPlanner* planning, planner_for(prepared.options));
    prepared.budget_bytes = device_budget_bytes(device);
    auto decision = fit_request(*planning, prepared.request, prepared.budget_bytes);
    // An LM forced onto a tier without LM models runs on the host when the
    // device cannot hold it with the rest.
    const EffectiveSettings& settings = prepared.settings;
    const bool lm_forced = !prepared.options.lm_model.empty() && settings.force.value &&
                           settings.tier_record != nullptr &&
                           settings.tier_record->lm_models.empty();
    if (lm_forced && !decision.ok() && decision.status().code() == ErrorCode::out_of_memory &&
        device.kind() != DeviceKind::cpu) {
      prepared.options.lm_on_host = true;
      ACEFIT_ASSIGN(planning, planner_for(prepared.options));
      decision = fit_request(*planning, prepared.request, prepared.budget_bytes);
      if (decision.ok())
        decision->warnings.push_back("the forced LM does not fit " + device.name() +
                                     " with the rest of the run: it runs on the host");
    }
    if (!decision.ok()) {
      if (decision.status().code() != ErrorCode::out_of_memory) return decision.status();
      prepared.fits = false;
      prepared.refusal = decision.status().message();
      // What the request as asked would need (the chart of a refusal).
      auto plan = planning->plan(prepared.request, prepared.budget_bytes);
      if (plan.ok()) prepared.plan = std::move(*plan);
      prepared.plan_s = watch.elapsed_s();
      return Status();
    }
    prepared.fits = true;
    prepared.request = decision->request;
    prepared.request.budget_bytes = prepared.budget_bytes;
    prepared.plan = std::move(decision->plan);
    for (const auto& w : decision->warnings) add_once(prepared.warnings, w);
    prepared.plan_s = watch.elapsed_s();
    return Status();
  }

  Expected<const Generator*> loaded(GeneratorOptions options, const ProgressFn& progress,
                                    double& load_s) {
    const std::string key = options_key(options);
    load_s = 0;
    if (generator && generator_key == key) return &*generator;
    generator.reset();  // its device memory comes back before the next load
    generator_key.clear();
    options.tokenizer = tokenizer;
    if (options.lm_model == lm_tokenizer_model) options.lm_tokenizer = lm_tokenizer;
    Stopwatch watch;
    ACEFIT_ASSIGN(Generator created, Generator::load(options, op_context(), progress));
    load_s = watch.elapsed_s();
    generator.emplace(std::move(created));
    generator_key = key;
    return &*generator;
  }
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

Expected<std::unique_ptr<Engine>> Engine::open(const EngineConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  ContextOptions options;
  options.environment = config.environment;
  options.dotenv_dir = config.dotenv_dir;
  if (const auto it = config.settings.find("device"); it != config.settings.end())
    options.device = it->second;
  options.tier_table_path = config.tier_table;
  options.derived = config.derived;
  options.tokenizer_dir = config.tokenizer_dir;
  ACEFIT_ASSIGN(impl->context, open_context(options));
  EngineInfo& info = impl->info;
  info.checkpoints = config.checkpoints;
  info.device = impl->context.runtime.device->name();
  ACEFIT_ASSIGN(info.defaults, resolve_settings_for(impl->context, config.settings, false));
  ACEFIT_ASSIGN(info.defaults_with_lm, resolve_settings_for(impl->context, config.settings, true));
  info.warnings = info.defaults.warnings;
  if (!config.checkpoints.empty()) {
    ACEFIT_ASSIGN(const CheckpointLayout layout, discover_checkpoints(config.checkpoints));
    if (layout.dits.empty())
      return Status(ErrorCode::not_found,
                    config.checkpoints + ": no DiT model folder (acestep-v15-*) in it");
    SongRequest none;
    const GeneratorOptions chosen =
        generator_options_for(none, info.defaults, config.checkpoints, nullptr);
    for (const DitFolder& dit : layout.dits) info.dit_models.push_back(dit.name);
    // The default first: the chosen folder, else acestep-v15-turbo, else a
    // turbo one, else the first by name (what Generator::load picks).
    std::string first = chosen.dit;
    if (first.empty()) {
      const auto named = [&](const std::string& n) {
        return std::find(info.dit_models.begin(), info.dit_models.end(), n) !=
               info.dit_models.end();
      };
      if (named("acestep-v15-turbo")) {
        first = "acestep-v15-turbo";
      } else {
        for (const auto& n : info.dit_models)
          if (first.empty() && n.find("turbo") != std::string::npos) first = n;
        if (first.empty()) first = info.dit_models.front();
      }
    }
    const auto it = std::find(info.dit_models.begin(), info.dit_models.end(), first);
    if (it != info.dit_models.end()) std::rotate(info.dit_models.begin(), it, it + 1);
    for (const LmFolder& lm : layout.lms) info.lm_models.push_back(lm.name);
  }
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

const EngineInfo& Engine::info() const {
  return impl_->info;
}

void Engine::unload() {
  impl_->generator.reset();
  impl_->generator_key.clear();
}

Expected<PreparedSong> Engine::prepare(const SongRequest& request) {
  SongRequest song = request;
  ACEFIT_ASSIGN(PreparedSong prepared, impl_->resolve(song));
  ACEFIT_TRY(impl_->fit(prepared));
  return prepared;
}

Status Engine::warm_up(const SongRequest& request, const RunCallbacks& callbacks) {
  SongRequest song = request;
  ACEFIT_ASSIGN(PreparedSong prepared, impl_->resolve(song));
  ACEFIT_TRY(impl_->fit(prepared));
  if (!prepared.fits) return Status(ErrorCode::out_of_memory, prepared.refusal);
  const ProgressFn progress = [&callbacks](std::string_view stage, std::int64_t done,
                                           std::int64_t total) {
    if (callbacks.progress) callbacks.progress(stage, done, total);
  };
  double load_s = 0;
  return impl_->loaded(prepared.options, progress, load_s).status();
}

Expected<SongResult> Engine::generate(const SongRequest& request, const OutputTarget& output,
                                      const RunCallbacks& callbacks) {
  Stopwatch wall;
  SongRequest song = request;
  ACEFIT_ASSIGN(PreparedSong prepared, impl_->resolve(song));
  ACEFIT_ASSIGN(const AudioFormat format, pick_format(output.format, output.path));
  // The destination before anything is planned or loaded (48 kHz output of
  // whole 1920-sample latent frames). Names follow the batch asked for.
  const auto frames = [&prepared] {
    return static_cast<std::uint64_t>(
               latent_frames_for_duration(prepared.request.duration_s, 1920, 48000)) *
           1920;
  };
  const EffectiveSettings& settings = prepared.settings;
  const bool numbered = output.numbered || prepared.request.batch > 1 ||
                        (settings.batch.requested && settings.batch.requested != std::string("1"));
  // A destination that cannot take the files is the caller's input.
  const auto destination = [&](int batch) -> Expected<OutputPlan> {
    auto planned =
        plan_outputs(output.path, batch, numbered, format, frames(), output.no_overwrite);
    if (!planned.ok()) return Status(ErrorCode::invalid_argument, planned.status().message());
    return planned;
  };
  ACEFIT_ASSIGN(OutputPlan outputs, destination(prepared.request.batch));
  const auto emit = [&callbacks](const std::string& w) {
    if (callbacks.warning) callbacks.warning(w);
  };
  ACEFIT_TRY(impl_->fit(prepared));
  if (!prepared.fits) return Status(ErrorCode::out_of_memory, prepared.refusal);
  for (const auto& w : prepared.warnings) emit(w);
  if (prepared.request.batch != prepared.asked_batch) {  // the guard shrank it: new names
    ACEFIT_ASSIGN(outputs, destination(prepared.request.batch));
  }
  const ProgressFn progress = [&callbacks](std::string_view stage, std::int64_t done,
                                           std::int64_t total) {
    if (callbacks.progress) callbacks.progress(stage, done, total);
  };
  if (callbacks.cancelled && callbacks.cancelled())
    return Status(ErrorCode::cancelled, "generate: cancelled");
  SongResult result;
  ACEFIT_ASSIGN(const Generator* generator,
                impl_->loaded(prepared.options, progress, result.load_s));
  GenerationRequest run_request = prepared.request;
  run_request.cancelled = callbacks.cancelled;
  ACEFIT_ASSIGN(result.run, generator->generate(run_request, progress));
  result.run.record.timings.load_s = result.load_s;
  result.offload = generator->offload();
  result.warnings = prepared.warnings;
  for (const auto& w : result.run.warnings) {
    add_once(result.warnings, w);
    emit(w);
  }
  if (callbacks.cancelled && callbacks.cancelled())
    return Status(ErrorCode::cancelled, "generate: cancelled");
  // Every item or none (docs/AUDIO.md).
  const models::HostAudio& audio = result.run.audio;
  const int items = static_cast<int>(audio.batch);
  if (callbacks.progress) callbacks.progress("write", 0, items);
  const OutputReport written = write_outputs(
      outputs, items, [&audio](int b) { return item_buffer(audio, b); }, nullptr,
      callbacks.before_commit);
  result.outputs = written.written;
  if (callbacks.written) callbacks.written(written.written);
  if (!written.status.ok()) return written.status;
  if (callbacks.progress) callbacks.progress("write", items, items);
  result.format = audio_format_name(format);
  result.prepared = std::move(prepared);
  result.wall_s = wall.elapsed_s();
  return result;
}

}  // namespace acefit
