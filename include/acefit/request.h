// What a caller asks the engine for, what it prepares and what it returns.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "adapt/settings.h"
#include "pipeline/generator.h"
#include "pipeline/memory_plan.h"

namespace acefit {

// One generation as a user describes it. Text is checked (length, UTF-8,
// control characters) and numbers against their ranges by Engine::prepare;
// errors name the field by its CLI flag (--caption, --bpm, ...).
struct SongRequest {
  std::string caption;
  std::string lyrics;
  bool instrumental = false;  // the lyrics are "[Instrumental]"
  std::string language = "unknown";
  std::uint64_t seed = 42;   // item b uses seed + b; 0 .. 2^32 - 1
  bool random_seed = false;  // draw the seed (the result says which)
  std::optional<int> steps;
  std::optional<double> shift;
  std::optional<double> guidance;
  std::optional<int> bpm;
  std::optional<std::string> keyscale;
  std::optional<std::string> time_signature;
  std::string method = "ode";  // ode | sde
  std::optional<bool> dcw;     // nullopt: by model
  DcwOptions dcw_options;
  bool f32_weights = false;
  std::vector<std::int64_t> audio_codes;  // FSQ indices; skip the LM
  // The 5 Hz LM (docs/LM.md): thinking = CoT then audio codes; cot = the
  // CoT metadata only.
  bool thinking = false;
  bool cot = false;
  bool no_cot_caption = false;
  bool no_cot_language = false;
  std::string lm_negative_prompt = "NO USER INPUT";
  float lm_temperature = 0.85f;
  float lm_cfg_scale = 2.0f;
  int lm_top_k = 0;
  float lm_top_p = 0.9f;
  float lm_repetition_penalty = 1.0f;
  // This request's settings by option-table name ("duration_s", "batch",
  // "lm_model", "backend", "offload", "quantization", ...), over the
  // engine's. Clamped to the tier with warnings, as on the command line.
  std::map<std::string, std::string> settings;

  bool uses_lm() const { return thinking || cot; }
};

// A request made concrete: its settings, the run the guard lets start and
// that run's memory plan.
struct PreparedSong {
  EffectiveSettings settings;
  GeneratorOptions options;   // the models the run loads
  GenerationRequest request;  // as it will run (batch and streaming after the guard)
  GenerationPlan plan;        // of that request
  std::uint64_t budget_bytes = 0;
  bool fits = false;  // false: `refusal` says why and what to change
  std::string refusal;
  int asked_batch = 1;                // before the guard
  std::vector<std::string> warnings;  // settings, guard
  double plan_s = 0;
};

struct SongResult {
  std::vector<std::string> outputs;  // the files written, in batch order
  std::string format;                // wav16, flac16, mp3, opus, ...
  PreparedSong prepared;
  GenerationResult run;  // audio, seeds, timings, memory per stage, LM outcome
  OffloadMode offload = OffloadMode::none;
  double load_s = 0;  // 0 when the models were already loaded
  double wall_s = 0;
  std::vector<std::string> warnings;  // every warning of the run, once each
};

struct EngineInfo {
  std::string checkpoints;
  std::string device;                   // the device runs use, by name
  EffectiveSettings defaults;           // of a request that asks nothing
  EffectiveSettings defaults_with_lm;   // of one that uses the LM
  std::vector<std::string> dit_models;  // DiT folders, the default first
  std::vector<std::string> lm_models;   // LM folders present
  std::vector<std::string> warnings;    // from opening (.env, device)
};

}  // namespace acefit
