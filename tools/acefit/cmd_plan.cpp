// acefit plan: the memory plan of one generation before anything runs. The
// real generation code runs on a planning device (allocations reserved, no
// kernels, no memory touched) and reports, per stage and per kind of memory,
// the device and host bytes at the stage's peak; then the run's peak against
// the device budget, what the VRAM guard would do, and the longest duration
// and largest batch that fit with the current settings.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "commands.h"
#include "core/timer.h"
#include "pipeline/memory_plan.h"
#include "request_cli.h"
#include "settings_cli.h"

namespace acefit::cli {

namespace {

constexpr int kBatchSearchLimit = 16;
constexpr int kLongestDurationS = 600;

struct PlanArgs {
  SettingFlags settings;
  RequestArgs request;
  std::string checkpoints;
  std::string preset;
  bool json = false;
};

int plan_fail(const std::string& message, int code = kExitBadInput) {
  return report_error("plan", message, code);
}

double gib(std::uint64_t bytes) {
  return static_cast<double>(bytes) / (1ull << 30);
}

nlohmann::json tags_json(const std::array<std::uint64_t, kMemoryTagCount>& by_tag) {
  nlohmann::json out = nlohmann::json::object();
  for (const MemoryTag tag : kAllMemoryTags)
    out[std::string(memory_tag_name(tag))] = by_tag[static_cast<std::size_t>(tag)];
  return out;
}

int run_plan(const PlanArgs& given) {
  Stopwatch watch;
  PlanArgs args = given;
  if (const Status status = prepare_request_args(args.request, false); !status.ok())
    return plan_fail(status.message());
  if (args.checkpoints.empty() == args.preset.empty())
    return plan_fail(
        "give exactly one of --checkpoints DIR and --preset full|tiny|xl-full|xl-tiny");
  const std::optional<SyntheticPreset> preset = parse_synthetic_preset(args.preset);
  if (!args.preset.empty() && !preset)
    return plan_fail("--preset must be full, tiny, xl-full or xl-tiny, got " + args.preset);
  TokenizerPreload tokenizer(args.checkpoints, args.preset.empty() ? "" : default_tokenizer_dir());
  args.settings.lm_in_pipeline = args.request.uses_lm();
  auto context = resolve_from_process(args.settings);
  if (!context.ok()) return plan_fail(context.status().message());
  const EffectiveSettings& settings = context->settings;
  if (args.request.uses_lm() && (!settings.init_lm.value || !settings.lm_model.value))
    return plan_fail(std::string(args.request.thinking ? "--thinking" : "--cot") +
                     " needs the 5 Hz LM, which is off: " +
                     (settings.init_lm.reason.empty() ? std::string("init_lm is false")
                                                      : settings.init_lm.reason));
  std::vector<std::string> warnings = settings.warnings;
  RequestArgs request_args = args.request;
  if (request_args.caption.empty()) request_args.caption = "music";
  auto request = build_request(request_args, settings);
  if (!request.ok()) return plan_fail(request.status().message());
  std::string lm_note;
  GeneratorOptions options = generator_options(request_args, settings, args.checkpoints, &lm_note);
  if (!lm_note.empty()) warnings.push_back(lm_note);
  if (!args.preset.empty()) {
    options.preset = preset;
    options.tokenizer_dir = default_tokenizer_dir();
  }
  options.tokenizer = tokenizer.take();
  Device& device = *context->runtime.device;
  auto planner = MemoryPlanner::create(options, device, *context->runtime.pool);
  if (!planner.ok())
    return plan_fail(planner.status().to_string(), exit_code_for(planner.status()));
  const std::uint64_t budget = device_budget_bytes(device);
  Stopwatch plan_watch;
  auto plan = planner->plan(*request, budget);
  if (!plan.ok()) return plan_fail(plan.status().to_string(), 1);
  const double plan_s = planner->load_s() + plan_watch.elapsed_s();
  for (const auto& w : plan->warnings) warnings.push_back(w);
  auto max_batch = max_fitting_batch(*planner, *request, budget, kBatchSearchLimit);
  if (!max_batch.ok()) return plan_fail(max_batch.status().to_string(), 1);
  auto max_duration = max_fitting_duration_s(*planner, *request, budget, kLongestDurationS);
  if (!max_duration.ok()) return plan_fail(max_duration.status().to_string(), 1);
  auto guard = fit_request(*planner, *request, budget);
  // The LM stage for each LM size and backend at the shipped dims.
  struct LmRow {
    std::string size, backend;
    LmStageEstimate estimate;
  };
  std::vector<LmRow> lm_rows;
  if (request->lm.active()) {
    const Tokenizer* lm_tokenizer = planner->generator().lm_tokenizer().get();
    for (const char* size : {"0.6B", "1.7B", "4B"}) {
      for (const LmBackend backend : {LmBackend::vllm, LmBackend::pt}) {
        auto estimate = estimate_lm_stage(device, *context->runtime.pool,
                                          preset_lm_config(SyntheticPreset::full, size),
                                          options.matrix_dtype, backend, lm_tokenizer, *request);
        if (!estimate.ok()) return plan_fail(estimate.status().to_string(), 1);
        lm_rows.push_back({size, std::string(lm_backend_name(backend)), *estimate});
      }
    }
  }
  const double seconds = watch.elapsed_s();

  const RunRecord& record = plan->record;
  const std::uint64_t peak = plan->peak_device_bytes;
  const std::uint64_t headroom = budget > peak ? budget - peak : 0;
  const std::string offload(offload_mode_name(planner->generator().offload()));
  if (args.json) {
    nlohmann::json out;
    out["peak_device_bytes"] = peak;
    out["budget_bytes"] = budget;
    out["headroom_bytes"] = headroom;
    out["fits"] = plan->fits;
    out["max_duration_s"] = *max_duration;
    out["max_batch"] = *max_batch;
    out["peak_host_bytes"] = record.peak_host_bytes;
    out["resident_device_bytes"] = plan->resident_bytes;
    out["stages"] = nlohmann::json::array();
    for (const StageMemory& stage : record.stages) {
      out["stages"].push_back({{"name", stage.name},
                               {"device_bytes", stage.device_peak_bytes},
                               {"host_bytes", stage.host_peak_bytes},
                               {"by_tag", tags_json(stage.device_by_tag)},
                               {"host_by_tag", tags_json(stage.host_by_tag)}});
    }
    out["vae"] = {
        {"chunk", record.vae.chunk}, {"level", record.vae.level}, {"reason", record.vae.reason}};
    out["settings"] = {{"device", device.name()},
                       {"tier", settings.tier.value},
                       {"dit", planner->generator().dit_name()},
                       {"offload", offload},
                       {"quantization", options.quantize_int8 ? "int8" : "none"},
                       {"weights", args.request.f32_weights ? "f32" : "bf16"},
                       {"duration_s", request->duration_s},
                       {"batch", request->batch},
                       {"steps", record.timings.dit_steps_s.size()}};
    if (guard.ok()) {
      out["guard"] = {{"batch", guard->request.batch},
                      {"dit_stream_window", guard->request.dit_stream_window},
                      {"peak_device_bytes", guard->plan.peak_device_bytes},
                      {"warnings", guard->warnings}};
    } else {
      out["guard"] = {{"error", guard.status().message()}};
    }
    if (record.lm.ran) {
      out["lm"] = {{"model", record.lm.model},
                   {"backend", record.lm.backend},
                   {"kv_bytes", record.lm.kv_reserved_bytes}};
      out["lm"]["phases"] = nlohmann::json::array();
      for (const LmPhaseReport& phase : record.lm.phases)
        out["lm"]["phases"].push_back({{"name", phase.name},
                                       {"sequences", phase.sequences},
                                       {"prompt_tokens", phase.prompt_tokens},
                                       {"new_tokens", phase.new_tokens}});
      out["lm_options"] = nlohmann::json::array();
      for (const LmRow& row : lm_rows)
        out["lm_options"].push_back({{"size", row.size},
                                     {"backend", row.backend},
                                     {"weight_bytes", row.estimate.weight_bytes},
                                     {"kv_bytes", row.estimate.kv_bytes},
                                     {"peak_bytes", row.estimate.peak_bytes}});
    }
    out["plan_seconds"] = plan_s;  // load + one plan
    // Read on its own thread while the devices were probed (TokenizerPreload).
    out["tokenizer_seconds"] =
        options.tokenizer ? tokenizer.load_s() : planner->generator().tokenizer_load_s();
    out["total_seconds"] = seconds;  // with the searches for the limits and the guard
    out["warnings"] = warnings;
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  for (const auto& w : warnings) report_warning("plan", w);
  std::printf("Memory plan: %s, %.1f s x %d, %s, offload %s, INT8 %s, %s weights\n",
              planner->generator().dit_name().c_str(), request->duration_s, request->batch,
              device.name().c_str(), offload.c_str(), options.quantize_int8 ? "on" : "off",
              args.request.f32_weights ? "f32" : "bf16");
  std::printf("GiB at each stage's device peak:\n");
  std::printf("  %-18s %8s %8s %11s %9s %8s %8s %8s\n", "stage", "device", "weights", "activations",
              "workspace", "kv_cache", "io", "host");
  for (const StageMemory& stage : record.stages) {
    const auto& t = stage.device_by_tag;
    std::printf("  %-18s %8.3f %8.3f %11.3f %9.3f %8.3f %8.3f %8.3f\n", stage.name.c_str(),
                gib(stage.device_peak_bytes), gib(t[0]), gib(t[1]), gib(t[2]), gib(t[3]), gib(t[4]),
                gib(stage.host_peak_bytes));
  }
  std::printf("peak %.3f GiB | budget %.3f GiB | headroom %.3f GiB | %s\n", gib(peak), gib(budget),
              gib(headroom), plan->fits ? "fits" : "DOES NOT FIT");
  if (record.lm.ran) {
    std::printf("LM %s (%s): KV cache %.3f GiB at most", record.lm.model.c_str(),
                record.lm.backend.c_str(), gib(record.lm.kv_reserved_bytes));
    for (const LmPhaseReport& phase : record.lm.phases)
      std::printf(" | %s: %d sequence(s), prompt %lld, up to %lld new tokens", phase.name.c_str(),
                  phase.sequences, static_cast<long long>(phase.prompt_tokens),
                  static_cast<long long>(phase.new_tokens));
    std::printf("\nLM stage by model and backend (shipped dims, this request), GiB:\n");
    std::printf("  %-6s %-8s %8s %8s %8s\n", "LM", "backend", "weights", "kv_cache", "peak");
    for (const LmRow& row : lm_rows)
      std::printf("  %-6s %-8s %8.3f %8.3f %8.3f\n", row.size.c_str(), row.backend.c_str(),
                  gib(row.estimate.weight_bytes), gib(row.estimate.kv_bytes),
                  gib(row.estimate.peak_bytes));
  }
  std::printf("VAE decode: chunk %lld, level %d (%s)\n", static_cast<long long>(record.vae.chunk),
              record.vae.level, record.vae.reason.c_str());
  std::printf("fits this budget: up to %d s at batch %d; up to batch %d at %.1f s%s\n",
              *max_duration, request->batch, *max_batch, request->duration_s,
              *max_batch == kBatchSearchLimit ? " (searched up to 16)" : "");
  if (guard.ok()) {
    for (const auto& w : guard->warnings) std::printf("generate would: %s\n", w.c_str());
  } else {
    std::printf("generate would stop: %s\n", guard.status().message().c_str());
  }
  std::printf("planned in %.2f s (limits and guard searched in %.2f s more)\n", plan_s,
              seconds - plan_s);
  return 0;
}

}  // namespace

void add_plan_command(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand(
      "plan", "Show the memory plan of a generation (per stage, per kind) and what fits");
  auto args = std::make_shared<PlanArgs>();
  keep_text(command->add_option("--checkpoints", args->checkpoints, "The checkpoints/ folder"));
  keep_text(command->add_option("--preset", args->preset,
                                "Plan without a checkpoint: full (the shipped 2B model's dims), "
                                "xl-full (the XL 4B DiT's), tiny or xl-tiny"));
  add_request_flags(*command, args->request, false);
  command->add_flag("--json", args->json,
                    "Print {\"peak_device_bytes\", \"budget_bytes\", \"fits\", \"max_duration_s\", "
                    "\"max_batch\", \"stages\", ...} on stdout");
  add_setting_flags(*command, args->settings);
  command->callback([args, &exit_code] { exit_code = run_plan(*args); });
}

}  // namespace acefit::cli
