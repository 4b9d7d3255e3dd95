#include "profile/tier_engines.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "adapt/settings.h"
#include "core/timer.h"
#include "device/device_selection.h"
#include "device/sim/sim_device.h"
#include "pipeline/memory_plan.h"

namespace acefit::profile {

namespace {

constexpr double kBytesPerGib = 1024.0 * 1024.0 * 1024.0;

double gib_of(std::uint64_t bytes) {
  return std::round(static_cast<double>(bytes) / kBytesPerGib * 1000.0) / 1000.0;
}

GeneratorOptions run_options(const TierRunConfig& config, const TierEngineOptions& options) {
  GeneratorOptions generator = options.base;
  generator.offload = config.offload;
  generator.quantize_int8 = config.quantization;
  generator.lm_model.clear();
  if (config.use_lm && config.lm_model) {
    generator.lm_model = *config.lm_model;
    generator.lm_backend = parse_lm_backend(config.lm_backend).value_or(LmBackend::pt);
    if (options.lm_tokenizers && !generator.lm_tokenizer) {
      const auto it = options.lm_tokenizers->find(generator.lm_model);
      if (it != options.lm_tokenizers->end()) generator.lm_tokenizer = it->second;
    }
  }
  return generator;
}

GenerationRequest run_request(const TierRunConfig& config, const TierEngineOptions& options) {
  GenerationRequest request = options.example;
  request.duration_s = config.duration_s;
  request.batch = config.batch_size;
  request.steps = config.inference_steps;
  request.seed = config.seed;
  request.lm = LmRequest{};
  if (config.use_lm && config.lm_model) {
    // thinking = use_cot_metas = use_lm; the CoT writes neither caption
    // nor language (12.3); the duration is the run's.
    request.lm.thinking = true;
    request.lm.cot = true;
    request.lm.use_cot_caption = false;
    request.lm.use_cot_language = false;
    request.lm.duration_given = true;
    request.lm.max_duration_s = std::max(config.duration_s, 10);
  }
  return request;
}

std::string init_error(const Status& status) {
  return (status.code() == ErrorCode::out_of_memory ? "Init OOM: " : "DiT init failed: ") +
         status.message();
}

std::string run_error(const Status& status) {
  return (status.code() == ErrorCode::out_of_memory ? "OOM: " : "") + status.message();
}

// The device a measured run uses: a fresh simulated card of the size, or
// the given device with its cap lowered (restored by the guard's end).
class CappedDevice {
 public:
  CappedDevice(const std::shared_ptr<Device>& device, double tier_gb) {
    const std::uint64_t budget = tier_budget_bytes(tier_gb);
    if (device->kind() == DeviceKind::sim) {
      device_ = make_sim_device(static_cast<std::uint64_t>(tier_gb * kBytesPerGib), budget);
      return;
    }
    device_ = device;
    restore_ = true;
    restore_cap_bytes_ = device->budget().cap_bytes();
    device->budget().set_cap_bytes(std::min(restore_cap_bytes_, budget));
  }
  ~CappedDevice() {
    if (restore_) device_->budget().set_cap_bytes(restore_cap_bytes_);
  }
  CappedDevice(const CappedDevice&) = delete;
  CappedDevice& operator=(const CappedDevice&) = delete;
  Device& device() const { return *device_; }

 private:
  std::shared_ptr<Device> device_;
  bool restore_ = false;
  std::uint64_t restore_cap_bytes_ = 0;
};

}  // namespace

std::string_view tier_engine_name(TierEngine engine) {
  switch (engine) {
    case TierEngine::planned:
      return "planned";
    case TierEngine::measured:
      return "measured";
    case TierEngine::both:
      return "both";
  }
  return "planned";
}

std::uint64_t tier_budget_bytes(double tier_gb) {
  return simulated_vram_cap_bytes(tier_gb);
}

GenerationRequest profiler_example_request() {
  GenerationRequest request;
  request.caption = "An upbeat pop song with bright synths, punchy drums and a catchy female vocal";
  request.lyrics =
      "[verse]\nCity lights are calling out my name\nEvery street a spark, every night a flame\n"
      "[chorus]\nWe run, we run, into the morning sun\nWe sing, we sing, until the night is done";
  request.language = "en";
  request.bpm = 120;
  request.keyscale = "C major";
  request.time_signature = "4";
  return request;
}

namespace {

// Plans, then (measured, both) runs; the planned peak stays in the record.
TierRunRecord plan_and_run(const TierRunConfig& config, const TierEngineOptions& options) {
  TierRunRecord record;
  record.config = config;
  record.engine = std::string(tier_engine_name(options.engine));
  const GeneratorOptions generator_options = run_options(config, options);
  const GenerationRequest request = run_request(config, options);
  const std::uint64_t budget = tier_budget_bytes(config.tier_gb);
  Stopwatch watch;

  // The plan: every engine makes it (the measured run follows the guard's
  // decisions, which come from plans).
  auto planner = MemoryPlanner::create(generator_options, *options.device, *options.pool);
  if (!planner.ok()) {
    record.error = init_error(planner.status());
    record.wall_time = watch.elapsed_s();
    return record;
  }
  if (options.lm_tokenizers && !generator_options.lm_model.empty() &&
      planner->generator().lm_tokenizer())
    options.lm_tokenizers->emplace(generator_options.lm_model, planner->generator().lm_tokenizer());
  auto fit = fit_request(*planner, request, budget);
  std::optional<GenerationPlan> plan;
  if (fit.ok()) plan = fit->plan;
  // When nothing fits, a plan of the request as asked still says what the
  // weights alone hold and the peak it would reach.
  std::optional<GenerationPlan> unfit;
  if (!fit.ok()) {
    auto asked = planner->plan(request, budget);
    if (asked.ok()) unfit = std::move(*asked);
  }
  const std::uint64_t resident_bytes =
      plan ? plan->resident_bytes : (unfit ? unfit->resident_bytes : 0);
  const double plan_s = watch.elapsed_s();
  if (plan) record.planned_peak_gb = gib_of(plan->peak_device_bytes);

  if (options.engine == TierEngine::planned) {
    record.wall_time = plan_s;
    if (resident_bytes > budget) {
      record.error = "Init OOM: the weights need " + gib_text(gib_of(resident_bytes)) +
                     " GiB, the budget is " + gib_text(gib_of(budget)) + " GiB";
      return record;
    }
    record.init_success = true;
    if (!fit.ok()) {
      record.error = run_error(fit.status());
      record.peak_vram_gb = unfit ? gib_of(unfit->peak_device_bytes) : 0;
      return record;
    }
    record.peak_vram_gb = gib_of(plan->peak_device_bytes);
    if (fit->request.batch < request.batch) {
      record.error = "OOM: batch " + std::to_string(request.batch) + " does not fit (the VRAM " +
                     "guard would run batch " + std::to_string(fit->request.batch) + ")";
      return record;
    }
    record.gen_success = true;
    return record;
  }

  // The measured run on the capped device.
  CappedDevice capped(options.device, config.tier_gb);
  Device& device = capped.device();
  device.budget().reset_peaks();
  Stopwatch run_watch;
  auto generator = Generator::load(generator_options, ops::OpContext{device, *options.pool});
  if (!generator.ok()) {
    record.error = init_error(generator.status());
    record.wall_time = run_watch.elapsed_s();
    record.peak_vram_gb = gib_of(device.budget().peak_bytes());
    record.measured_peak_gb = record.peak_vram_gb;
    return record;
  }
  record.init_success = true;
  if (!fit.ok()) {
    record.error = run_error(fit.status());
    record.wall_time = run_watch.elapsed_s();
    record.peak_vram_gb = gib_of(device.budget().peak_bytes());
    return record;
  }
  if (fit->request.batch < request.batch) {
    record.error = "OOM: batch " + std::to_string(request.batch) + " does not fit (the VRAM " +
                   "guard would run batch " + std::to_string(fit->request.batch) + ")";
    record.wall_time = run_watch.elapsed_s();
    record.peak_vram_gb = gib_of(device.budget().peak_bytes());
    return record;
  }
  GenerationRequest run = fit->request;
  run.budget_bytes = budget;
  Stopwatch generate_watch;
  auto result = generator->generate(run);
  record.wall_time = generate_watch.elapsed_s();
  const std::uint64_t peak = device.budget().peak_bytes();
  record.measured_peak_gb = gib_of(peak);
  record.peak_vram_gb = gib_of(peak);
  if (record.planned_peak_gb) record.planned_matches = peak == plan->peak_device_bytes;
  if (!result.ok()) {
    record.error = run_error(result.status());
    return record;
  }
  record.gen_success = true;
  const GenerationTimings& t = result->record.timings;
  double steps_s = 0;
  for (const double s : t.dit_steps_s) steps_s += s;
  record.lm_time = t.lm_s;
  record.dit_time = t.text_encoding_s + t.condition_encoding_s + t.detokenizer_s + steps_s;
  record.vae_time = t.vae_decode_s;
  return record;
}

}  // namespace

TierRunRecord run_tier_config(const TierRunConfig& config, const TierEngineOptions& options) {
  TierRunRecord record = plan_and_run(config, options);
  if (options.engine == TierEngine::measured) {
    // The plan only steered the guard: the record reports what was measured.
    record.planned_peak_gb.reset();
    record.planned_matches = true;
  }
  return record;
}

}  // namespace acefit::profile
