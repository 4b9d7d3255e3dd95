// acefit profile: upstream's profile_inference.py (gpu-adaptation.md 12)
// with two engines. tier-test runs each simulated memory size's settings
// (and the boundary and batch-boundary variants) planned, measured on a
// capped device, or both side by side; derive computes limits and a tier
// table from plans for any memory size; profile and benchmark time real
// runs. Docs: docs/PROFILING.md.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "commands.h"
#include "core/timer.h"
#include "device/device_selection.h"
#include "device/sim/sim_device.h"
#include "io/checkpoint/checkpoint_layout.h"
#include "io/checkpoint/checkpoint_synth.h"
#include "io/file/atomic_file.h"
#include "io/text/dotenv.h"
#include "profile/derive.h"
#include "profile/tier_engines.h"
#include "profile/tier_report.h"
#include "profile/tier_test.h"
#include "request_cli.h"
#include "runtime.h"

namespace acefit::cli {

namespace {

using profile::TierEngine;

struct ProfileArgs {
  std::string mode = "profile";
  std::string engine;  // empty: both where a run is affordable, else planned
  std::string checkpoints;
  std::string preset;
  std::optional<std::string> device;
  std::optional<std::string> lm_backend;
  std::optional<std::string> config_path;
  std::optional<std::string> lm_model;
  bool offload_to_cpu = false;
  bool offload_dit_to_cpu = false;
  std::string quantization = "none";
  std::optional<int> duration;
  std::optional<int> batch_size;
  std::optional<int> inference_steps;
  std::uint64_t seed = 42;
  bool thinking = false;
  bool no_warmup = false;
  std::vector<double> tiers{4, 6, 8, 12, 16, 20, 24};
  bool tier_with_lm = false;
  int tier_duration = 30;
  bool tier_skip_compile = false;
  bool tier_boundary = false;
  bool tier_batch_boundary = false;
  std::string benchmark_output;
  std::optional<std::string> tier_table;
  std::string memory_gib = "4,6,8,12,16,20,24,32,48";
  bool with_lm = false;
  std::string output;
};

int profile_fail(const std::string& message, int code = kExitBadInput) {
  return report_error("profile", message, code);
}

// "2..96" (every whole GiB), "4,8,12.5", or one size.
Expected<std::vector<double>> parse_memory_sizes(const std::string& text) {
  std::vector<double> sizes;
  const auto bad = [&](const std::string& why) {
    return Status(ErrorCode::invalid_argument, "--memory-gib '" + text + "': " + why);
  };
  if (const auto dots = text.find(".."); dots != std::string::npos) {
    const auto low = parse_finite(text.substr(0, dots), 1, 1024);
    const auto high = parse_finite(text.substr(dots + 2), 1, 1024);
    if (!low || !high || *low > *high || *low != std::floor(*low) || *high != std::floor(*high))
      return bad("expected A..B with whole GiB 1 <= A <= B <= 1024");
    if (*high - *low > 256) return bad("at most 257 sizes");
    for (double g = *low; g <= *high; g += 1) sizes.push_back(g);
    return sizes;
  }
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const auto value = parse_finite(text.substr(start, comma - start), 1, 1024);
    if (!value) return bad("each size must be a number of GiB from 1 to 1024");
    sizes.push_back(*value);
    start = comma + 1;
  }
  if (sizes.size() > 257) return bad("at most 257 sizes");
  return sizes;
}

// The four .env keys the profiler reads (12.2), the environment winning.
std::optional<std::string> env_key(const DotEnv& dotenv, std::string_view key) {
  if (auto value = process_environment()(key)) return value;
  return dotenv.get(key);
}

struct ProfileSetup {
  Runtime runtime;
  TierTable table;
  profile::TierEngineOptions engine;
  std::vector<std::string> lm_folders;
  bool full_dims = false;
};

Expected<ProfileSetup> set_up(const ProfileArgs& args, TierEngine engine) {
  ProfileSetup setup;
  ACEFIT_ASSIGN(const DotEnv dotenv, load_dotenv("."));
  std::optional<std::string> device = args.device;
  if (!device) device = env_key(dotenv, "ACESTEP_DEVICE");
  ACEFIT_ASSIGN(setup.runtime, open_runtime(device));
  if (args.tier_table) {
    ACEFIT_ASSIGN(setup.table, tier_table_by_name_or_path(*args.tier_table));
  } else {
    ACEFIT_ASSIGN(setup.table, default_tier_table());
  }
  GeneratorOptions& base = setup.engine.base;
  if (!args.preset.empty()) {
    base.preset = parse_synthetic_preset(args.preset);
    base.tokenizer_dir = default_tokenizer_dir();
    for (const std::string_view size : kLmSizes) setup.lm_folders.push_back(lm_model_name(size));
    setup.full_dims = args.preset == "full" || args.preset == "xl-full";
  } else {
    base.checkpoints = args.checkpoints;
    ACEFIT_ASSIGN(const CheckpointLayout layout, discover_checkpoints(args.checkpoints));
    for (const LmFolder& lm : layout.lms) setup.lm_folders.push_back(lm.name);
  }
  if (auto config = args.config_path ? args.config_path : env_key(dotenv, "ACESTEP_CONFIG_PATH"))
    base.dit = *config;
  TokenizerPreload tokenizer(args.checkpoints, args.preset.empty() ? "" : default_tokenizer_dir());
  base.tokenizer = tokenizer.take();
  if (base.preset) base.lm_tokenizer = base.tokenizer;
  setup.engine.example = profile::profiler_example_request();
  setup.engine.device = setup.runtime.device;
  // A simulated size needs a device with its own memory: on the host the
  // weights would never wait anywhere (offload means nothing there).
  if (setup.runtime.device->kind() == DeviceKind::cpu)
    setup.engine.device = make_sim_device(std::uint64_t{8} << 30);
  setup.engine.pool = setup.runtime.pool.get();
  setup.engine.engine = engine;
  return setup;
}

// Whether the DiT at hand has the shipped dims (a measured run of those on
// a CPU-backed device takes hours).
bool checkpoint_full_dims(const ProfileSetup& setup) {
  if (setup.full_dims) return true;
  auto planner =
      MemoryPlanner::create(setup.engine.base, *setup.runtime.device, *setup.runtime.pool);
  return planner.ok() && planner->generator().dit_config().hidden_size >= 1024;
}

Expected<TierEngine> choose_engine(const ProfileArgs& args) {
  if (args.engine == "planned") return TierEngine::planned;
  if (args.engine == "measured" || args.engine == "both") {
    if (!args.preset.empty())
      return Status(ErrorCode::invalid_argument,
                    "--engine " + args.engine + " runs the model: it needs --checkpoints DIR (a " +
                        "preset has shapes, no weights); use --engine planned with --preset");
    return args.engine == "measured" ? TierEngine::measured : TierEngine::both;
  }
  if (!args.engine.empty())
    return Status(ErrorCode::invalid_argument,
                  "--engine must be planned, measured or both, got " + args.engine);
  return args.preset.empty() ? TierEngine::both : TierEngine::planned;
}

Status write_output(const std::string& path, const std::string& text) {
  const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(text.data()),
                                            text.size());
  AtomicWriteOptions options;
  options.replace_existing = true;
  return write_file_atomic(path, bytes, options);
}

std::string eta_text(double seconds) {
  char text[32];
  if (seconds < 90) {
    std::snprintf(text, sizeof text, "%.0f s", seconds);
  } else {
    std::snprintf(text, sizeof text, "%.1f min", seconds / 60);
  }
  return text;
}

int run_tier_test_mode(const ProfileArgs& args, TierEngine engine) {
  auto setup = set_up(args, engine);
  if (!setup.ok()) return profile_fail(setup.status().to_string(), exit_code_for(setup.status()));
  for (const auto& w : setup->runtime.warnings) report_warning("profile", w);
  const bool unaffordable = engine != TierEngine::planned &&
                            setup->runtime.device->kind() != DeviceKind::cuda &&
                            checkpoint_full_dims(*setup);
  if (unaffordable && args.engine.empty()) {
    // The default is both only where a run is affordable.
    report_warning("profile", "the shipped dims on " + setup->runtime.device->name() +
                                  " (a CPU-backed device): measured runs take hours a "
                                  "configuration, so the engine is planned");
    engine = TierEngine::planned;
    setup->engine.engine = engine;
  } else if (unaffordable) {
    return profile_fail(
        "measured runs at the shipped dims on " + setup->runtime.device->name() +
        " (a CPU-backed device) take hours per configuration: use --engine planned (milliseconds "
        "a run), or tiny checkpoints (acefit make-demo-checkpoints DIR) for measured runs");
  }
  if (args.tier_skip_compile)
    report_warning("profile", "--tier-skip-compile: acefit compiles nothing at run time");
  profile::TierTestOptions options;
  options.tiers_gb = args.tiers;
  options.with_lm = args.tier_with_lm;
  options.tier_duration_s = args.tier_duration;
  options.boundary = args.tier_boundary;
  options.batch_boundary = args.tier_batch_boundary;
  options.inference_steps = args.inference_steps.value_or(8);
  options.seed = args.seed;
  options.lm_folders = setup->lm_folders;
  std::fprintf(stderr, "profile: tier-test, engine %s, %s, device %s\n",
               std::string(profile::tier_engine_name(engine)).c_str(),
               args.preset.empty() ? args.checkpoints.c_str() : ("preset " + args.preset).c_str(),
               setup->runtime.device->name().c_str());
  Stopwatch watch;
  const auto runner = [&](const profile::TierRunConfig& config) {
    return profile::run_tier_config(config, setup->engine);
  };
  const auto progress = [&](std::size_t index, std::size_t left,
                            const profile::TierRunConfig& config) {
    const double elapsed = watch.elapsed_s();
    std::string eta;
    if (index > 0) eta = ", ETA " + eta_text(elapsed / static_cast<double>(index) * left);
    std::fprintf(stderr, "[%zu/%zu] %s %s batch %d, %d s%s%s\n", index + 1, index + left,
                 config.tier.c_str(), config.variant.c_str(), config.batch_size, config.duration_s,
                 config.use_lm ? ", LM" : "", eta.c_str());
  };
  const auto header = [](const std::string& text) { std::printf("\n%s", text.c_str()); };
  const profile::TierTestResult result =
      profile::run_tier_test(options, setup->table, runner, progress, header);
  for (const auto& s : result.skipped) std::printf("skipped: %s\n", s.c_str());
  std::printf("\n%s", profile::tier_summary_table(result.records).c_str());
  if (args.tier_boundary)
    std::printf("\n%s", profile::boundary_analysis(result.records, setup->table).c_str());
  if (args.tier_batch_boundary)
    std::printf("\n%s", profile::batch_boundary_analysis(result.records, setup->table).c_str());
  std::printf("\n%zu runs in %.2f s (engine %s)\n", result.records.size(), watch.elapsed_s(),
              std::string(profile::tier_engine_name(engine)).c_str());
  if (!args.benchmark_output.empty()) {
    const Status status =
        write_output(args.benchmark_output, profile::tier_runs_json(result.records).dump(2) + "\n");
    if (!status.ok()) return profile_fail(status.to_string(), 1);
    std::printf("run records: %s\n", args.benchmark_output.c_str());
  }
  return 0;
}

std::string fit_name(const profile::DerivedLimits& l) {
  return l.fits ? l.config.name() : "nothing fits";
}

int run_derive_mode(const ProfileArgs& args) {
  auto sizes = parse_memory_sizes(args.memory_gib);
  if (!sizes.ok()) return profile_fail(sizes.status().message());
  if (!args.engine.empty() && args.engine != "planned")
    return profile_fail("--mode derive plans only: --engine must be planned");
  auto setup = set_up(args, TierEngine::planned);
  if (!setup.ok()) return profile_fail(setup.status().to_string(), exit_code_for(setup.status()));
  Stopwatch watch;
  profile::DeriveOptions options;
  options.base = setup->engine.base;
  options.like = setup->engine.device;
  options.pool = setup->runtime.pool.get();
  options.reference_duration_s = args.duration.value_or(60);
  if (args.with_lm) options.lm_folders = setup->lm_folders;
  auto deriver = profile::Deriver::create(options);
  if (!deriver.ok()) return profile_fail(deriver.status().to_string(), 1);
  std::fprintf(stderr, "profile: derive: the smallest budget of %zu configurations\n",
               options.ladder.size());
  auto thresholds = deriver->thresholds();
  if (!thresholds.ok()) return profile_fail(thresholds.status().to_string(), 1);
  std::printf("DERIVED LIMITS (%s; reference song %d s at batch 1%s; batches at 30 s)\n",
              args.preset.empty() ? args.checkpoints.c_str() : ("preset " + args.preset).c_str(),
              options.reference_duration_s,
              args.with_lm ? ("; an LM counts when it fits " +
                              std::to_string(options.lm_reference_duration_s) + " s")
                                 .c_str()
                           : "");
  std::printf("\nSmallest budget each configuration fits (no LM):\n");
  std::printf("  %-28s %10s %10s\n", "configuration", "budget", "card");
  for (const auto& t : *thresholds) {
    if (t.min_budget_bytes) {
      const double gib = static_cast<double>(*t.min_budget_bytes) / (1ull << 30);
      std::printf("  %-28s %8.2f GiB %6.1f GB\n", t.config.name().c_str(), gib,
                  gib + profile::kContextReserveGib);
    } else {
      std::printf("  %-28s %10s\n", t.config.name().c_str(), "> 96 GiB");
    }
  }
  std::printf("\nLimits by memory size (budget = size - 0.5 GiB):\n");
  std::printf("  %-6s %-26s %8s %6s %-16s %8s %6s  %s\n", "VRAM", "settings", "dur(s)", "batch",
              "LM (backend)", "dur LM", "b LM", "vs the tier table");
  for (std::size_t i = 0; i < sizes->size(); ++i) {
    const double gb = (*sizes)[i];
    std::fprintf(stderr, "profile: derive: [%zu/%zu] %s GB\n", i + 1, sizes->size(),
                 gib_text(gb).c_str());
    auto limits = deriver->limits(profile::tier_budget_bytes(gb));
    if (!limits.ok()) return profile_fail(limits.status().to_string(), 1);
    const TierRecord& tier = setup->table.tier_for_memory(gb);
    std::string lm = "-";
    if (limits->lm)
      lm = lm_size_of(*limits->lm).value_or(*limits->lm) + " (" + limits->lm_backend + ")";
    const auto differences = profile::compare_with_tier(*limits, tier);
    std::string versus = tier.name + ": ";
    if (differences.empty()) versus += "agrees";
    for (std::size_t k = 0; k < differences.size(); ++k) versus += (k ? "; " : "") + differences[k];
    std::printf(
        "  %-6s %-26s %8d %6d %-16s %8s %6s  %s\n", (gib_text(gb) + "GB").c_str(),
        fit_name(*limits).c_str(), limits->max_duration_without_lm_s, limits->max_batch_without_lm,
        lm.c_str(), limits->lm ? std::to_string(limits->max_duration_with_lm_s).c_str() : "-",
        limits->lm ? std::to_string(limits->max_batch_with_lm).c_str() : "-", versus.c_str());
  }
  std::fprintf(stderr, "profile: derive: the tier table (boundaries, then limits at each)\n");
  auto table = deriver->tier_table();
  if (!table.ok()) return profile_fail(table.status().to_string(), 1);
  std::printf("\nDerived tier table (boundaries where settings or LMs change):\n");
  std::printf("  %-9s %8s %-26s %-12s %-8s %6s %6s %6s %6s\n", "tier", "from", "settings", "LMs",
              "backend", "dur", "durLM", "batch", "bLM");
  for (const TierRecord& t : table->tiers) {
    std::string lms;
    for (const auto& s : t.lm_models) lms += (lms.empty() ? "" : ",") + s;
    std::printf(
        "  %-9s %6.1fGB %-26s %-12s %-8s %6d %6d %6d %6d\n", t.name.c_str(), t.min_memory_gib,
        ("offload " + std::string(offload_mode_name(t.offload)) +
         (t.quantization_int8 ? ", INT8" : ", no INT8"))
            .c_str(),
        lms.empty() ? "-" : lms.c_str(), t.recommended_backend.c_str(), t.max_duration_without_lm_s,
        t.max_duration_with_lm_s, t.max_batch_without_lm, t.max_batch_with_lm);
  }
  const std::string json = profile::tier_table_json(
      *table, "Derived by acefit profile --mode derive from memory plans (" +
                  (args.preset.empty() ? args.checkpoints : "preset " + args.preset) +
                  ", reference song " + std::to_string(options.reference_duration_s) +
                  " s). min_memory_gib: card size = budget + 0.5 GiB.");
  // What is written is what --tier-table will read.
  auto reread = parse_tier_table(json, "derived tier table");
  if (!reread.ok())
    return profile_fail("the derived table does not parse: " + reread.status().message(), 1);
  if (!args.output.empty()) {
    const Status status = write_output(args.output, json);
    if (!status.ok()) return profile_fail(status.to_string(), 1);
    std::printf("tier table: %s (use it with --tier-table %s)\n", args.output.c_str(),
                args.output.c_str());
  } else {
    std::printf("(--output FILE writes this table for --tier-table)\n");
  }
  std::printf("derived in %.2f s\n", watch.elapsed_s());
  return 0;
}

// One measured configuration for profile and benchmark: the flags, else
// the tier of the device's memory.
Expected<profile::TierRunConfig> flag_config(const ProfileArgs& args, const ProfileSetup& setup,
                                             int duration, int batch, bool thinking, int steps) {
  const DeviceMemory memory = setup.runtime.device->memory();
  const double gb =
      static_cast<double>(setup.runtime.device->budget().cap_bytes()) / (1ull << 30) + 0.5;
  const TierRecord& tier =
      setup.table.tier_for_memory(static_cast<double>(memory.total_bytes) / (1ull << 30));
  profile::TierTestOptions options;
  options.lm_folders = setup.lm_folders;
  options.tier_duration_s = duration;
  options.inference_steps = steps;
  options.seed = args.seed;
  profile::TierRunConfig config =
      profile::tier_run_config(gb, tier, options, "profile", thinking, batch);
  config.duration_s = duration;
  config.offload = args.offload_dit_to_cpu
                       ? OffloadMode::cpu_dit
                       : (args.offload_to_cpu ? OffloadMode::cpu : OffloadMode::none);
  config.quantization = args.quantization == "int8_weight_only";
  if (thinking) {
    std::optional<std::string> lm = args.lm_model;
    if (!lm) lm = profile::tier_lm_folder(tier, setup.lm_folders);
    if (!lm && !setup.lm_folders.empty()) lm = setup.lm_folders.back();
    if (!lm) return Status(ErrorCode::not_found, "--thinking needs an acestep-5Hz-lm-* folder");
    config.use_lm = true;
    config.lm_model = lm;
  }
  if (args.lm_backend) config.lm_backend = *args.lm_backend;
  return config;
}

int run_timed_mode(const ProfileArgs& args) {
  if (!args.engine.empty() && args.engine != "measured")
    return profile_fail("--mode " + args.mode + " times real runs: --engine must be measured");
  if (!args.preset.empty())
    return profile_fail("--mode " + args.mode + " runs the model: give --checkpoints DIR");
  auto setup = set_up(args, TierEngine::measured);
  if (!setup.ok()) return profile_fail(setup.status().to_string(), exit_code_for(setup.status()));
  for (const auto& w : setup->runtime.warnings) report_warning("profile", w);
  if (setup->runtime.device->kind() != DeviceKind::cuda && checkpoint_full_dims(*setup))
    report_warning("profile",
                   "the shipped dims on a CPU-backed device: each run takes a long "
                   "time (tiny checkpoints: acefit make-demo-checkpoints DIR)");
  const int steps = args.inference_steps.value_or(8);
  if (args.mode == "profile") {
    const int duration = args.duration.value_or(30);
    if (!args.no_warmup) {
      auto warm = flag_config(args, *setup, std::min(duration, 30), 1, args.thinking, steps);
      if (!warm.ok()) return profile_fail(warm.status().message());
      std::fprintf(stderr, "profile: warmup run\n");
      (void)profile::run_tier_config(*warm, setup->engine);
    }
    auto config =
        flag_config(args, *setup, duration, args.batch_size.value_or(1), args.thinking, steps);
    if (!config.ok()) return profile_fail(config.status().message());
    const profile::TierRunRecord r = profile::run_tier_config(*config, setup->engine);
    if (!profile::passed(r)) return profile_fail("the run failed: " + r.error.value_or(""), 1);
    const double lm = r.lm_time.value_or(0), dit = r.dit_time.value_or(0),
                 vae = r.vae_time.value_or(0);
    const double wall = r.wall_time;
    const double other = std::max(0.0, wall - lm - dit - vae);
    const auto share = [&](double s) { return wall > 0 ? 100.0 * s / wall : 0.0; };
    std::printf("PROFILE: %d s, batch %d, %d steps, LM %s, device %s\n", config->duration_s,
                config->batch_size, steps, config->use_lm ? config->lm_model->c_str() : "off",
                setup->runtime.device->name().c_str());
    std::printf("  %-26s %9.3f s %5.1f%%\n", "LLM planning", lm, share(lm));
    std::printf("  %-26s %9.3f s %5.1f%% (%.3f s a step)\n", "DiT (encoders + diffusion)", dit,
                share(dit), steps > 0 ? dit / steps : 0.0);
    std::printf("  %-26s %9.3f s %5.1f%%\n", "VAE decode", vae, share(vae));
    std::printf("  %-26s %9.3f s %5.1f%%\n", "other", other, share(other));
    std::printf("  %-26s %9.3f s\n", "wall total", wall);
    std::printf("  peak device memory %.3f GiB\n", r.peak_vram_gb);
    if (lm > 2 * dit) {
      std::printf(
          "Insight: LLM is the bottleneck (try the pt/vllm backends, a lower LM CFG scale)\n");
    } else if (dit > 2 * lm) {
      std::printf(
          "Insight: DiT is the bottleneck (try 4-8 turbo steps, a shorter duration, INT8)\n");
    } else {
      std::printf("Insight: Balanced\n");
    }
    return 0;
  }
  // benchmark: durations x batches x thinking x steps within the tier's limits.
  const TierRecord& tier = setup->table.tier_for_memory(
      static_cast<double>(setup->runtime.device->memory().total_bytes) / (1ull << 30));
  std::vector<int> durations, batches, step_list;
  for (int d : {30, 60, 120, 240})
    if (d <= tier.max_duration_without_lm_s) durations.push_back(d);
  for (int b : {1, 2, 4})
    if (b <= tier.max_batch_without_lm) batches.push_back(b);
  if (durations.empty()) durations = {30};
  if (batches.empty()) batches = {1};
  if (args.duration) durations = {*args.duration};
  if (args.batch_size) batches = {*args.batch_size};
  step_list =
      args.inference_steps ? std::vector<int>{*args.inference_steps} : std::vector<int>{8, 16};
  std::vector<bool> thinking_list{false};
  if (!setup->lm_folders.empty() || args.thinking) thinking_list.push_back(true);
  if (!args.no_warmup) {
    auto warm = flag_config(args, *setup, 30, 1, false, steps);
    if (warm.ok()) (void)profile::run_tier_config(*warm, setup->engine);
  }
  nlohmann::json out = nlohmann::json::array();
  std::printf("BENCHMARK\n  %8s %5s %5s %5s %8s %7s %7s %7s  %s\n", "Duration", "Batch", "Think",
              "Steps", "Wall(s)", "LM(s)", "DiT(s)", "VAE(s)", "Status");
  for (const int d : durations) {
    for (const int b : batches) {
      for (const bool think : thinking_list) {
        for (const int s : step_list) {
          auto config = flag_config(args, *setup, d, b, think, s);
          if (!config.ok()) return profile_fail(config.status().message());
          const profile::TierRunRecord r = profile::run_tier_config(*config, setup->engine);
          const bool ok = profile::passed(r);
          std::printf("  %8d %5d %5s %5d %8.2f %7.2f %7.2f %7.2f  %s\n", d, b, think ? "Y" : "N", s,
                      r.wall_time, r.lm_time.value_or(0), r.dit_time.value_or(0),
                      r.vae_time.value_or(0),
                      ok ? "OK" : r.error.value_or("").substr(0, 40).c_str());
          out.push_back(
              {{"config",
                {{"duration", d}, {"batch_size", b}, {"thinking", think}, {"inference_steps", s}}},
               {"wall_time", r.wall_time},
               {"success", ok},
               {"error", r.error ? nlohmann::json(*r.error) : nlohmann::json()},
               {"lm_time", r.lm_time.value_or(0)},
               {"dit_time", r.dit_time.value_or(0)},
               {"vae_time", r.vae_time.value_or(0)},
               {"n_audios", ok ? b : 0}});
        }
      }
    }
  }
  if (!args.benchmark_output.empty()) {
    const Status status = write_output(args.benchmark_output, out.dump(2) + "\n");
    if (!status.ok()) return profile_fail(status.to_string(), 1);
  }
  return 0;
}

int run_profile(const ProfileArgs& args) {
  if (args.mode == "understand" || args.mode == "create_sample" || args.mode == "format_sample")
    return profile_fail("--mode " + args.mode +
                        " times the LM's understand/inspire/format tasks, which acefit does not "
                        "have yet (docs/LM.md)");
  if (args.mode != "profile" && args.mode != "benchmark" && args.mode != "tier-test" &&
      args.mode != "derive")
    return profile_fail("--mode must be profile, benchmark, tier-test or derive, got " + args.mode);
  if (args.checkpoints.empty() == args.preset.empty())
    return profile_fail(
        "give exactly one of --checkpoints DIR and --preset full|xl-full|tiny|xl-tiny");
  if (!args.preset.empty() && !parse_synthetic_preset(args.preset))
    return profile_fail("--preset must be full, tiny, xl-full or xl-tiny, got " + args.preset);
  if (args.quantization != "none" && args.quantization != "int8_weight_only")
    return profile_fail(
        "--quantization must be none or int8_weight_only (fp8_weight_only and "
        "w8a8_dynamic are not built), got " +
        args.quantization);
  if (args.lm_backend && !parse_lm_backend(*args.lm_backend))
    return profile_fail("--lm-backend must be vllm, pt or mlx, got " + *args.lm_backend);
  for (const double t : args.tiers) {
    if (!(t >= 1 && t <= 1024)) return profile_fail("--tiers: each size must be 1 to 1024 GiB");
  }
  if (args.mode == "derive") return run_derive_mode(args);
  auto engine = choose_engine(args);
  if (!engine.ok()) return profile_fail(engine.status().message());
  if (args.mode == "tier-test") return run_tier_test_mode(args, *engine);
  return run_timed_mode(args);
}

}  // namespace

void add_profile_command(CLI::App& app, int& exit_code) {
  auto* command =
      app.add_subcommand("profile",
                         "Profile runs and find the limits: tier-test (planned, measured or both), "
                         "derive (limits and a tier table from plans), profile, benchmark");
  auto args = std::make_shared<ProfileArgs>();
  keep_text(command->add_option("--mode", args->mode,
                                "profile | benchmark | tier-test | derive [default: profile]"));
  keep_text(command->add_option(
      "--engine", args->engine,
      "tier-test: planned (memory plans, any size, milliseconds), measured (runs on the device "
      "capped at each size) or both [default: both with --checkpoints, planned with --preset]"));
  keep_text(command->add_option("--checkpoints", args->checkpoints, "The checkpoints/ folder"));
  keep_text(command->add_option("--preset", args->preset,
                                "Plan without a checkpoint: full (the shipped 2B dims), xl-full, "
                                "tiny or xl-tiny (planned and derive only)"));
  keep_text(command->add_option("--device", args->device,
                                "auto, cpu, sim, vulkan[:N], cuda[:N] [env: ACESTEP_DEVICE]"));
  keep_text(command->add_option("--lm-backend", args->lm_backend, "vllm, pt or mlx"));
  keep_text(command->add_option("--config-path", args->config_path,
                                "The DiT folder [env: ACESTEP_CONFIG_PATH]"));
  keep_text(command->add_option("--lm-model", args->lm_model,
                                "The LM folder (profile, benchmark) [env: ACESTEP_LM_MODEL_PATH]"));
  command->add_flag("--offload-to-cpu", args->offload_to_cpu,
                    "profile/benchmark: text encoder and VAE wait on the host");
  command->add_flag("--offload-dit-to-cpu", args->offload_dit_to_cpu,
                    "profile/benchmark: the DiT waits on the host too");
  keep_text(command->add_option("--quantization", args->quantization,
                                "profile/benchmark: none or int8_weight_only [default: none]"));
  command
      ->add_option("--duration", args->duration,
                   "Seconds (profile, benchmark: one value; derive: the reference song, "
                   "default 60)")
      ->check(CLI::Range(10, 600));
  command->add_option("--batch-size", args->batch_size, "Batch (profile, benchmark)")
      ->check(CLI::Range(1, 64));
  command->add_option("--inference-steps", args->inference_steps, "Diffusion steps [default: 8]")
      ->check(CLI::Range(1, 200));
  command->add_option("--seed", args->seed, "Seed [default: 42]");
  command->add_flag("--thinking", args->thinking, "profile/benchmark: run the 5 Hz LM");
  command->add_flag("--no-warmup", args->no_warmup, "profile/benchmark: skip the warmup run");
  command
      ->add_option("--tiers", args->tiers,
                   "tier-test: simulated sizes in GiB [default: 4 6 8 12 16 20 24]")
      ->expected(1, 64);
  command->add_flag("--tier-with-lm", args->tier_with_lm,
                    "tier-test: the LM on tiers that have one");
  command
      ->add_option("--tier-duration", args->tier_duration, "tier-test: seconds a run [default: 30]")
      ->check(CLI::Range(10, 600));
  command->add_flag("--tier-skip-compile", args->tier_skip_compile,
                    "Accepted for compatibility (acefit compiles nothing at run time)");
  command->add_flag("--tier-boundary", args->tier_boundary,
                    "tier-test: add the no-quant and no-offload variants");
  command->add_flag("--tier-batch-boundary", args->tier_batch_boundary,
                    "tier-test: batches 1, 2, 4, 8 without and with the LM");
  keep_text(command->add_option("--benchmark-output", args->benchmark_output,
                                "Write the run records (JSON) here"));
  keep_text(command->add_option("--tier-table", args->tier_table,
                                "The tier table compared against: guide, upstream or a file"));
  keep_text(command->add_option("--memory-gib", args->memory_gib,
                                "derive: sizes, A..B or a,b,c [default: 4,6,8,12,16,20,24,32,48]"));
  command->add_flag("--with-lm", args->with_lm, "derive: which LMs fit, and the limits with one");
  keep_text(command->add_option("--output", args->output,
                                "derive: write the derived tier table (--tier-table format)"));
  command->callback([args, &exit_code] { exit_code = run_profile(*args); });
}

}  // namespace acefit::cli
