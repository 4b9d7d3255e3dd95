#include "adapt/settings.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "adapt/options.h"
#include "device/device_selection.h"

namespace acefit {

namespace {

constexpr double kMinDurationS = 10;
constexpr double kMaxDurationS = 600;
constexpr int kMaxBatch = 64;
// The guide's global maxima (the unlimited tier): the CPU limits stay below.
constexpr int kGuideMaxDurationS = 600;
constexpr int kGuideMaxBatch = 8;
constexpr int kMaxChunkFrames = 1 << 20;
// A chunk tiles only when it exceeds twice the overlap, which is never
// reduced below 4 frames (acestep-model.md 18.6): 9 is the smallest.
constexpr int kMinChunkFrames = 9;

// One place a setting may come from, in precedence order.
struct Candidate {
  std::string text;
  SettingSource source;
  std::string origin;  // flag or variable name
};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::optional<bool> parse_bool(std::string_view text) {
  const std::string t = lower(text);
  if (t == "1" || t == "true" || t == "yes" || t == "y" || t == "on") return true;
  if (t == "0" || t == "false" || t == "no" || t == "n" || t == "off") return false;
  return std::nullopt;
}

std::optional<std::int64_t> parse_integer(std::string_view text, std::int64_t min,
                                          std::int64_t max) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < min || value > max)
    return std::nullopt;
  return value;
}

// Command line first, then each variable of the setting from the process
// environment, then from .env. Empty variables count as unset.
// Which places to look: all of them, the command line alone, or one variable.
enum class Scope { all, command_line, one_variable };

std::vector<Candidate> candidates(const SettingsInput& in, std::string_view setting, Scope scope,
                                  std::string_view variable) {
  std::vector<Candidate> out;
  const auto it = in.command_line.find(std::string(setting));
  if (scope != Scope::one_variable && it != in.command_line.end()) {
    std::string flag = "--" + std::string(setting);
    for (const auto& option : option_table()) {
      if (option.setting == setting && !option.flag.empty()) flag = std::string(option.flag);
    }
    out.push_back({it->second, SettingSource::command_line, flag});
  }
  if (scope == Scope::command_line) return out;
  for (const SettingSource layer : {SettingSource::environment, SettingSource::dotenv}) {
    for (const auto& option : option_table()) {
      if (option.setting != setting || option.env.empty()) continue;
      if (scope == Scope::one_variable && option.env != variable) continue;
      std::optional<std::string> value;
      if (layer == SettingSource::environment && in.environment) value = in.environment(option.env);
      if (layer == SettingSource::dotenv && in.dotenv) value = in.dotenv->get(option.env);
      if (value && !value->empty()) out.push_back({*value, layer, std::string(option.env)});
    }
  }
  return out;
}

std::string expected_values(std::string_view setting) {
  for (const auto& option : option_table()) {
    if (option.setting == setting) return std::string(option.values);
  }
  return {};
}

// The first candidate that parses. A bad command-line value is an error; a
// bad variable is skipped with a warning, as if it were unset.
template <typename T, typename Parse>
Expected<std::optional<std::pair<T, Candidate>>> pick(const SettingsInput& in,
                                                      std::string_view setting, Parse parse,
                                                      std::vector<std::string>& warnings,
                                                      Scope scope = Scope::all,
                                                      std::string_view variable = {}) {
  for (const auto& candidate : candidates(in, setting, scope, variable)) {
    std::string why;
    std::optional<T> value = parse(candidate.text, why);
    if (value) return std::optional<std::pair<T, Candidate>>(std::pair{*value, candidate});
    const std::string expected = why.empty() ? "expected " + expected_values(setting) : why;
    if (candidate.source == SettingSource::command_line) {
      return invalid_argument(candidate.origin + ": invalid value '" + candidate.text + "' (" +
                              expected + ")");
    }
    warnings.push_back("Invalid " + candidate.origin + " value: " + candidate.text + " (from " +
                       std::string(setting_source_name(candidate.source)) + "; " + expected +
                       "), ignoring");
  }
  return std::optional<std::pair<T, Candidate>>();
}

template <typename T, typename U>
void take(Setting<T>& setting, const std::optional<std::pair<U, Candidate>>& picked) {
  if (!picked) return;
  setting.value = picked->first;
  setting.source = picked->second.source;
  setting.origin = picked->second.origin;
}

template <typename T>
void change(Setting<T>& setting, T value, std::string requested, std::string reason,
            std::vector<std::string>& warnings, bool warn = true) {
  setting.value = std::move(value);
  setting.requested = std::move(requested);
  setting.reason = reason;
  if (warn) warnings.push_back(std::move(reason));
}

bool user_set(SettingSource source) {
  return source == SettingSource::command_line || source == SettingSource::environment ||
         source == SettingSource::dotenv;
}

std::string with_lm_text(bool with_lm) {
  return with_lm ? "with LM" : "without LM";
}

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f", seconds);
  return text;
}

// The GPU memory: MAX_CUDA_VRAM, MAX_MPS_VRAM, MAX_XPU_VRAM (first valid one
// wins, environment before .env), else the GPU's own size.
void resolve_memory(const SettingsInput& in, EffectiveSettings& out) {
  auto& memory = out.gpu_memory_gib;
  memory.value = in.gpu.total_gib;
  memory.source = SettingSource::device;
  memory.reason = in.gpu.vendor.empty()   ? "no GPU detected: CPU, no GPU tier"
                  : in.gpu.memory_unknown ? "GPU " + in.gpu.name +
                                                " did not report its memory: tier1 limits "
                                                "apply (set MAX_CUDA_VRAM to choose a size)"
                                          : in.gpu.vendor + " " + in.gpu.name;
  bool simulated = false;
  for (const char* variable : {"MAX_CUDA_VRAM", "MAX_MPS_VRAM", "MAX_XPU_VRAM"}) {
    for (const SettingSource layer : {SettingSource::environment, SettingSource::dotenv}) {
      if (simulated) break;
      std::optional<std::string> raw;
      if (layer == SettingSource::environment && in.environment) raw = in.environment(variable);
      if (layer == SettingSource::dotenv && in.dotenv) raw = in.dotenv->get(variable);
      if (!raw) continue;
      const auto gib = parse_gib(*raw);
      if (!gib) {
        out.warnings.push_back("Invalid " + std::string(variable) + " value: " + *raw +
                               ", ignoring");
        continue;
      }
      memory.value = *gib;
      memory.source = layer;
      memory.origin = variable;
      memory.reason = "simulated with " + std::string(variable);
      // Simulating a CUDA GPU means its rules apply, on any machine.
      if (std::string_view(variable) == "MAX_CUDA_VRAM") out.simulated_cuda = true;
      if (in.gpu.total_gib > 0)
        memory.reason += " (the GPU has " + gib_text(in.gpu.total_gib) + " GiB)";
      char shown[32];
      std::snprintf(shown, sizeof shown, "%.1f", *gib);
      out.warnings.push_back("DEBUG MODE: Simulating GPU memory as " + std::string(shown) +
                             " GiB (set via " + variable + " environment variable)");
      simulated = true;
    }
  }
  if (in.gpu.memory_unknown && !simulated) out.warnings.push_back(memory.reason);
  if (memory.value >= 15.5 && memory.value < 16) {
    memory.reason += "; treated as a 16 GB class GPU";
  }
}

Status resolve_tier(const SettingsInput& in, EffectiveSettings& out) {
  const double m = out.gpu_memory_gib.value;
  const TierRecord& detected = in.table->tier_for_memory(m);
  out.tier.value = detected.name;
  out.tier.source = out.gpu_memory_gib.source == SettingSource::device ? SettingSource::device
                                                                       : out.gpu_memory_gib.source;
  out.tier.origin = out.gpu_memory_gib.origin;
  out.tier.reason = gib_text(m) + " GiB of GPU memory";
  out.tier_record = &detected;
  const auto picked = pick<std::string>(
      in, "tier",
      [&](const std::string& text, std::string& why) -> std::optional<std::string> {
        if (text == "auto") return text;
        if (in.table->find(text) == nullptr) {
          why = "expected auto or one of the table's tiers";
          return std::nullopt;
        }
        return text;
      },
      out.warnings);
  if (!picked.ok()) return picked.status();
  const bool manual_tier = picked.value() && picked.value()->first != "auto";
  if (manual_tier) {
    const TierRecord* manual = in.table->find(picked.value()->first);
    take(out.tier, picked.value());
    out.tier.value = manual->name;
    out.tier.reason = "chosen by hand; the detected tier is " +
                      (in.gpu.vendor.empty() && out.gpu_memory_gib.source == SettingSource::device
                           ? std::string("none (CPU, no GPU tier)")
                           : detected.name);
    out.tier_record = manual;
  } else if (in.gpu.vendor.empty() && out.gpu_memory_gib.source == SettingSource::device) {
    // No GPU is not a 4 GB GPU: the limits come from the memory plan
    // against the host's RAM (gpu-adaptation.md 2).
    out.cpu_tier = std::make_shared<const TierRecord>(
        cpu_tier_record(*in.table, in.host_limits.value_or(HostLimits{})));
    out.tier_record = out.cpu_tier.get();
    out.no_gpu_tier = true;
    out.tier.value = "none";
    out.tier.reason = out.cpu_tier->label;
  }
  if (out.simulated_cuda && in.run_device == "cpu") {
    out.warnings.push_back(
        "MAX_CUDA_VRAM=" + gib_text(m) + " changes only the tier (" + out.tier.value +
        ": its limits and LM choices): runs stay on the CPU with the host's memory, no offload "
        "and no quantization by default. Set ACEFIT_DEVICE=sim as well to also cap memory like "
        "a GPU of that size (budget " +
        gib_text(std::max(0.5, m - 0.5)) + " GiB)");
  }
  return Status();
}

Status resolve_lm(const SettingsInput& in, EffectiveSettings& out) {
  const TierRecord& tier = *out.tier_record;
  auto& init = out.init_lm;
  init.value = tier.init_lm_default;
  init.source = SettingSource::tier;
  init.reason = tier.init_lm_default ? tier.name + " fits an LM" : tier.name + " fits no LM";
  // -1: auto (the tier decides), 0: off, 1: on.
  ACEFIT_ASSIGN(const auto init_pick,
                pick<int>(
                    in, "init_lm",
                    [](const std::string& text, std::string&) -> std::optional<int> {
                      if (lower(text) == "auto") return -1;
                      const auto value = parse_bool(text);
                      if (!value) return std::nullopt;
                      return *value ? 1 : 0;
                    },
                    out.warnings));
  if (init_pick && init_pick->first >= 0) {
    take(init, init_pick);
    init.reason.clear();
    if (init.value && tier.lm_models.empty()) {
      if (out.force.value) {
        init.reason = tier.name + " fits no LM; loaded anyway because of --force";
        out.warnings.push_back("LM initialization forced on " + tier.name + " (" +
                               gib_text(out.gpu_memory_gib.value) +
                               " GiB): this may cause high VRAM usage or OOM");
      } else {
        change(init, false, "true",
               "Your GPU tier (" + tier.name + ", " + gib_text(out.gpu_memory_gib.value) +
                   " GiB) does not have enough memory to run any LM model: LM initialization "
                   "turned off (--force keeps it)",
               out.warnings);
      }
    }
  }

  auto& model = out.lm_model;
  std::optional<std::string> size = tier.recommended_lm;
  model.source = SettingSource::tier;
  model.reason = size ? "recommended for " + tier.name : "";
  if (!size && init.value) {  // forced LM on a tier without models: the smallest
    size = std::string(kLmSizes[0]);
    model.reason = "the smallest LM: " + tier.name + " recommends none";
  }
  if (size) model.value = lm_model_name(*size);
  ACEFIT_ASSIGN(const auto model_pick,
                pick<std::string>(
                    in, "lm_model",
                    [](const std::string& text, std::string& why) -> std::optional<std::string> {
                      if (text.find('/') != std::string::npos ||
                          text.find("..") != std::string::npos || !lm_size_of(text)) {
                        why =
                            "expected an LM folder name naming its size 0.6B, 1.7B or 4B, such "
                            "as acestep-5Hz-lm-1.7B";
                        return std::nullopt;
                      }
                      return text;
                    },
                    out.warnings));
  if (model_pick) {
    take(model, std::optional<std::pair<std::optional<std::string>, Candidate>>(
                    {model_pick->first, model_pick->second}));
    model.reason.clear();
    size = lm_size_of(model_pick->first);
  }
  if (!init.value) {
    if (model.value) {
      model.requested = user_set(model.source) ? model.value : std::nullopt;
      model.value = std::nullopt;
      model.reason = "the LM is off";
    }
    return Status();
  }
  const std::string requested = *model.value;
  if (!tier.allows_lm(*size) && !tier.lm_models.empty() && user_set(model.source)) {
    if (out.force.value) {
      model.reason = "not in " + tier.name + "'s LM list; kept because of --force";
      out.warnings.push_back("LM " + requested + " is larger than " + tier.name +
                             " allows: this may cause high VRAM usage or OOM");
    } else {
      const std::string largest = *largest_lm_size(tier.lm_models);
      const std::string name = with_lm_size(requested, largest);
      change(model, std::optional<std::string>(name), requested,
             "LM " + requested + " is larger than your GPU tier (" + tier.name + ", " +
                 gib_text(out.gpu_memory_gib.value) + " GiB) allows: using " + name +
                 ", the largest it allows (--force keeps it)",
             out.warnings);
      size = largest;
    }
  }
  const double m = out.gpu_memory_gib.value;
  if (*size == "4B" && m > 0 && m < 20 && !out.force.value && !in.limits_from_plans) {
    const std::string from = *model.value;
    const std::string name = with_lm_size(from, "1.7B");
    change(model, std::optional<std::string>(name), from,
           "The 4B LM needs 20 GiB or more (this GPU: " + gib_text(m) + " GiB): using " + name,
           out.warnings);
  }
  return Status();
}

Status resolve_backend(const SettingsInput& in, EffectiveSettings& out) {
  const TierRecord& tier = *out.tier_record;
  auto& backend = out.backend;
  backend.value = tier.recommended_backend;
  backend.source = SettingSource::tier;
  backend.reason = "recommended for " + tier.name;
  ACEFIT_ASSIGN(const auto picked,
                pick<std::string>(
                    in, "backend",
                    [](const std::string& text, std::string&) -> std::optional<std::string> {
                      const std::string t = lower(text);
                      for (std::string_view known : kLmBackends) {
                        if (t == known) return t;
                      }
                      return std::nullopt;
                    },
                    out.warnings));
  if (picked) {
    take(backend, picked);
    backend.reason.clear();
  }
  const bool asked = user_set(backend.source);
  const auto fall_back = [&](std::string to, std::string why) {
    const std::string from = backend.value;
    change(backend, std::move(to), from, std::move(why), out.warnings, asked);
    if (!asked) backend.requested.reset();
  };
  if (backend.value == "mlx" && !in.gpu.apple) {
    fall_back("pt", "The mlx backend runs only on Apple Silicon: falling back to pt");
  }
  if (backend.value == "vllm" && !tier.allows_backend("vllm")) {
    fall_back(tier.recommended_backend,
              "The vllm backend is not allowed on " + tier.name + " (" +
                  gib_text(out.gpu_memory_gib.value) +
                  " GiB; its KV cache is too memory-hungry): falling back to " +
                  tier.recommended_backend);
  }
  if (backend.value == "vllm" && !in.gpu.cuda_class && !out.simulated_cuda) {
    fall_back("pt", "The vllm backend needs an NVIDIA or AMD GPU: falling back to pt");
  }
  if (backend.value == "vllm" && in.gpu.compute_major && *in.gpu.compute_major < 7) {
    fall_back("pt", "The vllm backend needs compute capability 7.0 or newer (this GPU: " +
                        std::to_string(*in.gpu.compute_major) + ".x): falling back to pt");
  }
  return Status();
}

auto bool_parser() {
  return [](const std::string& text, std::string& why) -> std::optional<bool> {
    why = "expected true or false (1/0, yes/no, on/off)";
    return parse_bool(text);
  };
}

// --offload names the mode; the two variables are booleans, each falling back
// to the tier's default when unset: (false, *) none, (true, false) cpu,
// (true, true) cpu+dit.
Status resolve_offload(const SettingsInput& in, EffectiveSettings& out) {
  const TierRecord& tier = *out.tier_record;
  auto& offload = out.offload;
  offload.value = tier.offload;
  offload.source = SettingSource::tier;
  offload.reason = "default of " + tier.name;
  ACEFIT_ASSIGN(const auto mode_pick,
                pick<OffloadMode>(
                    in, "offload",
                    [](const std::string& text, std::string& why) -> std::optional<OffloadMode> {
                      why = "expected cpu+dit, cpu or none";
                      return parse_offload_mode(lower(text));
                    },
                    out.warnings, Scope::command_line));
  if (mode_pick) {
    take(offload, mode_pick);
    offload.reason.clear();
  } else {
    ACEFIT_ASSIGN(const auto cpu_pick, pick<bool>(in, "offload", bool_parser(), out.warnings,
                                                  Scope::one_variable, "ACESTEP_OFFLOAD_TO_CPU"));
    ACEFIT_ASSIGN(const auto dit_pick,
                  pick<bool>(in, "offload", bool_parser(), out.warnings, Scope::one_variable,
                             "ACESTEP_OFFLOAD_DIT_TO_CPU"));
    if (cpu_pick || dit_pick) {
      const bool cpu = cpu_pick ? cpu_pick->first : tier.offload != OffloadMode::none;
      const bool dit = dit_pick ? dit_pick->first : tier.offload == OffloadMode::cpu_dit;
      const Candidate& from = cpu_pick ? cpu_pick->second : dit_pick->second;
      offload.source = from.source;
      offload.origin = cpu_pick && dit_pick
                           ? cpu_pick->second.origin + " + " + dit_pick->second.origin
                           : from.origin;
      offload.value = !cpu ? OffloadMode::none : dit ? OffloadMode::cpu_dit : OffloadMode::cpu;
      offload.reason.clear();
      if (!cpu && dit) {
        offload.reason = "ACESTEP_OFFLOAD_DIT_TO_CPU needs ACESTEP_OFFLOAD_TO_CPU: no offload";
        out.warnings.push_back(offload.reason);
      }
    }
  }
  const bool asked = user_set(offload.source);
  if (in.gpu.intel && offload.value != OffloadMode::none) {
    const std::string from(offload_mode_name(offload.value));
    change(offload, OffloadMode::none, from, "Offload is not used on Intel XPU: none", out.warnings,
           asked);
    if (!asked) offload.requested.reset();
  }
  const double m = out.gpu_memory_gib.value;
  if (in.lm_in_pipeline && !in.limits_from_plans && out.init_lm.value && out.lm_model.value &&
      lm_size_of(*out.lm_model.value) == "4B" && m > 0 && m <= 24 &&
      offload.value == OffloadMode::none) {
    change(offload, OffloadMode::cpu, "none",
           "The 4B LM on a GPU of " + gib_text(m) + " GiB needs offload: using cpu", out.warnings);
  }
  // On the CPU every model already lives in RAM: nothing to offload from.
  if (in.run_device == "cpu" && offload.value != OffloadMode::none) {
    const std::string from(offload_mode_name(offload.value));
    const bool asked_now = user_set(offload.source);
    change(offload, OffloadMode::none, from,
           asked_now ? "Offload needs a GPU: this run is on the CPU, where every model already "
                       "lives in RAM: offload none"
                     : "the run is on the CPU: no VRAM to offload from (" + tier.name +
                           "'s default is " + from + ")",
           out.warnings, asked_now);
    if (!asked_now) offload.requested.reset();
  }
  return Status();
}

Status resolve_quantization_and_compile(const SettingsInput& in, EffectiveSettings& out) {
  const TierRecord& tier = *out.tier_record;
  auto& quantization = out.quantization;
  const bool on_cpu = in.run_device == "cpu";
  quantization.value = tier.quantization_int8 && !in.gpu.apple && !on_cpu;
  quantization.source = SettingSource::tier;
  quantization.reason = in.gpu.apple ? "no quantization on Apple Silicon"
                        : on_cpu && tier.quantization_int8
                            ? "no quantization by default on the CPU (" + tier.name +
                                  "'s INT8 default saves GPU memory)"
                            : "default of " + tier.name;
  ACEFIT_ASSIGN(const auto q_pick,
                pick<bool>(
                    in, "quantization",
                    [](const std::string& text, std::string& why) -> std::optional<bool> {
                      const std::string t = lower(text);
                      if (t == "int8" || t == "int8_weight_only") return true;
                      if (t == "none") return false;
                      why = t == "int4_weight_only" || t == "fp8_weight_only" || t == "w8a8_dynamic"
                                ? "Unsupported quantization type; expected int8 or none"
                                : "expected int8 or none";
                      return std::nullopt;
                    },
                    out.warnings));
  if (q_pick) {
    take(quantization, q_pick);
    quantization.reason.clear();
  }
  auto& compile = out.compile;
  compile.value = tier.compile;
  compile.source = SettingSource::tier;
  compile.reason = "default of " + tier.name;
  ACEFIT_ASSIGN(const auto c_pick, pick<bool>(in, "compile", bool_parser(), out.warnings));
  if (c_pick) {
    take(compile, c_pick);
    compile.reason.clear();
  }
  if (quantization.value && !compile.value) {
    change(compile, true, "false", "Quantization requires compile: compile turned on",
           out.warnings);
  }
  return Status();
}

Status resolve_limits(const SettingsInput& in, EffectiveSettings& out) {
  const TierRecord& tier = *out.tier_record;
  // The "with LM" limits apply only where the runs load the LM.
  const bool with_lm = out.init_lm.value && in.lm_in_pipeline;
  const std::string lm_text = with_lm_text(with_lm);
  std::string basis = tier.name + ", " + lm_text;
  if (out.init_lm.value && !with_lm) basis += " (this run does not use the LM)";
  std::string limit_of = "your GPU (" + gib_text(out.gpu_memory_gib.value) + " GiB)";
  if (out.no_gpu_tier) {
    const HostLimits limits = in.host_limits.value_or(HostLimits{});
    basis = in.host_limits ? "CPU, no GPU tier: the memory plan against " +
                                 gib_text(static_cast<double>(limits.available_bytes) /
                                          static_cast<double>(1ull << 30)) +
                                 " GiB of available RAM (at most 600 s, batch 8)"
                           : "CPU, no GPU tier: the guide's maxima (not planned)";
    limit_of = in.host_limits ? "this machine's RAM (" +
                                    gib_text(static_cast<double>(limits.available_bytes) /
                                             static_cast<double>(1ull << 30)) +
                                    " GiB available)"
                              : "this machine";
  }

  out.max_duration_s = {tier.max_duration_s(with_lm), SettingSource::tier, "", std::nullopt, basis};
  out.max_batch = {tier.max_batch(with_lm), SettingSource::tier, "", std::nullopt, basis};
  out.lm_max_duration_s = {
      tier.max_duration_with_lm_s, SettingSource::tier, "", std::nullopt,
      "the LM may plan songs of 10 s up to " + tier.name + "'s maximum with LM"};

  // One song unless asked: output names never depend on the tier.
  auto& batch = out.batch;
  const int batch_limit = out.max_batch.value;
  batch.value = 1;
  batch.source = SettingSource::built_in;
  batch.reason = "one song unless --batch asks for more (" + tier.name + " allows up to " +
                 std::to_string(batch_limit) + ")";
  ACEFIT_ASSIGN(const auto b_pick,
                pick<int>(
                    in, "batch",
                    [](const std::string& text, std::string&) -> std::optional<int> {
                      const auto v = parse_integer(text, 1, kMaxBatch);
                      if (!v) return std::nullopt;
                      return static_cast<int>(*v);
                    },
                    out.warnings));
  if (b_pick) {
    take(batch, b_pick);
    batch.reason.clear();
    if (batch.value > batch_limit) {
      const int requested = batch.value;
      change(batch, batch_limit, std::to_string(requested),
             "Requested batch size (" + std::to_string(requested) + ") exceeds the limit for " +
                 limit_of + ". Maximum allowed: " + std::to_string(batch_limit) + " (" + lm_text +
                 "). Batch size will be clamped to " + std::to_string(batch_limit) + ".",
             out.warnings);
    }
  }

  auto& duration = out.duration_s;
  duration.reason = "not requested: the request or the LM decides, up to max_duration_s";
  ACEFIT_ASSIGN(const auto d_pick,
                pick<double>(
                    in, "duration_s",
                    [](const std::string& text, std::string& why) -> std::optional<double> {
                      why = "expected seconds, a number from 10 to 600";
                      const auto v = parse_gib(text);  // a plain positive decimal
                      if (!v) return std::nullopt;
                      return *v;
                    },
                    out.warnings));
  if (d_pick) {
    take(duration, std::optional<std::pair<std::optional<double>, Candidate>>(
                       {d_pick->first, d_pick->second}));
    duration.reason.clear();
    const double requested = d_pick->first;
    const double limit = out.max_duration_s.value;
    if (requested > limit) {
      change(duration, std::optional<double>(limit), seconds_text(requested),
             "Requested duration (" + seconds_text(requested) + "s) exceeds the limit for " +
                 limit_of + ". Maximum allowed: " + seconds_text(limit) + "s (" + lm_text +
                 "). Duration will be clamped to " + seconds_text(limit) + "s.",
             out.warnings);
    } else if (requested < kMinDurationS) {
      change(duration, std::optional<double>(kMinDurationS), seconds_text(requested),
             "Requested duration (" + seconds_text(requested) +
                 "s) is below the 10 s minimum. Duration will be raised to 10s.",
             out.warnings);
    }
  }
  return Status();
}

Status resolve_other(const SettingsInput& in, EffectiveSettings& out) {
  out.device = {in.run_device, SettingSource::device, "", std::nullopt, ""};
  // Bad device variables were already reported when the device was opened.
  std::vector<std::string> device_warnings;
  ACEFIT_ASSIGN(
      const auto device_pick,
      pick<std::string>(
          in, "device",
          [](const std::string& text, std::string&) -> std::optional<std::string> {
            if (!device_request_from([](std::string_view) { return std::nullopt; }, text).ok()) {
              return std::nullopt;
            }
            return text;
          },
          device_warnings));
  if (device_pick) {
    take(out.device, device_pick);
    out.device.value = in.run_device;
    if (device_pick->first != "auto" && device_pick->first != in.run_device &&
        !(device_pick->first == "cuda" && in.run_device == "cuda:0")) {
      out.device.requested = device_pick->first;
      out.device.reason = device_pick->first + " is not available: running on " + in.run_device;
    }
  }

  out.config_path = {"acestep-v15-turbo", SettingSource::built_in, "", std::nullopt, ""};
  ACEFIT_ASSIGN(const auto config_pick,
                pick<std::string>(
                    in, "config_path",
                    [](const std::string& text, std::string& why) -> std::optional<std::string> {
                      why =
                          "expected a DiT folder name under checkpoints/, such as "
                          "acestep-v15-turbo";
                      if (text.find('/') != std::string::npos || text == "." || text == "..")
                        return std::nullopt;
                      return text;
                    },
                    out.warnings));
  take(out.config_path, config_pick);

  out.vae_on_cpu = {false, SettingSource::built_in, "", std::nullopt, ""};
  ACEFIT_ASSIGN(const auto vae_pick, pick<bool>(in, "vae_on_cpu", bool_parser(), out.warnings));
  take(out.vae_on_cpu, vae_pick);

  out.vae_decode_chunk_size.reason = "auto: chosen from free memory before each decode";
  // 0: auto.
  ACEFIT_ASSIGN(const auto chunk_pick,
                pick<int>(
                    in, "vae_decode_chunk_size",
                    [](const std::string& text, std::string&) -> std::optional<int> {
                      if (lower(text) == "auto") return 0;
                      const auto v = parse_integer(text, kMinChunkFrames, kMaxChunkFrames);
                      if (!v) return std::nullopt;
                      return static_cast<int>(*v);
                    },
                    out.warnings));
  if (chunk_pick && chunk_pick->first > 0) {
    take(out.vae_decode_chunk_size, std::optional<std::pair<std::optional<int>, Candidate>>(
                                        {chunk_pick->first, chunk_pick->second}));
    out.vae_decode_chunk_size.reason.clear();
  }
  return Status();
}

}  // namespace

std::string_view setting_source_name(SettingSource source) {
  switch (source) {
    case SettingSource::built_in:
      return "built-in";
    case SettingSource::tier:
      return "tier";
    case SettingSource::device:
      return "device";
    case SettingSource::dotenv:
      return ".env";
    case SettingSource::environment:
      return "environment";
    case SettingSource::command_line:
      return "command line";
  }
  return "built-in";
}

TierRecord cpu_tier_record(const TierTable& table, const HostLimits& limits) {
  TierRecord record = table.tiers.front();
  // The LM runs on the host too (pt, weights in RAM): every size may be
  // chosen, the smallest by default; it loads only for runs that use it.
  record.init_lm_default = true;
  record.lm_models = {"0.6B", "1.7B", "4B"};
  record.recommended_lm = "0.6B";
  record.allowed_backends = {"pt"};
  record.recommended_backend = "pt";
  record.name = "the CPU";  // in reasons ("default of the CPU"); the tier setting says none
  record.label = "CPU, no GPU tier";
  record.min_memory_gib = 0;
  const int duration_s = std::clamp(limits.max_duration_s, 10, kGuideMaxDurationS);
  const int batch = std::clamp(limits.max_batch, 1, kGuideMaxBatch);
  record.max_duration_with_lm_s = record.max_duration_without_lm_s = duration_s;
  record.max_batch_with_lm = record.max_batch_without_lm = batch;
  record.offload = OffloadMode::none;
  record.quantization_int8 = false;
  return record;
}

std::string gib_text(double gib) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", gib);
  std::string out = text;
  if (out.size() > 2 && out.compare(out.size() - 2, 2, ".0") == 0) out.resize(out.size() - 2);
  return out;
}

Expected<EffectiveSettings> resolve_settings(const SettingsInput& in) {
  if (in.table == nullptr || in.table->tiers.empty()) {
    return invalid_argument("settings resolution needs a tier table with at least one tier");
  }
  EffectiveSettings out;
  out.force.value = in.command_line.count("force") != 0;
  if (out.force.value) {
    out.force.source = SettingSource::command_line;
    out.force.origin = "--force";
  }
  resolve_memory(in, out);
  ACEFIT_TRY(resolve_tier(in, out));
  ACEFIT_TRY(resolve_lm(in, out));
  ACEFIT_TRY(resolve_backend(in, out));
  ACEFIT_TRY(resolve_offload(in, out));
  ACEFIT_TRY(resolve_quantization_and_compile(in, out));
  ACEFIT_TRY(resolve_limits(in, out));
  ACEFIT_TRY(resolve_other(in, out));
  return out;
}

namespace {

template <typename T>
SettingView view(std::string name, const Setting<T>& setting, SettingScalar value) {
  return {std::move(name), std::move(value),  std::string(setting_source_name(setting.source)),
          setting.origin,  setting.requested, setting.reason};
}

template <typename T>
SettingScalar optional_scalar(const std::optional<T>& value) {
  if (!value) return std::monostate();
  if constexpr (std::is_same_v<T, int>)
    return static_cast<std::int64_t>(*value);
  else
    return *value;
}

}  // namespace

std::vector<SettingView> setting_views(const EffectiveSettings& s) {
  const auto integer = [](int v) { return SettingScalar(static_cast<std::int64_t>(v)); };
  return {
      view("gpu_memory_gib", s.gpu_memory_gib, s.gpu_memory_gib.value),
      view("tier", s.tier, s.tier.value),
      view("device", s.device, s.device.value),
      view("init_lm", s.init_lm, s.init_lm.value),
      view("lm_model", s.lm_model, optional_scalar(s.lm_model.value)),
      view("backend", s.backend, s.backend.value),
      view("offload", s.offload, std::string(offload_mode_name(s.offload.value))),
      view("quantization", s.quantization,
           s.quantization.value ? SettingScalar(std::string("int8")) : SettingScalar()),
      view("compile", s.compile, s.compile.value),
      view("duration_s", s.duration_s, optional_scalar(s.duration_s.value)),
      view("batch", s.batch, integer(s.batch.value)),
      view("max_duration_s", s.max_duration_s, integer(s.max_duration_s.value)),
      view("max_batch", s.max_batch, integer(s.max_batch.value)),
      view("lm_max_duration_s", s.lm_max_duration_s, integer(s.lm_max_duration_s.value)),
      view("config_path", s.config_path, s.config_path.value),
      view("vae_on_cpu", s.vae_on_cpu, s.vae_on_cpu.value),
      view("vae_decode_chunk_size", s.vae_decode_chunk_size,
           optional_scalar(s.vae_decode_chunk_size.value)),
      view("force", s.force, s.force.value),
  };
}

std::string scalar_text(const SettingScalar& value) {
  if (std::holds_alternative<std::monostate>(value)) return "null";
  if (const bool* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  if (const auto* i = std::get_if<std::int64_t>(&value)) return std::to_string(*i);
  if (const double* d = std::get_if<double>(&value)) return gib_text(*d);
  return std::get<std::string>(value);
}

}  // namespace acefit
