// Memory plans of generation runs (docs/MEMORY.md). A MemoryPlanner loads a
// Generator on a planning device that mirrors the real device (kind,
// allocation granularity) without its cap, and plans a request by running
// the real generation code there: every allocation is reserved, no kernel
// runs, no memory is touched. The planned peak is the peak the real run
// will measure. On top of plans: the VRAM guard (the largest batch that
// fits, DiT layer streaming when even one item does not fit), and the
// longest duration and largest batch for a budget.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/generator.h"

namespace acefit {

// The bytes a run on `device` may use: the budget's cap, and on a real GPU
// no more than what is held plus what the driver reports free.
std::uint64_t device_budget_bytes(const Device& device);

struct GenerationPlan {
  GenerationRequest request;         // as planned (batch, streaming, budget)
  RunRecord record;                  // per stage, as the run will record it
  std::uint64_t resident_bytes = 0;  // device bytes held before the run (resident weights)
  std::uint64_t peak_device_bytes = 0;
  std::uint64_t budget_bytes = 0;
  bool fits = false;                  // peak_device_bytes <= budget_bytes
  std::vector<std::string> warnings;  // from the planned run
};

class MemoryPlanner {
 public:
  // Loads options' checkpoints (or preset) on a planning device like `like`.
  static Expected<MemoryPlanner> create(const GeneratorOptions& options, const Device& like,
                                        ThreadPool& pool);

  // Plans `request` with its decisions (VAE chunk and level) made against
  // budget_bytes. A plan that does not fit still reports its peak.
  Expected<GenerationPlan> plan(GenerationRequest request, std::uint64_t budget_bytes) const;

  const Generator& generator() const { return *generator_; }
  // Seconds the planning load took, reading the tokenizer not included.
  double load_s() const { return load_s_; }

 private:
  MemoryPlanner() = default;
  std::shared_ptr<Device> device_;
  std::shared_ptr<Generator> generator_;
  double load_s_ = 0;
};

struct FitDecision {
  GenerationRequest request;  // what will run: batch and DiT streaming adjusted
  GenerationPlan plan;        // the plan of that request
  std::vector<std::string> warnings;
};

// The VRAM guard (gpu-adaptation.md 9.1, from plans instead of constants):
// a request that fits runs as asked; else the batch shrinks to the largest
// that fits ("VRAM guard: reducing batch from 8 to 3: ..."); when one item
// does not fit and the DiT waits on the host (offload cpu+dit), its layers
// stream through the device, as many at a time as fit. When nothing fits,
// out_of_memory with the numbers and what to change, before any work.
Expected<FitDecision> fit_request(const MemoryPlanner& planner, GenerationRequest request,
                                  std::uint64_t budget_bytes);

// The largest batch in [1, limit] / the longest duration in [10, limit_s]
// seconds whose plan fits (0 when none does). Peaks grow with both, so each
// is a bisection over plans.
Expected<int> max_fitting_batch(const MemoryPlanner& planner, GenerationRequest request,
                                std::uint64_t budget_bytes, int limit);
Expected<int> max_fitting_duration_s(const MemoryPlanner& planner, GenerationRequest request,
                                     std::uint64_t budget_bytes, int limit_s);

// The LM stage alone for one LM config and backend, on a planning device
// like `like`: its weights, the most its KV cache holds, and the stage's
// peak (weights, KV and activations; the LM on the device).
struct LmStageEstimate {
  std::uint64_t weight_bytes = 0;
  std::uint64_t kv_bytes = 0;
  std::uint64_t peak_bytes = 0;
  LmBounds bounds;
};
Expected<LmStageEstimate> estimate_lm_stage(const Device& like, ThreadPool& pool,
                                            const Qwen3Config& config, DType matrix_dtype,
                                            LmBackend backend, const Tokenizer* tokenizer,
                                            const GenerationRequest& request);

}  // namespace acefit
