// The profiler (docs/PROFILING.md): which runs a tier-test sweep makes and
// skips (a scripted runner), planned == measured on the sim device at tiny
// dims, the thresholds derive finds at the shipped dims (the figures of
// docs/MEMORY.md), the comparison with the guide's tiers, and a derived tier
// table that the tier table parser reads back.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "device/sim/sim_device.h"
#include "golden_support.h"
#include "profile/derive.h"
#include "profile/tier_engines.h"
#include "profile/tier_test.h"
#include "test_support.h"
#include "tokenizer_test_support.h"

namespace acefit::testing {
namespace {

using profile::TierRunConfig;
using profile::TierRunRecord;

constexpr std::uint64_t kProfileGiB = 1ull << 30;

std::vector<std::string> variants_of(const std::vector<TierRunRecord>& records, double gb) {
  std::vector<std::string> out;
  for (const auto& r : records)
    if (r.config.tier_gb == gb) out.push_back(r.config.variant);
  return out;
}

bool any_skip_contains(const profile::TierTestResult& result, const std::string& text) {
  return std::any_of(result.skipped.begin(), result.skipped.end(),
                     [&](const std::string& s) { return s.find(text) != std::string::npos; });
}

// A runner whose runs pass up to a batch limit per (size, LM).
struct ScriptedRunner {
  std::map<double, int> max_batch_no_lm, max_batch_lm;
  std::vector<TierRunConfig> seen;
  TierRunRecord operator()(const TierRunConfig& config) {
    seen.push_back(config);
    TierRunRecord record;
    record.config = config;
    record.init_success = true;
    const auto& limits = config.use_lm ? max_batch_lm : max_batch_no_lm;
    const auto it = limits.find(config.tier_gb);
    record.gen_success = it == limits.end() || config.batch_size <= it->second;
    if (!record.gen_success) record.error = "OOM: scripted";
    record.peak_vram_gb = config.batch_size;
    return record;
  }
};

profile::TierTestOptions sweep_options() {
  profile::TierTestOptions options;
  options.tiers_gb = {4, 8, 20};
  options.boundary = true;
  options.batch_boundary = true;
  options.lm_folders = {"acestep-5Hz-lm-0.6B", "acestep-5Hz-lm-1.7B"};
  return options;
}

TEST(TierSweep, VariantsSkipsAndBatchSeriesStopAtTheFirstFailure) {
  const TierTable table = unwrap(default_tier_table());
  ScriptedRunner script;
  script.max_batch_no_lm = {{4, 0}, {8, 2}};  // 4 GB: even batch 1 fails
  script.max_batch_lm = {{8, 1}};
  std::vector<std::size_t> upper_bounds;
  const auto result = profile::run_tier_test(
      sweep_options(), table, [&](const TierRunConfig& c) { return script(c); },
      [&](std::size_t index, std::size_t left, const TierRunConfig&) {
        upper_bounds.push_back(index + left);
      });
  // tier1 (4 GB): INT8 on, so no-quant runs; no-offload is skipped below
  // 8 GB; the batch series stops at batch 1; no LM series (tier1 has none).
  EXPECT_EQ(variants_of(result.records, 4),
            (std::vector<std::string>{"default", "no-quant", "batch-noLM-1"}));
  EXPECT_TRUE(any_skip_contains(result, "4GB tier1 no-offload: below 8 GB"));
  EXPECT_TRUE(any_skip_contains(result, "4GB tier1 batch-LM-*: the tier has no LM"));
  EXPECT_TRUE(any_skip_contains(result, "4GB tier1 batch-noLM-*: stopped at the first failure"));
  // tier4 (8 GB): both boundary variants; batches 1, 2, 4 (4 fails); LM 1, 2.
  EXPECT_EQ(variants_of(result.records, 8),
            (std::vector<std::string>{"default", "no-quant", "no-offload", "batch-noLM-1",
                                      "batch-noLM-2", "batch-noLM-4", "batch-LM-1", "batch-LM-2"}));
  // tier6b (20 GB): quantization and offload already off: both skipped.
  EXPECT_EQ(variants_of(result.records, 20),
            (std::vector<std::string>{"default", "batch-noLM-1", "batch-noLM-2", "batch-noLM-4",
                                      "batch-noLM-8", "batch-LM-1", "batch-LM-2", "batch-LM-4",
                                      "batch-LM-8"}));
  EXPECT_TRUE(any_skip_contains(result, "20GB tier6b no-quant: the tier has quantization off"));
  EXPECT_TRUE(any_skip_contains(result, "20GB tier6b no-offload: the tier has offload and"));
  // The progress bound never grows and ends at the number of runs made.
  ASSERT_FALSE(upper_bounds.empty());
  EXPECT_TRUE(std::is_sorted(upper_bounds.rbegin(), upper_bounds.rend()));
  EXPECT_EQ(upper_bounds.back(), result.records.size());
  EXPECT_EQ(profile::tier_test_upper_bound(sweep_options(), table), upper_bounds.front());
}

TEST(TierSweep, EachRunTakesItsTiersSettingsAndTheVariantsOverrides) {
  const TierTable table = unwrap(default_tier_table());
  ScriptedRunner script;
  profile::TierTestOptions options = sweep_options();
  options.tiers_gb = {8};
  options.with_lm = true;
  options.tier_duration_s = 600;  // above tier4's limits: capped
  (void)profile::run_tier_test(options, table, [&](const TierRunConfig& c) { return script(c); });
  const TierRecord& tier4 = *table.find("tier4");
  std::map<std::string, TierRunConfig> by_variant;
  for (const auto& c : script.seen) by_variant[c.variant] = c;
  const TierRunConfig& d = by_variant.at("default");
  EXPECT_EQ(d.tier, "tier4");
  EXPECT_TRUE(d.use_lm);
  EXPECT_EQ(d.lm_model, "acestep-5Hz-lm-0.6B");  // tier4's recommended size
  EXPECT_EQ(d.lm_backend, tier4.recommended_backend);
  EXPECT_EQ(d.offload, tier4.offload);
  EXPECT_EQ(d.quantization, tier4.quantization_int8);
  EXPECT_EQ(d.duration_s, tier4.max_duration_with_lm_s);
  EXPECT_EQ(d.batch_size, 1);
  EXPECT_EQ(d.inference_steps, 8);
  EXPECT_EQ(d.seed, 42u);
  EXPECT_FALSE(by_variant.at("no-quant").quantization);
  EXPECT_EQ(by_variant.at("no-quant").offload, tier4.offload);
  EXPECT_FALSE(by_variant.at("no-offload").quantization);
  EXPECT_EQ(by_variant.at("no-offload").offload, OffloadMode::none);
  EXPECT_FALSE(by_variant.at("batch-noLM-4").use_lm);
  EXPECT_EQ(by_variant.at("batch-noLM-4").batch_size, 4);
  EXPECT_EQ(by_variant.at("batch-noLM-4").duration_s, tier4.max_duration_without_lm_s);
  EXPECT_TRUE(by_variant.at("batch-LM-8").use_lm);
  EXPECT_EQ(by_variant.at("batch-LM-8").batch_size, 8);  // the tier's limit does not clamp it
}

TEST(TierSweep, TheLmFolderIsTheRecommendedSizeElseTheLargestAllowed) {
  const TierTable table = unwrap(default_tier_table());
  const TierRecord& tier5 = *table.find("tier5");  // 0.6B and 1.7B, 1.7B recommended
  EXPECT_EQ(profile::tier_lm_folder(tier5, {"acestep-5Hz-lm-0.6B", "acestep-5Hz-lm-1.7B-v4"}),
            "acestep-5Hz-lm-1.7B-v4");
  EXPECT_EQ(profile::tier_lm_folder(tier5, {"acestep-5Hz-lm-0.6B", "acestep-5Hz-lm-4B"}),
            "acestep-5Hz-lm-0.6B");
  EXPECT_EQ(profile::tier_lm_folder(tier5, {"acestep-5Hz-lm-4B"}), std::nullopt);
  EXPECT_EQ(profile::tier_lm_folder(*table.find("tier1"), {"acestep-5Hz-lm-0.6B"}), std::nullopt);
}

// Both engines on the sim device at tiny dims: every run's planned peak is
// the measured one, to the byte.
TEST(TierEngines, PlannedEqualsMeasuredOnTheSimDevice) {
  const TierTable table = unwrap(default_tier_table());
  profile::TierEngineOptions engine;
  engine.base.checkpoints = lm_checkpoints();
  engine.example = profile::profiler_example_request();
  engine.device = make_sim_device(8 * kProfileGiB);
  engine.pool = &test_pool();
  engine.engine = profile::TierEngine::both;
  profile::TierTestOptions options;
  options.tiers_gb = {8};
  options.with_lm = true;
  options.boundary = true;
  options.tier_duration_s = 10;
  options.inference_steps = 2;
  options.lm_folders = {"acestep-5Hz-lm-0.6B"};
  const auto result = profile::run_tier_test(
      options, table, [&](const TierRunConfig& c) { return profile::run_tier_config(c, engine); });
  ASSERT_EQ(result.records.size(), 3u);  // default (cpu+dit, INT8), no-quant, no-offload
  int with_lm = 0;
  for (const TierRunRecord& r : result.records) {
    SCOPED_TRACE(r.config.tier + " " + r.config.variant);
    EXPECT_TRUE(profile::passed(r)) << r.error.value_or("");
    ASSERT_TRUE(r.planned_peak_gb && r.measured_peak_gb);
    EXPECT_TRUE(r.planned_matches);
    EXPECT_EQ(*r.planned_peak_gb, *r.measured_peak_gb);
    EXPECT_GT(*r.measured_peak_gb, 0.0);
    EXPECT_TRUE(r.dit_time && r.vae_time && r.lm_time);
    with_lm += r.config.use_lm ? 1 : 0;
  }
  EXPECT_EQ(with_lm, 3);
}

// A size too small: with the weights resident (no offload) the run fails
// to initialise, with them offloaded it fails to generate; each names why.
TEST(TierEngines, ASizeTooSmallFailsWithTheReason) {
  const TierTable table = unwrap(default_tier_table());
  profile::TierEngineOptions engine;
  engine.base.preset = SyntheticPreset::full;
  engine.example = profile::profiler_example_request();
  engine.device = make_sim_device(8 * kProfileGiB);
  engine.pool = &test_pool();
  profile::TierTestOptions options;
  const TierRecord& tier1 = table.tier_for_memory(1);
  const TierRunRecord resident = profile::run_tier_config(
      profile::tier_run_config(1, tier1, options, "no-offload", false, 1), engine);
  EXPECT_FALSE(resident.init_success);
  EXPECT_EQ(resident.error.value_or("").rfind("Init OOM: the weights need", 0), 0u)
      << resident.error.value_or("");
  const TierRunRecord offloaded = profile::run_tier_config(
      profile::tier_run_config(1, tier1, options, "default", false, 1), engine);
  EXPECT_TRUE(offloaded.init_success);
  EXPECT_FALSE(offloaded.gen_success);
  EXPECT_EQ(offloaded.error.value_or("").rfind("OOM: ", 0), 0u) << offloaded.error.value_or("");
  EXPECT_GT(offloaded.peak_vram_gb, 0.5);  // the plan's peak, past the 0.5 GiB budget
}

// The smallest budget of each configuration at the shipped dims, 60 s at
// batch 1: the figures docs/MEMORY.md quotes.
TEST(Derive, ThresholdsAtTheShippedDimsAreTheDocumentedOnes) {
  ASSERT_TRUE(std::filesystem::exists(qwen3_tokenizer_dir() + "/tokenizer.json"))
      << qwen3_install_hint();
  profile::DeriveOptions options;
  options.base.preset = SyntheticPreset::full;
  options.base.tokenizer_dir = qwen3_tokenizer_dir();
  options.like = make_sim_device(8 * kProfileGiB);
  options.pool = &test_pool();
  profile::Deriver deriver = unwrap(profile::Deriver::create(options));
  const auto thresholds = unwrap(deriver.thresholds());
  ASSERT_EQ(thresholds.size(), 4u);
  const double documented[] = {5.59, 4.91, 3.03, 1.58};  // docs/MEMORY.md
  for (std::size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(thresholds[i].config.name());
    ASSERT_TRUE(thresholds[i].min_budget_bytes.has_value());
    const double gib = static_cast<double>(*thresholds[i].min_budget_bytes) / kProfileGiB;
    EXPECT_NEAR(gib, documented[i], 0.005);
    // The threshold fits and 1/64 GiB less does not.
    profile::DerivedLimits at = unwrap(deriver.limits(*thresholds[i].min_budget_bytes));
    EXPECT_TRUE(at.fits);
    if (i == 3) {
      profile::DerivedLimits below =
          unwrap(deriver.limits(*thresholds[i].min_budget_bytes - kProfileGiB / 64));
      EXPECT_FALSE(below.fits);
    }
  }
}

TEST(Derive, TheTierTableRoundTripsThroughTheParser) {
  profile::DeriveOptions options;
  options.base.preset = SyntheticPreset::full;
  options.like = make_sim_device(8 * kProfileGiB);
  options.pool = &test_pool();
  options.ladder = {{OffloadMode::none, false}, {OffloadMode::cpu_dit, true}};
  profile::Deriver deriver = unwrap(profile::Deriver::create(options));
  const TierTable table = unwrap(deriver.tier_table());
  ASSERT_EQ(table.tiers.size(), 3u);  // nothing fits; cpu+dit INT8; none
  EXPECT_EQ(table.tiers[0].min_memory_gib, 0);
  EXPECT_EQ(table.tiers[1].offload, OffloadMode::cpu_dit);
  EXPECT_TRUE(table.tiers[1].quantization_int8);
  EXPECT_EQ(table.tiers[2].offload, OffloadMode::none);
  EXPECT_FALSE(table.tiers[2].quantization_int8);
  EXPECT_LT(table.tiers[1].min_memory_gib, table.tiers[2].min_memory_gib);
  const TierTable again =
      unwrap(parse_tier_table(profile::tier_table_json(table, "test"), "derived"));
  ASSERT_EQ(again.tiers.size(), table.tiers.size());
  for (std::size_t i = 0; i < table.tiers.size(); ++i) {
    const TierRecord& a = table.tiers[i];
    const TierRecord& b = again.tiers[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.min_memory_gib, b.min_memory_gib);
    EXPECT_EQ(a.offload, b.offload);
    EXPECT_EQ(a.quantization_int8, b.quantization_int8);
    EXPECT_EQ(a.max_duration_without_lm_s, b.max_duration_without_lm_s);
    EXPECT_EQ(a.max_batch_without_lm, b.max_batch_without_lm);
    EXPECT_EQ(a.lm_models, b.lm_models);
    EXPECT_EQ(a.recommended_backend, b.recommended_backend);
  }
  // A card at a tier's lower bound gets its limits: they were planned there.
  const TierRecord& none = table.tier_for_memory(table.tiers[2].min_memory_gib);
  EXPECT_EQ(none.name, table.tiers[2].name);
}

TEST(Derive, TheComparisonNamesEachDifferenceAndItsDirection) {
  const TierTable table = unwrap(default_tier_table());
  const TierRecord& tier4 = *table.find("tier4");  // cpu+dit, INT8, 0.6B, 480/600 s, batch 2/4
  profile::DerivedLimits limits;
  limits.fits = true;
  limits.config = {OffloadMode::cpu_dit, true};
  limits.max_duration_without_lm_s = tier4.max_duration_without_lm_s;
  limits.max_batch_without_lm = tier4.max_batch_without_lm;
  limits.lm = "acestep-5Hz-lm-0.6B";
  limits.lm_sizes = {"0.6B"};
  limits.max_duration_with_lm_s = tier4.max_duration_with_lm_s;
  limits.max_batch_with_lm = tier4.max_batch_with_lm;
  EXPECT_TRUE(profile::compare_with_tier(limits, tier4).empty());
  limits.max_duration_with_lm_s = 228;
  limits.max_batch_without_lm = 8;
  limits.config = {OffloadMode::none, false};
  const auto phrases = profile::compare_with_tier(limits, tier4);
  const auto has = [&](const std::string& text) {
    return std::any_of(phrases.begin(), phrases.end(),
                       [&](const std::string& p) { return p == text; });
  };
  EXPECT_TRUE(has("max duration with LM 480 s, derived 228 s (optimistic)"));
  EXPECT_TRUE(has("max batch without LM 4, derived 8 (conservative)"));
  EXPECT_TRUE(has("INT8 not needed (conservative)"));
  EXPECT_TRUE(has("offload cpu+dit, derived none (conservative)"));
  EXPECT_EQ(phrases.size(), 4u);
  // More offload than the guide, to hold a larger LM than it offers.
  const TierRecord& tier5 = *table.find("tier5");  // offload cpu, 1.7B
  profile::DerivedLimits larger = limits;
  larger.config = {OffloadMode::cpu_dit, false};
  larger.lm = "acestep-5Hz-lm-4B";
  const auto tier5_phrases = profile::compare_with_tier(larger, tier5);
  EXPECT_NE(std::find(tier5_phrases.begin(), tier5_phrases.end(),
                      "offload cpu, derived cpu+dit (to fit the 4B LM)"),
            tier5_phrases.end());
  larger.lm = "acestep-5Hz-lm-1.7B";
  const auto same_lm = profile::compare_with_tier(larger, tier5);
  EXPECT_NE(std::find(same_lm.begin(), same_lm.end(), "offload cpu, derived cpu+dit (optimistic)"),
            same_lm.end());
  profile::DerivedLimits nothing;
  EXPECT_EQ(profile::compare_with_tier(nothing, tier4),
            (std::vector<std::string>{"nothing fits the reference song here (optimistic)"}));
}

// A machine without a GPU: its limits are the derivation against its RAM.
TEST(Derive, HostLimitsGrowWithTheRam) {
  const HostLimits small = unwrap(profile::derive_host_limits(test_pool(), 6 * kProfileGiB));
  const HostLimits large = unwrap(profile::derive_host_limits(test_pool(), 64 * kProfileGiB));
  EXPECT_EQ(large.max_duration_s, 600);
  EXPECT_EQ(large.max_batch, 8);
  EXPECT_LE(small.max_duration_s, large.max_duration_s);
  EXPECT_LT(small.max_batch, large.max_batch);
  EXPECT_GE(small.max_batch, 1);
  EXPECT_EQ(small.available_bytes, 6 * kProfileGiB);
  const HostLimits none = unwrap(profile::derive_host_limits(test_pool(), kProfileGiB / 4));
  EXPECT_EQ(none.max_duration_s, 0);
  EXPECT_EQ(none.max_batch, 0);
}

}  // namespace
}  // namespace acefit::testing
