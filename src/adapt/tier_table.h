// The GPU tier table of ACE-Step 1.5's GPU Compatibility Guide, as data: an
// embedded default (src/adapt/tier_table.json) that `--tier-table FILE`
// replaces. Each tier says which LMs fit, the LM backend, offload,
// quantization, compile, the longest song and the largest batch. The tier of
// a device follows from its memory by the boundary rule: nominal card sizes
// with a 0.5 GiB tolerance, stored in the table as each tier's lower bound
// (docs/GPU.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace acefit {

enum class OffloadMode { cpu_dit, cpu, none };  // "cpu+dit", "cpu", "none"

std::string_view offload_mode_name(OffloadMode mode);
std::optional<OffloadMode> parse_offload_mode(std::string_view text);

// LM sizes, small to large; the directory is "acestep-5Hz-lm-" + size.
inline constexpr std::string_view kLmSizes[] = {"0.6B", "1.7B", "4B"};
inline constexpr std::string_view kLmBackends[] = {"vllm", "pt", "mlx"};

struct LmMemory {
  std::string size;  // "0.6B"
  double gib = 0;    // informational peak of weights + KV cache
};

struct TierRecord {
  std::string name;           // "tier1" ... "tier6b", "unlimited"
  std::string label;          // "tier4 (8-12GB)"
  double min_memory_gib = 0;  // lower bound of the tier, inclusive
  int max_duration_with_lm_s = 0;
  int max_duration_without_lm_s = 0;
  int max_batch_with_lm = 0;
  int max_batch_without_lm = 0;
  bool init_lm_default = false;
  std::vector<std::string> lm_models;         // sizes, small to large; empty: no LM fits
  std::optional<std::string> recommended_lm;  // a size in lm_models
  std::vector<std::string> allowed_backends;  // subset of kLmBackends
  std::string recommended_backend;
  OffloadMode offload = OffloadMode::none;
  bool quantization_int8 = false;
  bool compile = true;
  std::vector<LmMemory> lm_memory;
  // The largest VAE decode chunk (latent frames) an automatic choice may
  // take; nullopt: no cap beyond the candidate set (the guide's table).
  // Upstream's current code caps CUDA decodes at 512 (18.7). A chunk set by
  // hand (ACESTEP_VAE_DECODE_CHUNK_SIZE) is not capped, as upstream.
  std::optional<std::int64_t> max_vae_chunk_frames;

  bool allows_backend(std::string_view backend) const;
  bool allows_lm(std::string_view size) const;
  int max_duration_s(bool with_lm) const;
  int max_batch(bool with_lm) const;
};

struct TierTable {
  std::string origin;             // "built-in" or the file it came from
  std::vector<TierRecord> tiers;  // by ascending min_memory_gib; tiers[0] starts at 0

  // The tier for `memory_gib` of device memory (0: tier1; settings give a
  // machine without a GPU no tier at all, see cpu_tier_record).
  const TierRecord& tier_for_memory(double memory_gib) const;
  // By name ("tier6" is an alias of "tier6b"); nullptr when unknown.
  const TierRecord* find(std::string_view name) const;
  std::vector<std::string> names() const;
};

// The table built into acefit (src/adapt/tier_table.json); a unit test pins
// that it parses.
Expected<TierTable> default_tier_table();

// The second built-in table: upstream's current values
// (src/adapt/tier_table_upstream_2026_06.json, acestep-model.md 18.7).
inline constexpr std::string_view kUpstreamTierTableName = "upstream";
inline constexpr std::string_view kGuideTierTableName = "guide";
inline constexpr std::string_view kUpstreamTierTableOrigin =
    "built-in upstream tier table (ACE-Step 1.5 gpu_config.py, 2026-06)";
Expected<TierTable> upstream_tier_table();

// --tier-table: "upstream" or "guide" (the default) names a built-in table,
// anything else is a file path ("./upstream" for a file of that name).
Expected<TierTable> tier_table_by_name_or_path(const std::string& name_or_path);

// Parses and validates a table: every field present with the right type and
// range, tiers in ascending order starting at 0 GiB, unique names, the
// recommended LM and backend among the allowed ones. Errors name the origin,
// the tier and the field.
Expected<TierTable> parse_tier_table(const std::string& json_text, const std::string& origin);
Expected<TierTable> load_tier_table(const std::string& path);

// The largest LM size in `sizes` (order of kLmSizes); nullopt when empty.
std::optional<std::string> largest_lm_size(const std::vector<std::string>& sizes);
// The size class named in an LM directory name ("acestep-5Hz-lm-1.7B-v4" ->
// "1.7B"); nullopt when it names none.
std::optional<std::string> lm_size_of(std::string_view model_name);
std::string lm_model_name(std::string_view size);
// The same model name with another size ("acestep-5Hz-lm-4B-v2", "1.7B" ->
// "acestep-5Hz-lm-1.7B-v2"); unchanged when the name names no size.
std::string with_lm_size(std::string_view model_name, std::string_view size);

}  // namespace acefit
