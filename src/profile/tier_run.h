// One run of the profiler's tier-test (gpu-adaptation.md 12.3, 12.7): the
// configuration a simulated memory size and a variant give, and what the run
// did. Records are made by a TierRunner (planned, measured or both, see
// tier_engines.h), printed by tier_report.h and written as upstream's JSON
// run records, whose field names they keep.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapt/tier_table.h"

namespace acefit::profile {

// What a run is asked to do.
struct TierRunConfig {
  double tier_gb = 0;  // the simulated memory size (MAX_CUDA_VRAM)
  std::string tier;    // "tier4"
  std::string variant =
      "default";  // default | no-quant | no-offload | batch-noLM-<n> | batch-LM-<n>
  bool use_lm = false;
  std::optional<std::string> lm_model;  // folder name ("acestep-5Hz-lm-0.6B") when use_lm
  std::string lm_backend = "pt";        // the tier's recommended backend
  OffloadMode offload = OffloadMode::none;
  bool quantization = false;  // INT8 weight-only
  int duration_s = 30;
  int batch_size = 1;
  int inference_steps = 8;
  std::uint64_t seed = 42;
};

// What a run did. peak_vram_gb is the engine's peak: the measured one where
// the run was measured, else the planned one.
struct TierRunRecord {
  TierRunConfig config;
  bool init_success = false;
  bool gen_success = false;
  double wall_time = 0;  // seconds: the run's (measured) or the plan's (planned)
  std::optional<std::string> error;
  double peak_vram_gb = 0;
  // Present only for a successful measured run (as upstream: on success).
  std::optional<double> lm_time, dit_time, vae_time;
  // acefit's additions: which engine made the record and both peaks where
  // both were taken; planned_matches is false when they differ.
  std::string engine = "planned";  // planned | measured | both
  std::optional<double> planned_peak_gb, measured_peak_gb;
  bool planned_matches = true;
};

bool passed(const TierRunRecord& record);  // init and generation succeeded

// Upstream's offload flags for a mode: offload (text encoder and VAE) and
// offload_dit.
bool offloads_text_vae(OffloadMode mode);
bool offloads_dit(OffloadMode mode);

// The JSON run record of 12.7 (field names and order as upstream's), with
// acefit's fields after them: "engine", "planned_peak_vram_gb",
// "measured_peak_vram_gb" (null when not taken), "planned_matches". Ordered,
// so that dump() keeps upstream's field order. tier_gb is an integer when
// whole (8, 7.5); times are rounded to 0.01 s and memory to 0.001 GB;
// lm_model is null unless the run uses an LM; lm_time, dit_time and vae_time
// appear only when present.
nlohmann::ordered_json tier_run_json(const TierRunRecord& record);
// The array --benchmark-output writes (dump with indent 2).
nlohmann::ordered_json tier_runs_json(const std::vector<TierRunRecord>& records);

}  // namespace acefit::profile
