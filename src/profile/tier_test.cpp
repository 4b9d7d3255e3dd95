#include "profile/tier_test.h"

#include <algorithm>
#include <cstdio>

#include "profile/tier_report.h"

namespace acefit::profile {

namespace {

constexpr int kBoundaryBatches[] = {1, 2, 4, 8};
// Below this size an unquantized, unoffloaded DiT cannot fit, and upstream
// skips the no-offload variant (its CPU-decode fallback takes hours).
constexpr double kNoOffloadMinGb = 8;

bool tier_has_lm(const TierRecord& tier, const std::vector<std::string>& lm_folders) {
  return tier.init_lm_default && tier_lm_folder(tier, lm_folders).has_value();
}

struct SizePlan {
  bool no_quant = false, no_offload = false;
  bool lm_batches = false;
  std::vector<std::string> skipped;
};

SizePlan plan_size(double gb, const TierRecord& tier, const TierTestOptions& options) {
  SizePlan plan;
  const std::string where = vram_label(gb) + " " + tier.name + " ";
  if (options.boundary) {
    plan.no_quant = tier.quantization_int8;
    if (!plan.no_quant) plan.skipped.push_back(where + "no-quant: the tier has quantization off");
    if (gb < kNoOffloadMinGb) {
      plan.skipped.push_back(where +
                             "no-offload: below 8 GB an unquantized DiT without offload cannot "
                             "fit (upstream skips it too)");
    } else if (tier.offload == OffloadMode::none && !tier.quantization_int8) {
      plan.skipped.push_back(where + "no-offload: the tier has offload and quantization off");
    } else {
      plan.no_offload = true;
    }
  }
  if (options.batch_boundary) {
    plan.lm_batches = tier_has_lm(tier, options.lm_folders);
    if (!plan.lm_batches) {
      plan.skipped.push_back(where + "batch-LM-*: " +
                             (tier.lm_models.empty() || !tier.init_lm_default
                                  ? std::string("the tier has no LM")
                                  : std::string("no LM folder of a size the tier allows")));
    }
  }
  return plan;
}

}  // namespace

std::optional<std::string> tier_lm_folder(const TierRecord& tier,
                                          const std::vector<std::string>& lm_folders) {
  if (tier.lm_models.empty()) return std::nullopt;
  std::optional<std::string> best;
  int best_rank = -1;
  for (const std::string& folder : lm_folders) {
    const auto size = lm_size_of(folder);
    if (!size || !tier.allows_lm(*size)) continue;
    if (tier.recommended_lm && *size == *tier.recommended_lm) {
      // The recommended size wins; among its folders the plain name first.
      if (!best || lm_size_of(*best) != size || folder == lm_model_name(*size)) best = folder;
      best_rank = 1000;
      continue;
    }
    const int rank = static_cast<int>(std::find(std::begin(kLmSizes), std::end(kLmSizes), *size) -
                                      std::begin(kLmSizes));
    if (rank > best_rank) {
      best = folder;
      best_rank = rank;
    }
  }
  return best;
}

TierRunConfig tier_run_config(double tier_gb, const TierRecord& tier,
                              const TierTestOptions& options, const std::string& variant,
                              bool use_lm, int batch) {
  TierRunConfig config;
  config.tier_gb = tier_gb;
  config.tier = tier.name;
  config.variant = variant;
  const std::optional<std::string> lm = tier_lm_folder(tier, options.lm_folders);
  config.use_lm = use_lm && tier.init_lm_default && lm.has_value();
  if (config.use_lm) config.lm_model = lm;
  config.lm_backend = tier.recommended_backend;
  config.offload = tier.offload;
  config.quantization = tier.quantization_int8;
  if (variant == "no-quant") config.quantization = false;
  if (variant == "no-offload") {
    config.quantization = false;
    config.offload = OffloadMode::none;
  }
  config.duration_s = std::min(options.tier_duration_s, tier.max_duration_s(config.use_lm));
  config.batch_size = batch;
  config.inference_steps = options.inference_steps;
  config.seed = options.seed;
  return config;
}

std::string tier_header_text(double tier_gb, const TierRecord& tier,
                             const std::optional<std::string>& lm_folder) {
  std::string lms;
  for (const auto& size : tier.lm_models) lms += (lms.empty() ? "" : ", ") + size;
  std::string backends;
  for (const auto& b : tier.allowed_backends) backends += (backends.empty() ? "" : ", ") + b;
  char text[1024];
  std::snprintf(
      text, sizeof text,
      "Simulated %s: %s\n"
      "  LM init default: %s | LMs: %s | recommended: %s | on disk: %s\n"
      "  backend: %s (allowed: %s) | offload: %s | offload DiT: %s | quantization: %s\n"
      "  max duration: %d s with LM, %d s without | max batch: %d with LM, %d without\n",
      vram_label(tier_gb).c_str(), tier.label.empty() ? tier.name.c_str() : tier.label.c_str(),
      tier.init_lm_default ? "yes" : "no", lms.empty() ? "none" : lms.c_str(),
      tier.recommended_lm ? tier.recommended_lm->c_str() : "none",
      lm_folder ? lm_folder->c_str() : "none", tier.recommended_backend.c_str(), backends.c_str(),
      offloads_text_vae(tier.offload) ? "yes" : "no", offloads_dit(tier.offload) ? "yes" : "no",
      tier.quantization_int8 ? "int8_weight_only" : "none", tier.max_duration_with_lm_s,
      tier.max_duration_without_lm_s, tier.max_batch_with_lm, tier.max_batch_without_lm);
  return text;
}

std::size_t tier_test_upper_bound(const TierTestOptions& options, const TierTable& table) {
  std::size_t count = 0;
  for (const double gb : options.tiers_gb) {
    const TierRecord& tier = table.tier_for_memory(gb);
    const SizePlan plan = plan_size(gb, tier, options);
    count += 1 + (plan.no_quant ? 1 : 0) + (plan.no_offload ? 1 : 0);
    if (options.batch_boundary) count += std::size(kBoundaryBatches) * (plan.lm_batches ? 2 : 1);
  }
  return count;
}

TierTestResult run_tier_test(const TierTestOptions& options, const TierTable& table,
                             const TierRunner& runner, const TierProgress& progress,
                             const TierHeader& header) {
  TierTestResult result;
  const std::size_t upper = tier_test_upper_bound(options, table);
  std::size_t index = 0;
  std::size_t skipped_runs = 0;  // runs a stopped batch series will not make
  const auto run = [&](const TierRunConfig& config) {
    if (progress) progress(index, upper - skipped_runs - index, config);
    ++index;
    result.records.push_back(runner(config));
    return passed(result.records.back());
  };
  for (const double gb : options.tiers_gb) {
    const TierRecord& tier = table.tier_for_memory(gb);
    if (header) header(tier_header_text(gb, tier, tier_lm_folder(tier, options.lm_folders)));
    const SizePlan plan = plan_size(gb, tier, options);
    result.skipped.insert(result.skipped.end(), plan.skipped.begin(), plan.skipped.end());
    run(tier_run_config(gb, tier, options, "default", options.with_lm, 1));
    if (plan.no_quant) run(tier_run_config(gb, tier, options, "no-quant", options.with_lm, 1));
    if (plan.no_offload) run(tier_run_config(gb, tier, options, "no-offload", options.with_lm, 1));
    if (!options.batch_boundary) continue;
    // Batch limits do not clamp these runs: each runs the batch it names.
    for (const bool lm : {false, true}) {
      if (lm && !plan.lm_batches) continue;
      const std::string prefix = lm ? "batch-LM-" : "batch-noLM-";
      for (std::size_t i = 0; i < std::size(kBoundaryBatches); ++i) {
        const int batch = kBoundaryBatches[i];
        if (!run(tier_run_config(gb, tier, options, prefix + std::to_string(batch), lm, batch))) {
          const std::size_t left = std::size(kBoundaryBatches) - i - 1;
          skipped_runs += left;
          if (left > 0)
            result.skipped.push_back(vram_label(gb) + " " + tier.name + " " + prefix +
                                     "*: stopped at " + "the first failure (batch " +
                                     std::to_string(batch) + ")");
          break;
        }
      }
    }
  }
  return result;
}

}  // namespace acefit::profile
