// Limits derived from memory plans for any memory size (docs/PROFILING.md):
// for a budget, the lightest settings that fit a reference song (offload and
// INT8 only where needed), the longest song and largest batch with and
// without the 5 Hz LM, which LMs fit and with which backend; the smallest
// budget each configuration needs; and from those a tier table whose
// boundaries are the sizes where a capability changes, in the format
// `--tier-table` reads. Everything comes from plans at the checkpoint's (or
// preset's) dims: no kernel runs, any size can be asked.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "adapt/settings.h"
#include "adapt/tier_table.h"
#include "core/thread_pool.h"
#include "pipeline/memory_plan.h"

namespace acefit::profile {

// One way to fit: where the weights wait and whether the DiT is INT8.
struct FitConfig {
  OffloadMode offload = OffloadMode::none;
  bool int8 = false;
  std::string name() const;  // "offload none, no INT8"
};

// Most comfortable first: what a budget gets is the first that fits.
std::vector<FitConfig> default_fit_ladder();

struct DeriveOptions {
  GeneratorOptions base;         // checkpoints or preset, tokenizers, DiT folder, dtype
  std::shared_ptr<Device> like;  // plans mirror this device (kind, granularity)
  ThreadPool* pool = nullptr;
  std::vector<FitConfig> ladder = default_fit_ladder();
  int reference_duration_s = 60;  // the song (batch 1) the settings must fit without an LM
  // The song an LM must fit to count (the guide's shortest "with LM" limit):
  // an LM that only fits a short song is not offered.
  int lm_reference_duration_s = 240;
  int batch_duration_s = 30;  // the duration the largest batch is searched at
  int max_duration_s = 600;   // the guide's global maxima cap the searches
  int max_batch = 8;
  // LM folder names (with a preset: "acestep-5Hz-lm-<size>"); empty: no LM.
  std::vector<std::string> lm_folders;
};

// What a budget allows. The configuration is the one under which the
// largest LM fits, the most comfortable among equals (without LMs: the first
// of the ladder that fits the reference song).
struct DerivedLimits {
  std::uint64_t budget_bytes = 0;
  bool fits = false;  // some configuration of the ladder fits the reference song
  FitConfig config;
  int max_duration_without_lm_s = 0;
  int max_batch_without_lm = 0;
  std::vector<std::string> lm_sizes;  // sizes that fit (small to large)
  std::optional<std::string> lm;      // the largest that fits (its folder)
  std::string lm_backend;             // vllm when the largest fits with it, else pt
  bool vllm_fits = false;
  int max_duration_with_lm_s = 0;
  int max_batch_with_lm = 0;
};

struct ConfigThreshold {
  FitConfig config;
  std::optional<std::string> lm;  // folder, with lm_backend
  std::string lm_backend;
  // The smallest budget (to 1/64 GiB, rounded up) the reference song fits;
  // nullopt: not even kMaxDeriveBudgetGib.
  std::optional<std::uint64_t> min_budget_bytes;
};

inline constexpr double kMaxDeriveBudgetGib = 96;
// The card size that gives a budget: MAX_CUDA_VRAM's 0.5 GiB reserve added.
inline constexpr double kContextReserveGib = 0.5;

class Deriver {
 public:
  static Expected<Deriver> create(DeriveOptions options);

  // The smallest budget of each ladder configuration without the LM
  // (searched once, then kept).
  Expected<std::vector<ConfigThreshold>> thresholds();
  // The smallest budget of each LM folder and backend under `config`.
  Expected<std::vector<ConfigThreshold>> lm_thresholds(const FitConfig& config);
  Expected<DerivedLimits> limits(std::uint64_t budget_bytes);
  // The tier table: one tier per stretch of card sizes with the same
  // settings, LMs and backend, limits taken at the stretch's lower bound.
  Expected<TierTable> tier_table();

  const DeriveOptions& options() const { return options_; }
  // The planner of a configuration (LM folder and backend, or "" for none),
  // made once.
  Expected<const MemoryPlanner*> planner(const FitConfig& config, const std::string& lm,
                                         const std::string& backend);
  // The reference song: the profiler's example at batch 1, of
  // reference_duration_s (lm_reference_duration_s with the LM).
  GenerationRequest reference(bool with_lm) const;

 private:
  explicit Deriver(DeriveOptions options) : options_(std::move(options)) {}
  Expected<bool> fits(const MemoryPlanner& planner, bool with_lm, std::uint64_t budget) const;
  Expected<std::optional<std::uint64_t>> min_budget(const MemoryPlanner& planner, bool with_lm,
                                                    std::uint64_t low_bytes) const;

  DeriveOptions options_;
  std::optional<std::vector<ConfigThreshold>> thresholds_;
  std::map<std::tuple<int, bool, std::string, std::string>, std::unique_ptr<MemoryPlanner>>
      planners_;
};

// A tier record holding `limits` (the floor values the format allows where
// nothing fits: 10 s, batch 1).
TierRecord tier_from_limits(const std::string& name, const std::string& label, double min_gib,
                            const DerivedLimits& limits);

// The tier table as JSON text in the format parse_tier_table reads.
std::string tier_table_json(const TierTable& table, const std::string& comment);

// Where the guide's tier for `memory_gib` differs from what the plans allow
// there: one phrase a difference ("max duration without LM 600 s, derived
// 360 s (optimistic)"), empty when they agree.
std::vector<std::string> compare_with_tier(const DerivedLimits& derived, const TierRecord& tier);

// A machine without a GPU (docs/MEMORY.md): the longest song at batch 1 and
// the largest batch at 30 s whose plan of the shipped model (full dims,
// bf16, offload none, no INT8) fits available_bytes, capped at 600 s and 8.
Expected<HostLimits> derive_host_limits(ThreadPool& pool, std::uint64_t available_bytes);

}  // namespace acefit::profile
