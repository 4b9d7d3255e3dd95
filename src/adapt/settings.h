// Settings resolution: one pure function from (the GPU's facts, the tier
// table, .env, the environment, the command line; later sources win) to the
// effective settings. Every field keeps its value, where the value came from
// and, where acefit changed what was asked, the requested value and why; each
// change also adds a warning. The rules are those of ACE-Step 1.5's GPU
// Compatibility Guide (docs/GPU.md).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "adapt/tier_table.h"
#include "core/env_lookup.h"
#include "io/text/dotenv.h"

namespace acefit {

enum class SettingSource { built_in, tier, device, dotenv, environment, command_line };
std::string_view setting_source_name(SettingSource source);  // "built-in", ".env", ...

// The GPU whose memory picks the tier.
struct GpuFacts {
  std::string vendor;  // "NVIDIA", "AMD", "Intel", "Apple", "" (none)
  std::string name;
  double total_gib = 0;              // 0: no GPU, or one that did not report its memory
  bool memory_unknown = false;       // a GPU was found but reported 0/0
  std::optional<int> compute_major;  // NVIDIA compute capability
  bool cuda_class = false;           // NVIDIA, AMD (HIP) or the sim device: vllm can run there
  bool apple = false;
  bool intel = false;
};

// The limits of a machine without a GPU (no GPU tier): the longest song and
// the largest batch whose memory plan fits the host's available RAM, capped
// at the guide's global maxima. The caller plans (adapt does not include the
// pipeline) and passes the numbers in.
struct HostLimits {
  int max_duration_s = 600;
  int max_batch = 8;
  std::uint64_t available_bytes = 0;  // the RAM planned against (MemAvailable)
};

struct SettingsInput {
  GpuFacts gpu;
  std::string run_device = "cpu";  // where runs happen: "cuda:0", "sim", "cpu"
  const TierTable* table = nullptr;
  const DotEnv* dotenv = nullptr;                   // may be null
  EnvLookup environment;                            // may be empty
  std::map<std::string, std::string> command_line;  // setting name -> text as typed
  // Whether the runs use the 5 Hz LM (generate --thinking or --cot). Only
  // then do the tier's "with LM" limits and the 4B LM's offload rule apply.
  bool lm_in_pipeline = true;
  // With no GPU (and no MAX_*_VRAM, no --tier): the limits from the memory
  // plan against the host's RAM. Unset: the guide's global maxima.
  std::optional<HostLimits> host_limits;
  // The table's tier was derived from memory plans for this device (check-gpu
  // --derived): the guide's fixed 4B LM rules (20 GiB, offload up to 24 GiB)
  // give way to what the plans found.
  bool limits_from_plans = false;
};

template <typename T>
struct Setting {
  T value{};
  SettingSource source = SettingSource::built_in;
  std::string origin;  // the variable or flag it came from ("ACESTEP_LM_BACKEND", "--batch")
  std::optional<std::string> requested;  // what was asked, when acefit changed it
  std::string reason;                    // why the value is what it is (always set when changed)
};

struct EffectiveSettings {
  Setting<double> gpu_memory_gib;
  Setting<std::string> tier;
  Setting<std::string> device;
  Setting<bool> init_lm;
  Setting<std::optional<std::string>> lm_model;  // folder name; nullopt with no LM
  Setting<std::string> backend;
  Setting<OffloadMode> offload;
  Setting<bool> quantization;  // INT8 weight-only
  Setting<bool> compile;
  Setting<std::optional<double>> duration_s;  // nullopt: not requested
  Setting<int> batch;
  Setting<int> max_duration_s;
  Setting<int> max_batch;
  Setting<int> lm_max_duration_s;
  Setting<std::string> config_path;
  Setting<bool> vae_on_cpu;
  Setting<std::optional<int>> vae_decode_chunk_size;  // nullopt: auto
  Setting<bool> force;
  std::vector<std::string> warnings;
  // Points into the input's table, or to cpu_tier on a machine without a GPU.
  const TierRecord* tier_record = nullptr;
  bool simulated_cuda = false;  // MAX_CUDA_VRAM in effect: CUDA rules apply
  // No GPU, nothing simulated, no --tier: "CPU, no GPU tier" (tier "none"),
  // whose limits come from host_limits; offload none, no quantization.
  bool no_gpu_tier = false;
  std::shared_ptr<const TierRecord> cpu_tier;
};

// A setting for display: the value as null, bool, integer, number or text.
using SettingScalar = std::variant<std::monostate, bool, std::int64_t, double, std::string>;
struct SettingView {
  std::string name;
  SettingScalar value;
  std::string source;
  std::string origin;
  std::optional<std::string> requested;
  std::string reason;
};
std::vector<SettingView> setting_views(const EffectiveSettings& settings);
std::string scalar_text(const SettingScalar& value);

// Invalid command-line values are errors (invalid_argument naming the flag);
// invalid .env or environment values are ignored with a warning naming the
// variable.
Expected<EffectiveSettings> resolve_settings(const SettingsInput& input);

// "8", "7.6": memory in GiB in messages.
std::string gib_text(double gib);

// The tier record "CPU, no GPU tier": every LM size on the host (0.6B
// recommended, backend pt), the given limits, offload none, no quantization.
TierRecord cpu_tier_record(const TierTable& table, const HostLimits& limits);

}  // namespace acefit
