// The profiler's tier-test reports and JSON run records (gpu-adaptation.md
// 12.4 to 12.7) against hand-made run records.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

#include "adapt/tier_table.h"
#include "profile/tier_report.h"
#include "profile/tier_run.h"
#include "test_support.h"

namespace acefit::profile {
namespace {

// A run record with the fields these tests vary; a failure gets `error`.
TierRunRecord tier_run(double tier_gb, const std::string& tier, const std::string& variant, bool ok,
                       double peak_gb, const std::string& error = "") {
  TierRunRecord record;
  record.config.tier_gb = tier_gb;
  record.config.tier = tier;
  record.config.variant = variant;
  record.init_success = true;
  record.gen_success = ok;
  record.peak_vram_gb = peak_gb;
  if (!ok) record.error = error.empty() ? "CUDA out of memory" : error;
  return record;
}

TierRunRecord batch_run(double tier_gb, const std::string& tier, bool with_lm, int batch, bool ok,
                        double peak_gb) {
  TierRunRecord record =
      tier_run(tier_gb, tier, (with_lm ? "batch-LM-" : "batch-noLM-") + std::to_string(batch), ok,
               peak_gb, "OOM at batch " + std::to_string(batch));
  record.config.batch_size = batch;
  record.config.use_lm = with_lm;
  return record;
}

std::vector<std::string> report_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

bool has_line(const std::string& text, const std::string& expected) {
  for (const std::string& line : report_lines(text)) {
    if (line == expected) return true;
  }
  return false;
}

// The one line holding `needle`; empty (and a failure) when none or several do.
std::string line_with(const std::string& text, const std::string& needle) {
  std::string found;
  int count = 0;
  for (const std::string& line : report_lines(text)) {
    if (line.find(needle) != std::string::npos) {
      found = line;
      ++count;
    }
  }
  EXPECT_EQ(count, 1) << "lines holding \"" << needle << "\" in\n" << text;
  return count == 1 ? found : "";
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

const TierTable& guide_tiers() {
  static const TierTable table = testing::unwrap(default_tier_table());
  return table;
}

// ---- summary (12.4) ----

std::vector<TierRunRecord> two_default_runs() {
  TierRunRecord with_lm = tier_run(8, "tier4", "default", true, 7.1);
  with_lm.config.use_lm = true;
  with_lm.config.lm_model = "acestep-5Hz-lm-0.6B";
  with_lm.config.lm_backend = "vllm";
  with_lm.config.offload = OffloadMode::cpu_dit;
  with_lm.config.quantization = true;
  with_lm.wall_time = 12.3;
  TierRunRecord failed = tier_run(4, "tier1", "default", false, 3.5, "Init OOM: out of memory");
  failed.init_success = false;
  failed.config.offload = OffloadMode::none;
  failed.wall_time = 0.5;
  return {with_lm, failed};
}

TEST(TierReportSummary, HeaderRowsAndTotals) {
  const std::string text = tier_summary_table(two_default_runs());
  EXPECT_TRUE(has_line(text, "TIER TEST SUMMARY")) << text;
  EXPECT_TRUE(has_line(text,
                       "   VRAM Tier         LM LM Model                 Backend  Offload  "
                       "Quant   Init   Gen  Wall(s)  Peak(GB) Status"))
      << text;
  EXPECT_TRUE(has_line(text,
                       "    8GB tier4         Y acestep-5Hz-lm-0.6B      vllm     Y        "
                       "int8       ✅     ✅    12.30      7.10 PASS"))
      << text;
  EXPECT_TRUE(has_line(text,
                       "    4GB tier1         N -                        pt       N        "
                       "-          ❌     ❌     0.50      3.50 Init OOM: out of memory"))
      << text;
  EXPECT_TRUE(has_line(text, "  Total: 2 tests run, 1 PASSED, 1 FAILED")) << text;
  EXPECT_FALSE(contains(text, "Variant")) << text;
  EXPECT_FALSE(contains(text, "Plan(GB)")) << text;
  EXPECT_FALSE(contains(text, "differ")) << text;
}

TEST(TierReportSummary, StatusIsTheErrorCutAt28CharactersAndDots) {
  const std::vector<TierRunRecord> runs = {
      tier_run(6, "tier2", "default", false, 5.5, "DiT init failed: 0123456789abcdefghij"),
      tier_run(7, "tier3", "default", false, 5.5, "exactly twenty-eight chars!!"),
      tier_run(8, "tier4", "default", false, 5.5, "Init OOM — " + std::string(40, 'x')),
  };
  const std::string text = tier_summary_table(runs);
  EXPECT_TRUE(contains(line_with(text, "tier2"), " DiT init failed: 0123456789a..")) << text;
  EXPECT_FALSE(contains(text, "0123456789ab")) << text;
  EXPECT_TRUE(contains(line_with(text, "tier3"), " exactly twenty-eight chars!!")) << text;
  EXPECT_FALSE(contains(line_with(text, "tier3"), "..")) << text;
  // 28 characters, not bytes: "—" is one.
  EXPECT_TRUE(contains(line_with(text, "tier4"), " Init OOM — xxxxxxxxxxxxxxxxx..")) << text;
  EXPECT_TRUE(contains(text, "Total: 3 tests run, 0 PASSED, 3 FAILED")) << text;
}

TEST(TierReportSummary, FailureWithoutErrorSaysFail) {
  TierRunRecord run = tier_run(8, "tier4", "default", false, 1.0);
  run.error.reset();
  EXPECT_TRUE(contains(line_with(tier_summary_table({run}), "tier4"), " FAIL"));
}

TEST(TierReportSummary, VariantColumnOnlyWhenAVariantRan) {
  std::vector<TierRunRecord> runs = two_default_runs();
  EXPECT_FALSE(contains(tier_summary_table(runs), "Variant"));
  runs.push_back(tier_run(8, "tier4", "no-quant", true, 7.6));
  const std::string text = tier_summary_table(runs);
  EXPECT_TRUE(has_line(text,
                       "   VRAM Tier       Variant         LM LM Model                 "
                       "Backend  Offload  Quant   Init   Gen  Wall(s)  Peak(GB) Status"))
      << text;
  EXPECT_TRUE(has_line(text,
                       "    8GB tier4      no-quant         N -                        pt  "
                       "     N        -          ✅     ✅     0.00      7.60 PASS"))
      << text;
  EXPECT_TRUE(contains(line_with(text, "4GB"), " default ")) << text;
}

TEST(TierReportSummary, LmModelCutAndDashWithoutLm) {
  TierRunRecord long_name = tier_run(16, "tier6a", "default", true, 9);
  long_name.config.use_lm = true;
  long_name.config.lm_model = "acestep-5Hz-lm-1.7B-v4-experimental";
  TierRunRecord fits = long_name;
  fits.config.tier = "tier6b";
  fits.config.lm_model = "acestep-5Hz-lm-1.7B-v4";  // 22 characters: whole
  TierRunRecord lm_off = tier_run(12, "tier5", "default", true, 8);
  lm_off.config.lm_model = "acestep-5Hz-lm-1.7B";  // named but not used
  const std::string text = tier_summary_table({long_name, fits, lm_off});
  EXPECT_TRUE(contains(line_with(text, "tier6a"), " Y acestep-5Hz-lm-1.7B-v4.. ")) << text;
  EXPECT_TRUE(contains(line_with(text, "tier6b"), " Y acestep-5Hz-lm-1.7B-v4   ")) << text;
  EXPECT_TRUE(contains(line_with(text, "tier5"), " N - ")) << text;
}

TEST(TierReportSummary, FractionalSizeKeepsItsFraction) {
  EXPECT_EQ(vram_label(8), "8GB");
  EXPECT_EQ(vram_label(7.5), "7.5GB");
  EXPECT_EQ(vram_label(11.25), "11.25GB");
  const std::string text = tier_summary_table({tier_run(7.5, "tier4", "default", true, 6)});
  EXPECT_TRUE(contains(text, "\n  7.5GB tier4 ")) << text;
}

TEST(TierReportSummary, PlanColumnAndMarksWithBothEngines) {
  TierRunRecord same = tier_run(8, "tier4", "default", true, 7.1);
  same.engine = "both";
  same.planned_peak_gb = 7.1;
  same.measured_peak_gb = 7.1;
  TierRunRecord differs = tier_run(12, "tier5", "default", true, 9.25);
  differs.engine = "both";
  differs.planned_peak_gb = 9.0;
  differs.measured_peak_gb = 9.25;
  differs.planned_matches = false;
  const std::string text = tier_summary_table({same, differs});
  EXPECT_TRUE(has_line(text,
                       "   VRAM Tier         LM LM Model                 Backend  Offload  "
                       "Quant   Init   Gen  Wall(s)  Peak(GB)   Plan(GB) Status"))
      << text;
  EXPECT_TRUE(contains(line_with(text, "tier4"), "     7.10       7.10 PASS")) << text;
  EXPECT_TRUE(contains(line_with(text, "tier5"), "     9.25≠      9.00 PASS")) << text;
  EXPECT_TRUE(has_line(text, "  Planned vs measured peak: 1 of 2 rows differ (marked ≠)")) << text;
  EXPECT_TRUE(has_line(text, "  Total: 2 tests run, 2 PASSED, 0 FAILED")) << text;

  differs.planned_matches = true;
  const std::string agreeing = tier_summary_table({same, differs});
  EXPECT_FALSE(contains(agreeing, "≠")) << agreeing;
  EXPECT_TRUE(has_line(agreeing, "  Planned vs measured peak: 0 of 2 rows differ")) << agreeing;
}

TEST(TierReportSummary, NoPlanColumnForOneEngine) {
  TierRunRecord measured = tier_run(8, "tier4", "default", true, 7.1);
  measured.engine = "measured";
  measured.measured_peak_gb = 7.1;
  const std::string text = tier_summary_table({measured});
  EXPECT_FALSE(contains(text, "Plan(GB)")) << text;
  EXPECT_FALSE(contains(text, "differ")) << text;
}

TEST(TierReportSummary, NoRuns) {
  const std::string text = tier_summary_table({});
  EXPECT_TRUE(has_line(text, "TIER TEST SUMMARY")) << text;
  EXPECT_TRUE(has_line(text, "  Total: 0 tests run, 0 PASSED, 0 FAILED")) << text;
}

// ---- boundary (12.5) ----

TEST(TierReportBoundary, FirstPassIsTheMinimumAndTheLastFailureIsShown) {
  const std::string error_70 = "Init OOM: " + std::string(60, 'e');
  // Out of order: the analysis sorts by simulated size.
  const std::vector<TierRunRecord> runs = {
      tier_run(16, "tier6a", "no-quant", true, 12.5),
      tier_run(10, "tier4", "no-quant", false, 7.5, error_70),  // nearest below the first pass
      tier_run(12, "tier5", "no-quant", true, 10.256),
      tier_run(6, "tier2", "no-quant", false, 5.5, "an earlier failure"),
      tier_run(8, "tier4", "default", false, 7.5, "a default run with INT8"),
  };
  const std::string text = boundary_analysis(runs, guide_tiers());
  EXPECT_TRUE(has_line(text, "BOUNDARY ANALYSIS")) << text;
  EXPECT_TRUE(has_line(text, "  Without INT8 Quantization:")) << text;
  EXPECT_TRUE(has_line(text, "    Minimum tier:  tier5 (12GB)")) << text;
  EXPECT_TRUE(has_line(text, "    Peak VRAM:     10.26GB")) << text;
  EXPECT_TRUE(has_line(text, "    Last failure:  tier4 (10GB) — " + error_70.substr(0, 60)))
      << text;
  EXPECT_FALSE(contains(text, "a default run with INT8")) << text;
  EXPECT_FALSE(contains(text, "an earlier failure")) << text;
  EXPECT_TRUE(has_line(text, "  No INT8 Quantization                          tier5      12GB"))
      << text;
  EXPECT_TRUE(has_line(text, "  No CPU Offload (all models on GPU)            N/A        N/A"))
      << text;
}

TEST(TierReportBoundary, CompactTableAndNote) {
  const std::vector<TierRunRecord> runs = {
      tier_run(12, "tier5", "no-quant", true, 10),
      tier_run(16, "tier6a", "no-offload", true, 14),
  };
  const std::vector<std::string> lines = report_lines(boundary_analysis(runs, guide_tiers()));
  const std::vector<std::string> table = {
      "  ------------------------------------------------------------",
      "  Capability                                    Min Tier   VRAM",
      "  ------------------------------------------------------------",
      "  No INT8 Quantization                          tier5      12GB",
      "  No CPU Offload (all models on GPU)            tier6a     16GB",
      "  ------------------------------------------------------------",
      "",
      "  Note: these boundaries are empirical and depend on:",
  };
  const auto start = std::find(lines.begin(), lines.end(), table[1]);
  ASSERT_NE(start, lines.end());
  ASSERT_GE(start - lines.begin(), 1);
  ASSERT_GE(lines.end() - start, static_cast<std::ptrdiff_t>(table.size()) - 1);
  EXPECT_EQ(std::vector<std::string>(start - 1, start - 1 + table.size()), table);
}

TEST(TierReportBoundary, DefaultRunsCountWhereTheirTierAlreadyHasItOff) {
  TierRunRecord by_name = tier_run(12, "tier6b", "default", true, 9);  // --tier by hand
  const std::vector<TierRunRecord> runs = {
      tier_run(16, "tier6a", "default", true, 10),        // INT8 on: not counted
      by_name,                                            // tier6b: INT8 and offload off
      tier_run(24, "unknown-name", "default", true, 11),  // by size: unlimited
  };
  const std::string text = boundary_analysis(runs, guide_tiers());
  EXPECT_TRUE(has_line(text, "  No INT8 Quantization                          tier6b     12GB"))
      << text;
  EXPECT_TRUE(has_line(text, "  No CPU Offload (all models on GPU)            tier6b     12GB"))
      << text;
  EXPECT_FALSE(contains(text, "tier6a")) << text;

  // Unknown names fall back to the size: 24 GB is unlimited, 12 GB is tier5
  // (INT8 on), so only the 24 GB run counts.
  const std::vector<TierRunRecord> by_size = {tier_run(12, "custom", "default", true, 9),
                                              tier_run(24, "custom", "default", true, 11)};
  const std::string sized = boundary_analysis(by_size, guide_tiers());
  EXPECT_TRUE(has_line(sized, "    Minimum tier:  custom (24GB)")) << sized;
  EXPECT_FALSE(contains(sized, "(12GB)")) << sized;
}

TEST(TierReportBoundary, NoOffloadNeedsOffloadAndQuantizationOffInTheTier) {
  // tier5 (CPU offload, INT8) default: neither; a no-quant run counts only
  // for the INT8 capability.
  const std::vector<TierRunRecord> runs = {tier_run(12, "tier5", "default", true, 9),
                                           tier_run(12, "tier5", "no-quant", true, 9.5)};
  const std::string text = boundary_analysis(runs, guide_tiers());
  EXPECT_TRUE(has_line(text, "  No INT8 Quantization                          tier5      12GB"))
      << text;
  EXPECT_TRUE(has_line(text, "  No CPU Offload (all models on GPU)            N/A        N/A"))
      << text;
  EXPECT_TRUE(has_line(text, "    Peak VRAM:     9.50GB")) << text;
}

TEST(TierReportBoundary, NothingPassedListsEveryFailure) {
  const std::vector<TierRunRecord> runs = {
      tier_run(12, "tier5", "no-offload", false, 11.5, "Init OOM: twelve"),
      tier_run(8, "tier4", "no-offload", false, 7.5, "Init OOM: eight"),
  };
  const std::string text = boundary_analysis(runs, guide_tiers());
  const std::vector<std::string> lines = report_lines(text);
  const auto heading =
      std::find(lines.begin(), lines.end(), "  Without CPU Offload (and no quantization):");
  ASSERT_NE(heading, lines.end()) << text;
  ASSERT_GE(lines.end() - heading, 4) << text;
  EXPECT_EQ(heading[1], "    ❌ No tier passed: every tested tier failed.");
  EXPECT_EQ(heading[2], "       tier4 (8GB) — Init OOM: eight");
  EXPECT_EQ(heading[3], "       tier5 (12GB) — Init OOM: twelve");
  EXPECT_FALSE(contains(text, "Minimum tier:")) << text;
  EXPECT_TRUE(has_line(text, "  No CPU Offload (all models on GPU)            N/A        N/A"))
      << text;
}

TEST(TierReportBoundary, NothingRan) {
  const std::string text =
      boundary_analysis({tier_run(8, "tier4", "default", true, 6)}, guide_tiers());
  const std::vector<std::string> lines = report_lines(text);
  for (const char* capability :
       {"  Without INT8 Quantization:", "  Without CPU Offload (and no quantization):"}) {
    const auto heading = std::find(lines.begin(), lines.end(), capability);
    ASSERT_NE(heading, lines.end()) << text;
    ASSERT_NE(heading + 1, lines.end()) << text;
    EXPECT_EQ(heading[1], "    ⚠️ No run tested this capability.");
  }
  EXPECT_TRUE(has_line(text, "  No INT8 Quantization                          N/A        N/A"))
      << text;
}

// ---- batch boundary (12.6) ----

TEST(TierReportBatch, MaxPassingBatchFailAndNotTested) {
  const std::vector<TierRunRecord> runs = {
      // 4 GB: batch 1 fails without the LM, the LM was not tried.
      batch_run(4, "tier1", false, 1, false, 3.5),
      // 8 GB: up to 8 without the LM, up to 4 with it (8 failed).
      batch_run(8, "tier4", false, 1, true, 5.0),
      batch_run(8, "tier4", false, 2, true, 5.5),
      batch_run(8, "tier4", false, 4, true, 6.25),
      batch_run(8, "tier4", false, 8, true, 7.25),
      batch_run(8, "tier4", true, 1, true, 6.0),
      batch_run(8, "tier4", true, 2, true, 6.5),
      batch_run(8, "tier4", true, 4, true, 7.0),
      batch_run(8, "tier4", true, 8, false, 7.5),
      // 12 GB: the configured 4 and 2 hold.
      batch_run(12, "tier5", false, 1, true, 8.0),
      batch_run(12, "tier5", false, 2, true, 9.0),
      batch_run(12, "tier5", false, 4, true, 10.0),
      batch_run(12, "tier5", false, 8, false, 11.5),
      batch_run(12, "tier5", true, 1, true, 9.0),
      batch_run(12, "tier5", true, 2, true, 10.5),
      batch_run(12, "tier5", true, 4, false, 11.5),
      // 16 GB: the LM fails at batch 1.
      batch_run(16, "tier6a", false, 1, true, 8.0),
      batch_run(16, "tier6a", true, 1, false, 15.5),
      // Not batch runs: ignored.
      tier_run(20, "tier6b", "default", true, 9),
      tier_run(20, "tier6b", "no-quant", true, 9),
  };
  const std::string text = batch_boundary_analysis(runs, guide_tiers());
  EXPECT_TRUE(has_line(text, "BATCH BOUNDARY ANALYSIS")) << text;
  EXPECT_TRUE(has_line(text,
                       "     VRAM  Tier           Max Batch (no LM)   Peak VRAM   Ma"
                       "x Batch (with LM)   Peak VRAM"))
      << text;
  EXPECT_TRUE(has_line(text,
                       "      4GB  tier1                       FAIL           -     "
                       "              N/A           -"))
      << text;
  EXPECT_TRUE(has_line(text,
                       "      8GB  tier4                          8      7.25GB     "
                       "                4      7.00GB"))
      << text;
  EXPECT_TRUE(has_line(text,
                       "     12GB  tier5                          4     10.00GB     "
                       "                2     10.50GB"))
      << text;
  EXPECT_TRUE(has_line(text,
                       "     16GB  tier6a                         1      8.00GB     "
                       "             FAIL           -"))
      << text;
  EXPECT_FALSE(contains(text, "20GB")) << text;

  EXPECT_TRUE(has_line(text, "  Comparison with current GPU_TIER_CONFIGS:")) << text;
  EXPECT_TRUE(has_line(text,
                       "     VRAM  Tier           Config (no LM)   Tested (no LM)   "
                       "Config (LM)   Tested (LM)  Recommendation"))
      << text;
  // The guide's table: tier1 1/1, tier4 4/2, tier5 4/2, tier6a 8/4.
  EXPECT_TRUE(has_line(text,
                       "      4GB  tier1                       1             FAIL         "
                       "    1           N/A  no_lm: 1→FAIL"))
      << text;
  EXPECT_TRUE(has_line(text,
                       "      8GB  tier4                       4                8         "
                       "    2             4  no_lm: 4→8, lm: 2→4"))
      << text;
  EXPECT_TRUE(has_line(text,
                       "     12GB  tier5                       4                4         "
                       "    2             2  OK"))
      << text;
  EXPECT_TRUE(has_line(text,
                       "     16GB  tier6a                      8                1         "
                       "    4          FAIL  no_lm: 8→1, lm: 4→FAIL"))
      << text;
  EXPECT_TRUE(contains(text, "  Note: batch boundaries are empirical and depend on:")) << text;
}

TEST(TierReportBatch, ConfiguredMaximaComeFromTheTable) {
  const std::vector<TierRunRecord> runs = {
      batch_run(8, "tier4", false, 1, true, 5.0), batch_run(8, "tier4", false, 2, true, 5.5),
      batch_run(8, "tier4", false, 4, true, 6.0), batch_run(8, "tier4", false, 8, false, 7.5)};
  TierTable table = guide_tiers();
  const std::string guide_text = batch_boundary_analysis(runs, table);
  EXPECT_FALSE(contains(guide_text, "→")) << guide_text;
  EXPECT_TRUE(contains(guide_text, "           2           N/A  OK\n")) << guide_text;
  for (TierRecord& tier : table.tiers) tier.max_batch_without_lm = 2;
  const std::string text = batch_boundary_analysis(runs, table);
  EXPECT_TRUE(contains(text, "           2           N/A  no_lm: 2→4\n")) << text;
}

TEST(TierReportBatch, NoBatchRuns) {
  const std::string text =
      batch_boundary_analysis({tier_run(8, "tier4", "default", true, 6)}, guide_tiers());
  EXPECT_TRUE(has_line(text, "BATCH BOUNDARY ANALYSIS")) << text;
  EXPECT_TRUE(has_line(text, "  ⚠️ No batch-boundary runs to analyse.")) << text;
  EXPECT_FALSE(contains(text, "Comparison")) << text;
}

// ---- JSON run record (12.7) ----

std::vector<std::string> keys_of(const nlohmann::ordered_json& object) {
  std::vector<std::string> keys;
  for (auto it = object.begin(); it != object.end(); ++it) keys.push_back(it.key());
  return keys;
}

TEST(TierReportJson, FieldOrderAndNullsOfAFailedPlannedRun) {
  TierRunRecord run = tier_run(8, "tier4", "no-offload", false, 7.4567, "Init OOM: x");
  run.config.lm_model = "acestep-5Hz-lm-0.6B";  // not used: null
  run.config.lm_backend = "vllm";
  run.config.offload = OffloadMode::none;
  run.wall_time = 0.004;
  const nlohmann::ordered_json json = tier_run_json(run);
  EXPECT_EQ(keys_of(json), (std::vector<std::string>{"tier_gb",
                                                     "tier",
                                                     "test_variant",
                                                     "use_lm",
                                                     "lm_model",
                                                     "lm_backend",
                                                     "offload",
                                                     "offload_dit",
                                                     "quantization",
                                                     "duration",
                                                     "batch_size",
                                                     "init_success",
                                                     "gen_success",
                                                     "wall_time",
                                                     "error",
                                                     "peak_vram_gb",
                                                     "engine",
                                                     "planned_peak_vram_gb",
                                                     "measured_peak_vram_gb",
                                                     "planned_matches"}));
  EXPECT_EQ(json.dump(),
            R"({"tier_gb":8,"tier":"tier4","test_variant":"no-offload","use_lm":false,)"
            R"("lm_model":null,"lm_backend":"vllm","offload":false,"offload_dit":false,)"
            R"("quantization":null,"duration":30,"batch_size":1,"init_success":true,)"
            R"("gen_success":false,"wall_time":0.0,"error":"Init OOM: x","peak_vram_gb":7.457,)"
            R"("engine":"planned","planned_peak_vram_gb":null,"measured_peak_vram_gb":null,)"
            R"("planned_matches":true})");
}

TEST(TierReportJson, SuccessfulMeasuredRunWithStageTimes) {
  TierRunRecord run = tier_run(7.5, "tier4", "default", true, 7.1);
  run.config.use_lm = true;
  run.config.lm_model = "acestep-5Hz-lm-0.6B";
  run.config.offload = OffloadMode::cpu_dit;
  run.config.quantization = true;
  run.config.duration_s = 60;
  run.config.batch_size = 2;
  run.wall_time = 12.3456;
  run.lm_time = 3.2;
  run.dit_time = 5.104;
  run.vae_time = 1.9;
  run.engine = "both";
  run.planned_peak_gb = 7.0;
  run.measured_peak_gb = 7.1;
  run.planned_matches = false;
  const nlohmann::ordered_json json = tier_run_json(run);
  EXPECT_EQ(json.dump(),
            R"({"tier_gb":7.5,"tier":"tier4","test_variant":"default","use_lm":true,)"
            R"("lm_model":"acestep-5Hz-lm-0.6B","lm_backend":"pt","offload":true,)"
            R"("offload_dit":true,"quantization":"int8_weight_only","duration":60,)"
            R"("batch_size":2,"init_success":true,"gen_success":true,"wall_time":12.35,)"
            R"("error":null,"peak_vram_gb":7.1,"lm_time":3.2,"dit_time":5.1,"vae_time":1.9,)"
            R"("engine":"both","planned_peak_vram_gb":7.0,"measured_peak_vram_gb":7.1,)"
            R"("planned_matches":false})");
}

TEST(TierReportJson, CpuOffloadKeepsTheDitOnTheDevice) {
  TierRunRecord run = tier_run(12, "tier5", "default", true, 9);
  run.config.offload = OffloadMode::cpu;
  run.dit_time = 2.0;  // only some stage times
  const nlohmann::ordered_json json = tier_run_json(run);
  EXPECT_EQ(json["offload"], true);
  EXPECT_EQ(json["offload_dit"], false);
  EXPECT_FALSE(json.contains("lm_time"));
  EXPECT_TRUE(json.contains("dit_time"));
  EXPECT_FALSE(json.contains("vae_time"));
  EXPECT_TRUE(json["tier_gb"].is_number_integer());
}

TEST(TierReportJson, RunsArrayKeepsTheRunOrder) {
  const nlohmann::ordered_json runs = tier_runs_json(
      {tier_run(16, "tier6a", "default", true, 9), tier_run(4, "tier1", "default", true, 3)});
  ASSERT_TRUE(runs.is_array());
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0]["tier"], "tier6a");
  EXPECT_EQ(runs[1]["tier"], "tier1");
  EXPECT_EQ(tier_runs_json({}).dump(), "[]");
}

}  // namespace
}  // namespace acefit::profile
