#include "pipeline/memory_plan.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "core/timer.h"
#include "device/planning/planning_device.h"
#include "io/checkpoint/checkpoint_tensors.h"

namespace acefit {

namespace {

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", seconds);
  return text;
}

// Largest n in [lo, hi] with fits(n), assuming fits is true up to some n
// and false after; lo - 1 when fits(lo) is false.
Expected<int> largest_fitting(int lo, int hi, const std::function<Expected<bool>(int)>& fits) {
  ACEFIT_ASSIGN(const bool first, fits(lo));
  if (!first) return lo - 1;
  int good = lo;
  int bad = hi + 1;
  ACEFIT_ASSIGN(const bool last, fits(hi));
  if (last) return hi;
  bad = hi;
  while (bad - good > 1) {
    const int mid = good + (bad - good) / 2;
    ACEFIT_ASSIGN(const bool ok, fits(mid));
    (ok ? good : bad) = mid;
  }
  return good;
}

std::string split_text(const std::array<std::uint64_t, kMemoryTagCount>& by_tag) {
  std::string text;
  for (const MemoryTag tag : kAllMemoryTags) {
    const std::uint64_t bytes = by_tag[static_cast<std::size_t>(tag)];
    if (bytes == 0) continue;
    text +=
        (text.empty() ? "" : ", ") + std::string(memory_tag_name(tag)) + " " + format_bytes(bytes);
  }
  return text;
}

std::string largest_stage(const RunRecord& record) {
  const StageMemory* top = nullptr;
  for (const StageMemory& stage : record.stages) {
    if (top == nullptr || stage.device_peak_bytes > top->device_peak_bytes) top = &stage;
  }
  return top == nullptr ? std::string("load") : top->name;
}

}  // namespace

std::uint64_t device_budget_bytes(const Device& device) {
  const std::uint64_t cap = device.budget().cap_bytes();
  if (device.kind() != DeviceKind::cuda) return cap;
  const std::uint64_t reachable = device.budget().used_bytes() + device.memory().free_bytes;
  return std::min(cap, reachable);
}

Expected<MemoryPlanner> MemoryPlanner::create(const GeneratorOptions& options, const Device& like,
                                              ThreadPool& pool) {
  MemoryPlanner planner;
  Stopwatch watch;
  planner.device_ = make_planning_device(like);
  planner.device_->budget().set_cap_bytes(kUnlimitedBytes);
  ACEFIT_ASSIGN(Generator generator,
                Generator::load(options, ops::OpContext{*planner.device_, pool}));
  planner.generator_ = std::make_shared<Generator>(std::move(generator));
  planner.load_s_ = watch.elapsed_s() - planner.generator_->tokenizer_load_s();
  return planner;
}

Expected<GenerationPlan> MemoryPlanner::plan(GenerationRequest request,
                                             std::uint64_t budget_bytes) const {
  GenerationPlan plan;
  request.budget_bytes = budget_bytes;
  plan.request = request;
  plan.budget_bytes = budget_bytes;
  plan.resident_bytes = device_->budget().used_bytes();
  ACEFIT_ASSIGN(GenerationResult result, generator_->generate(request));
  plan.record = std::move(result.record);
  plan.warnings = std::move(result.warnings);
  plan.peak_device_bytes = plan.record.peak_device_bytes;
  plan.fits = plan.peak_device_bytes <= budget_bytes;
  return plan;
}

Expected<int> max_fitting_batch(const MemoryPlanner& planner, GenerationRequest request,
                                std::uint64_t budget_bytes, int limit) {
  return largest_fitting(1, std::max(1, limit), [&](int batch) -> Expected<bool> {
    request.batch = batch;
    ACEFIT_ASSIGN(const GenerationPlan plan, planner.plan(request, budget_bytes));
    return plan.fits;
  });
}

Expected<int> max_fitting_duration_s(const MemoryPlanner& planner, GenerationRequest request,
                                     std::uint64_t budget_bytes, int limit_s) {
  constexpr int kShortest = 10;
  ACEFIT_ASSIGN(
      const int found,
      largest_fitting(kShortest, std::max(kShortest, limit_s), [&](int seconds) -> Expected<bool> {
        request.duration_s = seconds;
        request.lm.duration_given = true;  // the LM writes exactly this long
        ACEFIT_ASSIGN(const GenerationPlan plan, planner.plan(request, budget_bytes));
        return plan.fits;
      }));
  return found < kShortest ? 0 : found;
}

Expected<FitDecision> fit_request(const MemoryPlanner& planner, GenerationRequest request,
                                  std::uint64_t budget_bytes) {
  FitDecision decision;
  ACEFIT_ASSIGN(GenerationPlan asked, planner.plan(request, budget_bytes));
  if (asked.fits) {
    decision.request = request;
    decision.plan = std::move(asked);
    return decision;
  }
  const Generator& generator = planner.generator();
  GenerationRequest one = request;
  one.batch = 1;
  ACEFIT_ASSIGN(GenerationPlan single, planner.plan(one, budget_bytes));
  int window = 0;
  if (!single.fits && generator.offload() == OffloadMode::cpu_dit &&
      request.dit_stream_window == 0) {
    // Stream the DiT's layers, as many at a time as fit.
    const int layers = generator.dit_layer_count();
    ACEFIT_ASSIGN(window, largest_fitting(1, layers, [&](int w) -> Expected<bool> {
                    one.dit_stream_window = w;
                    ACEFIT_ASSIGN(const GenerationPlan plan, planner.plan(one, budget_bytes));
                    return plan.fits;
                  }));
    if (window >= 1) {
      one.dit_stream_window = window;
      request.dit_stream_window = window;
      ACEFIT_ASSIGN(single, planner.plan(one, budget_bytes));
      decision.warnings.push_back("the DiT does not fit on the device for its whole stage (" +
                                  format_bytes(asked.peak_device_bytes) + " needed, " +
                                  format_bytes(budget_bytes) + " budget): streaming its layers " +
                                  std::to_string(window) + " at a time");
      ACEFIT_ASSIGN(asked, planner.plan(request, budget_bytes));
      if (asked.fits) {
        decision.request = request;
        decision.plan = std::move(asked);
        return decision;
      }
    } else {
      one.dit_stream_window = 0;
    }
  }
  if (!single.fits) {
    std::string message = "does not fit: " + seconds_text(request.duration_s) +
                          " at batch 1 needs " + format_bytes(single.peak_device_bytes) +
                          " on the device at its peak (" + largest_stage(single.record) + ": " +
                          split_text(single.record.peak_device_by_tag) + "), the budget is " +
                          format_bytes(budget_bytes) + ". Try";
    std::vector<std::string> tips;
    if (generator.offload() != OffloadMode::cpu_dit)
      tips.push_back("--offload cpu+dit (weights wait on the host; the DiT can stream)");
    ACEFIT_ASSIGN(const int seconds,
                  max_fitting_duration_s(planner, one, budget_bytes,
                                         static_cast<int>(std::floor(request.duration_s))));
    if (seconds >= 10) tips.push_back("--duration " + std::to_string(seconds) + " or less");
    tips.push_back("--quantization int8 if it is off");
    tips.push_back("a device with more memory");
    for (std::size_t i = 0; i < tips.size(); ++i)
      message += (i == 0 ? " " : i + 1 == tips.size() ? " or " : ", ") + tips[i];
    return Status(ErrorCode::out_of_memory, message);
  }
  // One item fits: the largest batch that does.
  ACEFIT_ASSIGN(const int batch, max_fitting_batch(planner, request, budget_bytes, request.batch));
  if (batch < request.batch) {
    const std::uint64_t per_item =
        request.batch > 1 ? (asked.peak_device_bytes > single.peak_device_bytes
                                 ? (asked.peak_device_bytes - single.peak_device_bytes) /
                                       static_cast<std::uint64_t>(request.batch - 1)
                                 : 0)
                          : 0;
    const std::uint64_t fixed =
        single.peak_device_bytes > per_item ? single.peak_device_bytes - per_item : 0;
    const std::uint64_t free_for_items = budget_bytes > fixed ? budget_bytes - fixed : 0;
    decision.warnings.push_back("VRAM guard: reducing batch from " + std::to_string(request.batch) +
                                " to " + std::to_string(batch) + ": each item needs " +
                                format_bytes(per_item) + ", " + format_bytes(free_for_items) +
                                " free");
    request.batch = batch;
  }
  ACEFIT_ASSIGN(decision.plan, planner.plan(request, budget_bytes));
  decision.request = request;
  return decision;
}

Expected<LmStageEstimate> estimate_lm_stage(const Device& like, ThreadPool& pool,
                                            const Qwen3Config& config, DType matrix_dtype,
                                            LmBackend backend, const Tokenizer* tokenizer,
                                            const GenerationRequest& request) {
  const std::shared_ptr<Device> device = make_planning_device(like);
  device->budget().set_cap_bytes(kUnlimitedBytes);
  const models::WeightLoader loader =
      models::WeightLoader::planned("lm", expected_qwen3_tensors(config, "model."));
  ACEFIT_ASSIGN(const models::lm::CausalLm lm,
                models::lm::CausalLm::load(loader, config, *device, matrix_dtype));
  LmStageEstimate estimate;
  estimate.weight_bytes = device->budget().used_bytes();
  const LmInputs inputs = lm_inputs(request);
  ACEFIT_ASSIGN(estimate.bounds, lm_bounds(tokenizer, inputs, request.lm));
  device->budget().reset_peaks();
  LmReport report;
  ACEFIT_TRY(run_lm_stage(lm, tokenizer, backend, ops::OpContext{*device, pool}, inputs, request.lm,
                          report)
                 .status());
  estimate.kv_bytes = report.kv_reserved_bytes;
  estimate.peak_bytes = device->budget().stats().peak_bytes;
  return estimate;
}

}  // namespace acefit
