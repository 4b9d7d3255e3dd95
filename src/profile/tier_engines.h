// The two ways the profiler runs a configuration. Planned: the memory plan of
// the run at the checkpoint's (or preset's) dims against the simulated size's
// budget, milliseconds a run, no kernel. Measured: the run itself on a device
// capped at that budget (sim, vulkan or a GPU), its peak read from the
// device's Budget. Both: the plan, then the run, and whether their peaks
// agree. Every run goes through the VRAM guard as `generate` does; a run
// whose batch the guard would shrink fails (the asked batch does not fit).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/thread_pool.h"
#include "pipeline/generator.h"
#include "profile/tier_run.h"

namespace acefit::profile {

enum class TierEngine { planned, measured, both };
std::string_view tier_engine_name(TierEngine engine);

struct TierEngineOptions {
  // The checkpoints (or the preset, planned only), the tokenizers already
  // loaded, the DiT folder and matrix dtype; offload, quantization and the
  // LM come from each run's configuration.
  GeneratorOptions base;
  // The request's text and metadata (the profiler's example); duration,
  // batch, steps, seed and the LM switches come from the configuration.
  GenerationRequest example;
  // Planned: the device plans mirror (kind, granularity). Measured: the
  // device the runs use, its cap lowered to each size's for the run.
  std::shared_ptr<Device> device;
  ThreadPool* pool = nullptr;
  TierEngine engine = TierEngine::planned;
  // Each LM folder's tokenizer, read by the first run that loads it and
  // shared by the later ones (reading one takes longer than a tiny run).
  std::shared_ptr<std::map<std::string, std::shared_ptr<const Tokenizer>>> lm_tokenizers =
      std::make_shared<std::map<std::string, std::shared_ptr<const Tokenizer>>>();
};

// The profiler's example request: a caption, lyrics and full metadata (bpm,
// key, time signature, language), so the LM's CoT phase is not needed and
// its plan is exact.
GenerationRequest profiler_example_request();

// Runs one configuration; failures are in the record (init_success,
// gen_success, error), never a crash.
TierRunRecord run_tier_config(const TierRunConfig& config, const TierEngineOptions& options);

// The budget a simulated size gives (MAX_CUDA_VRAM semantics: size - 0.5 GiB).
std::uint64_t tier_budget_bytes(double tier_gb);

}  // namespace acefit::profile
