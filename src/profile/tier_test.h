// The profiler's tier-test sweep (gpu-adaptation.md 12.3): for each
// simulated memory size, the tier's own settings (variant "default"); with
// the boundary option the no-quant and no-offload variants; with the batch
// boundary option batches 1, 2, 4, 8 without and then with the LM, each
// series stopping at its first failure. Which configurations run, which are
// skipped and why, is decided here; a TierRunner (tier_engines.h) runs each.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "adapt/tier_table.h"
#include "profile/tier_run.h"

namespace acefit::profile {

struct TierTestOptions {
  std::vector<double> tiers_gb{4, 6, 8, 12, 16, 20, 24};  // --tiers
  bool with_lm = false;                                   // --tier-with-lm
  int tier_duration_s = 30;                               // --tier-duration
  bool boundary = false;                                  // --tier-boundary
  bool batch_boundary = false;                            // --tier-batch-boundary
  int inference_steps = 8;
  std::uint64_t seed = 42;
  // The LM folders there are ("acestep-5Hz-lm-1.7B", ...); the recommended
  // size's best match among them is used, none: the run goes without LM.
  std::vector<std::string> lm_folders;
};

// The LM folder for a tier: its recommended size when a folder of that size
// is there, else the largest folder of a size the tier allows; nullopt when
// the tier has no LM or none of its sizes is there.
std::optional<std::string> tier_lm_folder(const TierRecord& tier,
                                          const std::vector<std::string>& lm_folders);

// The configuration of one run (12.3 "One run"): the tier's settings, the
// variant's overrides, the duration capped at the tier's limit.
TierRunConfig tier_run_config(double tier_gb, const TierRecord& tier,
                              const TierTestOptions& options, const std::string& variant,
                              bool use_lm, int batch);

// The block printed before a size's runs: tier, LM default, LMs, backend,
// offload, quantization, limits.
std::string tier_header_text(double tier_gb, const TierRecord& tier,
                             const std::optional<std::string>& lm_folder);

struct TierTestResult {
  std::vector<TierRunRecord> records;
  std::vector<std::string> skipped;  // "8GB tier4 no-quant: ..." (the reason)
};

using TierRunner = std::function<TierRunRecord(const TierRunConfig&)>;
// Before each run: the run's index (0-based), the most runs the sweep can
// still make counting this one, and its configuration.
using TierProgress =
    std::function<void(std::size_t index, std::size_t upper_bound, const TierRunConfig&)>;
// Called with each size's header before its first run.
using TierHeader = std::function<void(const std::string& text)>;

TierTestResult run_tier_test(const TierTestOptions& options, const TierTable& table,
                             const TierRunner& runner, const TierProgress& progress = {},
                             const TierHeader& header = {});

// The most runs a sweep makes (every batch series running to 8).
std::size_t tier_test_upper_bound(const TierTestOptions& options, const TierTable& table);

}  // namespace acefit::profile
