#include "engine/resolve.h"

#include <algorithm>

#include "adapt/gpu_selection.h"
#include "device/host_memory.h"
#include "pipeline/memory_plan.h"
#include "profile/derive.h"

namespace acefit {

Expected<HostLimits> plan_host_limits(ThreadPool& pool, std::uint64_t available_bytes) {
  return profile::derive_host_limits(pool, available_bytes);
}

namespace {

// --derived: one tier holding what the plans of the shipped model allow in
// this device's budget (its cap, and on a GPU no more than what is free).
Expected<TierTable> derived_table_for(const Runtime& runtime, const std::string& tokenizer_dir) {
  profile::DeriveOptions options;
  options.base.preset = SyntheticPreset::full;
  options.base.tokenizer_dir = tokenizer_dir;
  options.like = runtime.device;
  options.pool = runtime.pool.get();
  for (const std::string_view size : kLmSizes) options.lm_folders.push_back(lm_model_name(size));
  ACEFIT_ASSIGN(profile::Deriver deriver, profile::Deriver::create(options));
  const std::uint64_t budget = device_budget_bytes(*runtime.device);
  ACEFIT_ASSIGN(const profile::DerivedLimits limits, deriver.limits(budget));
  const std::string label = "derived for " + gib_text(static_cast<double>(budget) / (1ull << 30)) +
                            " GiB of budget" + (limits.fits ? "" : ": nothing fits");
  TierTable table;
  table.origin = "derived from plans (acefit profile --mode derive)";
  table.tiers.push_back(profile::tier_from_limits("derived", label, 0, limits));
  return table;
}

}  // namespace

Expected<ResolvedContext> open_context(const ContextOptions& options) {
  ResolvedContext context;
  if (!options.dotenv_dir.empty()) {
    ACEFIT_ASSIGN(context.dotenv, load_dotenv(options.dotenv_dir));
  }
  context.environment = options.environment ? options.environment : EnvLookup([](std::string_view) {
    return std::optional<std::string>();
  });
  // The environment wins over .env wherever acefit reads a variable.
  const EnvLookup environment = context.environment;
  const DotEnv dotenv = context.dotenv;
  const EnvLookup layered = [environment, dotenv](std::string_view name) {
    auto value = environment(name);
    return value ? value : dotenv.get(name);
  };
  ACEFIT_ASSIGN(context.request, device_request_from(layered, options.device));
  ACEFIT_ASSIGN(context.runtime, open_runtime_for(context.request, environment));
  context.probes = probe_devices(layered);
  if (options.tier_table_path) {
    ACEFIT_ASSIGN(context.table, tier_table_by_name_or_path(*options.tier_table_path));
  } else {
    ACEFIT_ASSIGN(context.table, default_tier_table());
  }
  context.derived = options.derived;
  if (options.derived) {
    if (context.runtime.device->kind() == DeviceKind::cpu) {
      context.dotenv.warnings.push_back(
          "--derived: no GPU here; the CPU's limits already come from plans against its RAM");
    } else {
      ACEFIT_ASSIGN(context.table, derived_table_for(context.runtime, options.tokenizer_dir));
    }
  }
  context.gpu = select_gpu(context.probes, context.request, *context.runtime.device);
  return context;
}

Expected<EffectiveSettings> resolve_settings_for(ResolvedContext& context,
                                                 const std::map<std::string, std::string>& values,
                                                 bool lm_in_pipeline) {
  SettingsInput input;
  input.gpu = context.gpu;
  input.run_device = run_device_label(*context.runtime.device, context.request);
  input.table = &context.table;
  input.dotenv = &context.dotenv;
  input.environment = context.environment;
  input.command_line = values;
  input.lm_in_pipeline = lm_in_pipeline;
  input.limits_from_plans = context.derived && context.runtime.device->kind() != DeviceKind::cpu;
  ACEFIT_ASSIGN(EffectiveSettings settings, resolve_settings(input));
  if (settings.no_gpu_tier) {
    // CPU, no GPU tier: the limits from the plan against the available RAM.
    if (!context.host_limits) {
      const std::uint64_t available =
          context.probes.host.free_bytes.value_or(host_available_bytes());
      ACEFIT_ASSIGN(context.host_limits, plan_host_limits(*context.runtime.pool, available));
    }
    input.host_limits = *context.host_limits;
    ACEFIT_ASSIGN(settings, resolve_settings(input));
  }
  // Warnings in the order they arose: .env, device, then settings; the
  // device layer and the settings both see MAX_CUDA_VRAM, say it once.
  std::vector<std::string> warnings = context.dotenv.warnings;
  warnings.insert(warnings.end(), context.runtime.warnings.begin(), context.runtime.warnings.end());
  for (auto& warning : settings.warnings) {
    if (std::find(warnings.begin(), warnings.end(), warning) == warnings.end()) {
      warnings.push_back(std::move(warning));
    }
  }
  settings.warnings = std::move(warnings);
  context.settings = settings;
  return settings;
}

}  // namespace acefit
