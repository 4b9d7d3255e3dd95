// From a process's inputs (.env, environment, setting values) to a device
// and effective settings: open a context once, then resolve the settings of
// each request against it (gpu-adaptation.md §14 precedence).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "adapt/probe/device_probe.h"
#include "adapt/settings.h"
#include "adapt/tier_table.h"
#include "engine/runtime.h"
#include "io/text/dotenv.h"

namespace acefit {

struct ContextOptions {
  EnvLookup environment;                       // the process environment (or none)
  std::string dotenv_dir = ".";                // "" reads no .env
  std::optional<std::string> device;           // --device
  std::optional<std::string> tier_table_path;  // --tier-table
  bool derived = false;                        // limits from plans (--derived)
  std::string tokenizer_dir;  // Qwen3 tokenizer for planning the shipped model ("" none)
};

struct ResolvedContext {
  DotEnv dotenv;
  ProbeReport probes;
  DeviceRequest request;
  Runtime runtime;
  TierTable table;
  GpuFacts gpu;
  EnvLookup environment;  // the process environment (not .env)
  bool derived = false;
  // CPU without a GPU tier: the limits the plans give for the host's RAM,
  // worked out once.
  std::optional<HostLimits> host_limits;
  EffectiveSettings settings;  // of the values resolve_settings_for was last given
};

// Reads .env, opens the device, runs the probes and loads the tier table.
Expected<ResolvedContext> open_context(const ContextOptions& options);

// The effective settings of `values` (option-table name -> text) on this
// context; the warnings of .env and the device first, each once.
Expected<EffectiveSettings> resolve_settings_for(ResolvedContext& context,
                                                 const std::map<std::string, std::string>& values,
                                                 bool lm_in_pipeline);

// The limits of a machine without a GPU: the longest song (batch 1) and the
// largest batch (30 s) whose memory plan of the shipped model (full dims,
// bf16, no offload, no quantization; no checkpoint needed) fits
// available_bytes, capped at 600 s and batch 8 (profile::derive_host_limits).
Expected<HostLimits> plan_host_limits(ThreadPool& pool, std::uint64_t available_bytes);

}  // namespace acefit
