#include "profile/derive.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "device/cpu/cpu_device.h"
#include "profile/tier_engines.h"

namespace acefit::profile {

namespace {

constexpr std::uint64_t kGibBytes = 1ull << 30;
constexpr std::uint64_t kBudgetStepBytes = kGibBytes / 64;  // bisection resolution

int size_rank(const std::string& folder) {
  const auto size = lm_size_of(folder);
  if (!size) return -1;
  return static_cast<int>(std::find(std::begin(kLmSizes), std::end(kLmSizes), *size) -
                          std::begin(kLmSizes));
}

std::vector<std::string> sorted_lm_folders(std::vector<std::string> folders) {
  std::stable_sort(folders.begin(), folders.end(),
                   [](const auto& a, const auto& b) { return size_rank(a) < size_rank(b); });
  return folders;
}

// The searches both derive and the host limits make with one planner.
struct SearchedLimits {
  int max_duration_s = 0;
  int max_batch = 0;
};

Expected<SearchedLimits> search_limits(const MemoryPlanner& planner, GenerationRequest request,
                                       std::uint64_t budget, int max_duration_s, int max_batch,
                                       int batch_duration_s) {
  SearchedLimits limits;
  request.batch = 1;
  ACEFIT_ASSIGN(limits.max_duration_s,
                max_fitting_duration_s(planner, request, budget, max_duration_s));
  request.duration_s = batch_duration_s;
  ACEFIT_ASSIGN(limits.max_batch, max_fitting_batch(planner, request, budget, max_batch));
  return limits;
}

double card_gib(std::uint64_t budget_bytes) {
  // Rounded up to 0.1 GiB: a card of this size gives at least the budget.
  const double gib = static_cast<double>(budget_bytes) / kGibBytes + kContextReserveGib;
  return std::ceil(gib * 10.0 - 1e-9) / 10.0;
}

std::string one_decimal(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

}  // namespace

std::string FitConfig::name() const {
  return "offload " + std::string(offload_mode_name(offload)) + (int8 ? ", INT8" : ", no INT8");
}

std::vector<FitConfig> default_fit_ladder() {
  return {{OffloadMode::none, false},
          {OffloadMode::cpu, false},
          {OffloadMode::cpu_dit, false},
          {OffloadMode::cpu_dit, true}};
}

Expected<Deriver> Deriver::create(DeriveOptions options) {
  if (!options.like || options.pool == nullptr)
    return Status(ErrorCode::invalid_argument, "derive: a device and a thread pool are needed");
  if (options.ladder.empty())
    return Status(ErrorCode::invalid_argument, "derive: the ladder of configurations is empty");
  options.lm_folders = sorted_lm_folders(options.lm_folders);
  return Deriver(std::move(options));
}

Expected<const MemoryPlanner*> Deriver::planner(const FitConfig& config, const std::string& lm,
                                                const std::string& backend) {
  const auto key = std::make_tuple(static_cast<int>(config.offload), config.int8, lm, backend);
  if (auto it = planners_.find(key); it != planners_.end()) return it->second.get();
  GeneratorOptions generator = options_.base;
  generator.offload = config.offload;
  generator.quantize_int8 = config.int8;
  generator.lm_model = lm;
  if (!lm.empty()) generator.lm_backend = parse_lm_backend(backend).value_or(LmBackend::pt);
  ACEFIT_ASSIGN(MemoryPlanner made,
                MemoryPlanner::create(generator, *options_.like, *options_.pool));
  auto owned = std::make_unique<MemoryPlanner>(std::move(made));
  const MemoryPlanner* pointer = owned.get();
  planners_.emplace(key, std::move(owned));
  return pointer;
}

GenerationRequest Deriver::reference(bool with_lm) const {
  GenerationRequest request = profiler_example_request();
  request.duration_s = with_lm ? options_.lm_reference_duration_s : options_.reference_duration_s;
  request.batch = 1;
  request.seed = 42;
  if (with_lm) {
    request.lm.thinking = true;
    request.lm.cot = true;
    request.lm.use_cot_caption = false;
    request.lm.use_cot_language = false;
    request.lm.duration_given = true;
    request.lm.max_duration_s = options_.max_duration_s;
  }
  return request;
}

Expected<bool> Deriver::fits(const MemoryPlanner& planner, bool with_lm,
                             std::uint64_t budget) const {
  ACEFIT_ASSIGN(const GenerationPlan plan, planner.plan(reference(with_lm), budget));
  return plan.fits;
}

Expected<std::optional<std::uint64_t>> Deriver::min_budget(const MemoryPlanner& planner,
                                                           bool with_lm,
                                                           std::uint64_t low_bytes) const {
  std::uint64_t high = static_cast<std::uint64_t>(kMaxDeriveBudgetGib) * 64;  // in steps
  ACEFIT_ASSIGN(const bool fits_high, fits(planner, with_lm, high * kBudgetStepBytes));
  if (!fits_high) return std::optional<std::uint64_t>();
  std::uint64_t low = low_bytes / kBudgetStepBytes;  // fits(low) unknown or false
  if (low > 0) {
    ACEFIT_ASSIGN(const bool fits_low, fits(planner, with_lm, low * kBudgetStepBytes));
    if (fits_low) return std::optional<std::uint64_t>(low * kBudgetStepBytes);
  }
  while (high - low > 1) {
    const std::uint64_t middle = low + (high - low) / 2;
    ACEFIT_ASSIGN(const bool fits_middle, fits(planner, with_lm, middle * kBudgetStepBytes));
    (fits_middle ? high : low) = middle;
  }
  return std::optional<std::uint64_t>(high * kBudgetStepBytes);
}

Expected<std::vector<ConfigThreshold>> Deriver::thresholds() {
  if (thresholds_) return *thresholds_;
  std::vector<ConfigThreshold> out;
  for (const FitConfig& config : options_.ladder) {
    ACEFIT_ASSIGN(const MemoryPlanner* p, planner(config, "", ""));
    ConfigThreshold threshold;
    threshold.config = config;
    ACEFIT_ASSIGN(threshold.min_budget_bytes, min_budget(*p, false, 0));
    out.push_back(threshold);
  }
  thresholds_ = out;
  return out;
}

Expected<std::vector<ConfigThreshold>> Deriver::lm_thresholds(const FitConfig& config) {
  std::vector<ConfigThreshold> out;
  for (const std::string& lm : options_.lm_folders) {
    for (const char* backend : {"vllm", "pt"}) {
      ACEFIT_ASSIGN(const MemoryPlanner* p, planner(config, lm, backend));
      ConfigThreshold threshold;
      threshold.config = config;
      threshold.lm = lm;
      threshold.lm_backend = backend;
      ACEFIT_ASSIGN(threshold.min_budget_bytes, min_budget(*p, true, 0));
      out.push_back(threshold);
    }
  }
  return out;
}

Expected<DerivedLimits> Deriver::limits(std::uint64_t budget_bytes) {
  DerivedLimits limits;
  limits.budget_bytes = budget_bytes;
  limits.config = options_.ladder.back();
  const MemoryPlanner* chosen = nullptr;
  const MemoryPlanner* lm_planner = nullptr;
  int best_rank = -2;
  // The configuration whose largest fitting LM is largest; among equals the
  // most comfortable (earliest in the ladder). Without LMs: the first that fits.
  for (const FitConfig& config : options_.ladder) {
    ACEFIT_ASSIGN(const MemoryPlanner* p, planner(config, "", ""));
    ACEFIT_ASSIGN(const bool ok, fits(*p, false, budget_bytes));
    if (!ok) continue;
    DerivedLimits candidate;
    candidate.budget_bytes = budget_bytes;
    candidate.fits = true;
    candidate.config = config;
    const MemoryPlanner* candidate_lm = nullptr;
    for (const std::string& lm : options_.lm_folders) {
      bool any = false;
      for (const char* backend : {"vllm", "pt"}) {
        ACEFIT_ASSIGN(const MemoryPlanner* q, planner(config, lm, backend));
        ACEFIT_ASSIGN(const bool lm_ok, fits(*q, true, budget_bytes));
        if (!lm_ok) continue;
        if (!any) {
          // vllm (checked first) when it fits.
          candidate.lm = lm;
          candidate.lm_backend = backend;
          candidate.vllm_fits = std::string_view(backend) == "vllm";
          candidate_lm = q;
        }
        any = true;
      }
      if (any) candidate.lm_sizes.push_back(lm_size_of(lm).value_or(lm));
    }
    const int rank = candidate.lm ? size_rank(*candidate.lm) : -1;
    if (rank > best_rank) {
      best_rank = rank;
      limits = candidate;
      chosen = p;
      lm_planner = candidate_lm;
    }
    const int top = options_.lm_folders.empty() ? -1 : size_rank(options_.lm_folders.back());
    if (best_rank >= top) break;
  }
  if (chosen == nullptr) return limits;
  ACEFIT_ASSIGN(const SearchedLimits without,
                search_limits(*chosen, reference(false), budget_bytes, options_.max_duration_s,
                              options_.max_batch, options_.batch_duration_s));
  limits.max_duration_without_lm_s = without.max_duration_s;
  limits.max_batch_without_lm = without.max_batch;
  if (lm_planner != nullptr) {
    ACEFIT_ASSIGN(const SearchedLimits with,
                  search_limits(*lm_planner, reference(true), budget_bytes, options_.max_duration_s,
                                options_.max_batch, options_.batch_duration_s));
    limits.max_duration_with_lm_s = with.max_duration_s;
    limits.max_batch_with_lm = with.max_batch;
  }
  return limits;
}

Expected<TierTable> Deriver::tier_table() {
  // Where a capability can change: each configuration's threshold and,
  // under each, where each LM (size, backend) starts to fit. Limits are
  // taken at each breakpoint; neighbours with the same settings and LMs
  // merge (the backend is the lower bound's: vllm arriving inside a tier
  // does not split it).
  ACEFIT_ASSIGN(const std::vector<ConfigThreshold> ladder, thresholds());
  std::vector<std::uint64_t> breakpoints;
  const std::uint64_t ceiling = static_cast<std::uint64_t>(kMaxDeriveBudgetGib) * kGibBytes;
  for (const ConfigThreshold& t : ladder) {
    if (t.min_budget_bytes && *t.min_budget_bytes <= ceiling)
      breakpoints.push_back(*t.min_budget_bytes);
    // Where an LM (size, backend) starts to fit under this configuration.
    if (options_.lm_folders.empty() || !t.min_budget_bytes) continue;
    ACEFIT_ASSIGN(const std::vector<ConfigThreshold> lms, lm_thresholds(t.config));
    for (const ConfigThreshold& lm : lms) {
      if (lm.min_budget_bytes && *lm.min_budget_bytes <= ceiling)
        breakpoints.push_back(std::max(*lm.min_budget_bytes, *t.min_budget_bytes));
    }
  }
  std::sort(breakpoints.begin(), breakpoints.end());
  breakpoints.erase(std::unique(breakpoints.begin(), breakpoints.end()), breakpoints.end());

  TierTable table;
  table.origin = "derived";
  const auto add_tier = [&](double min_gib, const DerivedLimits& l, const std::string& label) {
    const std::string name = "derived" + std::to_string(table.tiers.size() + 1);
    table.tiers.push_back(tier_from_limits(name, name + " (" + label + ")", min_gib, l));
  };
  // Below the first breakpoint nothing fits: the lightest settings, the
  // smallest limits the format allows.
  DerivedLimits nothing;
  nothing.config = options_.ladder.back();
  const std::string first = breakpoints.empty() ? one_decimal(kMaxDeriveBudgetGib)
                                                : one_decimal(card_gib(breakpoints[0]));
  add_tier(0, nothing, "below " + first + " GB: nothing fits the reference song");
  std::optional<DerivedLimits> previous;
  for (const std::uint64_t budget : breakpoints) {
    ACEFIT_ASSIGN(const DerivedLimits l, limits(budget));
    if (!l.fits) continue;
    const bool same = previous && previous->config.offload == l.config.offload &&
                      previous->config.int8 == l.config.int8 && previous->lm_sizes == l.lm_sizes &&
                      previous->lm == l.lm;
    if (same) continue;
    const double gib = card_gib(budget);
    if (gib <= table.tiers.back().min_memory_gib) continue;
    add_tier(gib, l, "from " + one_decimal(gib) + " GB: " + l.config.name());
    previous = l;
  }
  return table;
}

TierRecord tier_from_limits(const std::string& name, const std::string& label, double min_gib,
                            const DerivedLimits& l) {
  TierRecord tier;
  tier.name = name;
  tier.label = label;
  tier.min_memory_gib = min_gib;
  tier.max_duration_without_lm_s = std::max(10, l.max_duration_without_lm_s);
  tier.max_batch_without_lm = std::max(1, l.max_batch_without_lm);
  tier.lm_models = l.lm_sizes;
  if (l.lm) tier.recommended_lm = lm_size_of(*l.lm);
  tier.init_lm_default = l.lm.has_value();
  tier.max_duration_with_lm_s = l.lm ? std::max(10, l.max_duration_with_lm_s) : 10;
  tier.max_batch_with_lm = l.lm ? std::max(1, l.max_batch_with_lm) : 1;
  tier.allowed_backends = l.vllm_fits ? std::vector<std::string>{"vllm", "pt", "mlx"}
                                      : std::vector<std::string>{"pt", "mlx"};
  tier.recommended_backend = l.vllm_fits ? "vllm" : "pt";
  tier.offload = l.config.offload;
  tier.quantization_int8 = l.config.int8;
  tier.compile = true;
  return tier;
}

std::string tier_table_json(const TierTable& table, const std::string& comment) {
  nlohmann::ordered_json root;
  root["format"] = "acefit-tier-table-1";
  root["comment"] = comment;
  root["tiers"] = nlohmann::ordered_json::array();
  for (const TierRecord& t : table.tiers) {
    nlohmann::ordered_json tier;
    tier["name"] = t.name;
    tier["label"] = t.label;
    tier["min_memory_gib"] = t.min_memory_gib;
    tier["max_duration_with_lm_s"] = t.max_duration_with_lm_s;
    tier["max_duration_without_lm_s"] = t.max_duration_without_lm_s;
    tier["max_batch_with_lm"] = t.max_batch_with_lm;
    tier["max_batch_without_lm"] = t.max_batch_without_lm;
    tier["init_lm_default"] = t.init_lm_default;
    tier["lm_models"] = t.lm_models;
    tier["recommended_lm"] =
        t.recommended_lm ? nlohmann::ordered_json(*t.recommended_lm) : nlohmann::ordered_json();
    tier["allowed_backends"] = t.allowed_backends;
    tier["recommended_backend"] = t.recommended_backend;
    tier["offload"] = std::string(offload_mode_name(t.offload));
    tier["quantization"] = t.quantization_int8 ? "int8" : "none";
    tier["compile"] = t.compile;
    tier["lm_memory_gib"] = nlohmann::ordered_json::object();
    for (const LmMemory& m : t.lm_memory) tier["lm_memory_gib"][m.size] = m.gib;
    if (t.max_vae_chunk_frames) tier["max_vae_chunk_frames"] = *t.max_vae_chunk_frames;
    root["tiers"].push_back(std::move(tier));
  }
  return root.dump(2) + "\n";
}

std::vector<std::string> compare_with_tier(const DerivedLimits& derived, const TierRecord& tier) {
  std::vector<std::string> out;
  const auto verdict = [](long long guide, long long plans) {
    return std::string(guide < plans ? " (conservative)" : " (optimistic)");
  };
  const auto compare = [&](const char* what, long long guide, long long plans, const char* unit) {
    if (guide == plans) return;
    out.push_back(std::string(what) + " " + std::to_string(guide) + unit + ", derived " +
                  std::to_string(plans) + unit + verdict(guide, plans));
  };
  if (!derived.fits) {
    out.push_back("nothing fits the reference song here (optimistic)");
    return out;
  }
  compare("max duration without LM", tier.max_duration_without_lm_s,
          derived.max_duration_without_lm_s, " s");
  compare("max batch without LM", tier.max_batch_without_lm, derived.max_batch_without_lm, "");
  const bool guide_lm = tier.init_lm_default && !tier.lm_models.empty();
  if (guide_lm && !derived.lm) out.push_back("the guide runs an LM, none fits (optimistic)");
  if (!guide_lm && derived.lm)
    out.push_back("the guide runs no LM, " + lm_size_of(*derived.lm).value_or(*derived.lm) +
                  " fits (conservative)");
  if (guide_lm && derived.lm) {
    const std::string guide_size = tier.recommended_lm.value_or("");
    const std::string plan_size = lm_size_of(*derived.lm).value_or("");
    if (guide_size != plan_size) {
      const int g = size_rank(lm_model_name(guide_size));
      const int p = size_rank(*derived.lm);
      out.push_back("recommended LM " + guide_size + ", largest that fits " + plan_size +
                    (g < p ? " (conservative)" : " (optimistic)"));
    }
    compare("max duration with LM", tier.max_duration_with_lm_s, derived.max_duration_with_lm_s,
            " s");
    compare("max batch with LM", tier.max_batch_with_lm, derived.max_batch_with_lm, "");
  }
  if (tier.quantization_int8 && !derived.config.int8)
    out.push_back("INT8 not needed (conservative)");
  if (!tier.quantization_int8 && derived.config.int8) out.push_back("INT8 needed (optimistic)");
  const auto rank = [](OffloadMode m) {
    return m == OffloadMode::none ? 0 : (m == OffloadMode::cpu ? 1 : 2);
  };
  // Offloading more than the guide is not the guide's fault when it buys a
  // larger LM than the guide offers.
  const bool larger_lm =
      derived.lm &&
      size_rank(*derived.lm) >
          (guide_lm && tier.recommended_lm ? size_rank(lm_model_name(*tier.recommended_lm)) : -1);
  if (rank(tier.offload) != rank(derived.config.offload)) {
    std::string why =
        rank(tier.offload) > rank(derived.config.offload) ? " (conservative)" : " (optimistic)";
    if (rank(tier.offload) < rank(derived.config.offload) && larger_lm)
      why = " (to fit the " + lm_size_of(*derived.lm).value_or("") + " LM)";
    out.push_back("offload " + std::string(offload_mode_name(tier.offload)) + ", derived " +
                  std::string(offload_mode_name(derived.config.offload)) + why);
  }
  return out;
}

Expected<HostLimits> derive_host_limits(ThreadPool& pool, std::uint64_t available_bytes) {
  constexpr int kGuideMaxDurationS = 600;
  constexpr int kGuideMaxBatch = 8;
  constexpr int kBatchDurationS = 30;
  GeneratorOptions options;
  options.preset = SyntheticPreset::full;
  // No tokenizer: the plan assumes the longest prompts (and skips reading it).
  DeriveOptions derive;
  derive.base = options;
  derive.like = make_cpu_device();
  derive.pool = &pool;
  derive.ladder = {{OffloadMode::none, false}};
  ACEFIT_ASSIGN(Deriver deriver, Deriver::create(derive));
  ACEFIT_ASSIGN(const MemoryPlanner* planner, deriver.planner(derive.ladder.front(), "", ""));
  GenerationRequest request = deriver.reference(false);
  request.duration_s = kBatchDurationS;
  ACEFIT_ASSIGN(const SearchedLimits searched,
                search_limits(*planner, request, available_bytes, kGuideMaxDurationS,
                              kGuideMaxBatch, kBatchDurationS));
  HostLimits limits;
  limits.available_bytes = available_bytes;
  limits.max_duration_s = searched.max_duration_s;
  limits.max_batch = searched.max_batch;
  return limits;
}

}  // namespace acefit::profile
