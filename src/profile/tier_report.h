// The text reports of the profiler's tier-test (gpu-adaptation.md 12.4 to
// 12.6), made from run records alone: the summary table with its totals line,
// the boundary analysis (minimum tier without INT8, without offload) and the
// batch boundary analysis with the comparison against the tier table in use.
#pragma once

#include <string>
#include <vector>

#include "adapt/tier_table.h"
#include "profile/tier_run.h"

namespace acefit::profile {

// A simulated memory size as the tables print it: "8GB", "7.5GB".
std::string vram_label(double tier_gb);

// "TIER TEST SUMMARY": VRAM, Tier, Variant (when any run is not "default"),
// LM, LM Model, Backend, Offload, Quant, Init, Gen, Wall(s), Peak(GB),
// Status; with both engines a Plan(GB) column beside Peak(GB) and a mark on
// rows whose peaks differ. Ends with "Total: N tests run, P PASSED, F FAILED".
std::string tier_summary_table(const std::vector<TierRunRecord>& records);

// "BOUNDARY ANALYSIS" (12.5): per capability the first passing run by
// simulated size, its peak and the last failure, then the compact table and
// the closing note. `table` gives each tier's defaults (which default runs
// already have quantization / offload off).
std::string boundary_analysis(const std::vector<TierRunRecord>& records, const TierTable& table);

// "BATCH BOUNDARY ANALYSIS" (12.6): per simulated size the largest passing
// batch without and with the LM and its peak (FAIL: none passed, N/A: not
// tested), then "Comparison with current GPU_TIER_CONFIGS" against `table`
// ("no_lm: 4→8, lm: 2→4" or "OK") and the closing note.
std::string batch_boundary_analysis(const std::vector<TierRunRecord>& records,
                                    const TierTable& table);

}  // namespace acefit::profile
