// Runs the probes in order and merges their answers (device_probe.h). The
// per-API work is in the *_probe.cpp files beside this one.
#include "adapt/probe/device_probe.h"

#include <exception>
#include <set>
#include <utility>

#include "adapt/probe/probe_internal.h"

namespace acefit {
namespace {

constexpr std::string_view kOff = "none";

// Where one probe looks, from its variable or its default.
struct Target {
  std::string variable;
  std::vector<std::string> paths;  // tried in turn; empty when disabled
  bool disabled = false;
};

Target target(const EnvLookup& env, std::string_view variable, std::vector<std::string> defaults) {
  Target result;
  result.variable = std::string(variable);
  std::optional<std::string> value;
  if (env) value = env(variable);
  if (value && *value == kOff) {
    result.disabled = true;
  } else if (value && !value->empty()) {
    result.paths = {*value};
  } else {
    result.paths = std::move(defaults);
  }
  return result;
}

probe::ApiProbe disabled(const char* api, const Target& where) {
  probe::ApiProbe result;
  result.outcome.api = api;
  result.outcome.library = std::string(kOff);
  result.outcome.state = ProbeOutcome::State::disabled;
  result.outcome.detail = where.variable + "=" + std::string(kOff);
  return result;
}

// Runs one probe; an exception (allocation failure) becomes a failed outcome.
template <typename Probe>
probe::ApiProbe run(const char* api, const Target& where, Probe&& probe_fn) {
  if (where.disabled) return disabled(api, where);
  try {
    return probe_fn(where);
  } catch (const std::exception& error) {
    probe::ApiProbe result;
    result.outcome.api = api;
    result.outcome.library = where.paths.empty() ? std::string() : where.paths.front();
    probe::set_failed(result.outcome, std::string("exception: ") + error.what());
    return result;
  }
}

void take(probe::ApiProbe& from, ProbeReport& report) {
  report.outcomes.push_back(std::move(from.outcome));
  for (ProbedDevice& device : from.devices) report.gpus.push_back(std::move(device));
  from.devices.clear();
}

ProbeReport probe_all(const EnvLookup& env) {
  ProbeReport report;

  probe::ApiProbe nvml = run("nvml", target(env, "ACEFIT_NVML_LIBRARY", {"libnvidia-ml.so.1"}),
                             [](const Target& t) { return probe::probe_nvml(t.paths.front()); });
  const bool nvml_answered = nvml.outcome.state == ProbeOutcome::State::ok;
  take(nvml, report);
  if (!nvml_answered) {
    probe::ApiProbe cuda =
        run("cuda-driver", target(env, "ACEFIT_CUDA_DRIVER_LIBRARY", {"libcuda.so.1"}),
            [](const Target& t) { return probe::probe_cuda_driver(t.paths.front()); });
    take(cuda, report);
  }

  probe::ApiProbe rocm =
      run("rocm-smi",
          target(env, "ACEFIT_ROCM_SMI_LIBRARY", {"librocm_smi64.so.1", "librocm_smi64.so"}),
          [](const Target& t) { return probe::probe_rocm_smi(t.paths); });
  take(rocm, report);

  probe::ApiProbe level_zero =
      run("level-zero", target(env, "ACEFIT_LEVEL_ZERO_LIBRARY", {"libze_loader.so.1"}),
          [](const Target& t) { return probe::probe_level_zero(t.paths.front()); });
  take(level_zero, report);

  // Vulkan sees every vendor's cards; keep only those of vendors that no
  // vendor library listed, so no card appears twice.
  probe::ApiProbe vulkan =
      run("vulkan", target(env, "ACEFIT_VULKAN_LIBRARY", {"libvulkan.so.1"}),
          [](const Target& t) { return probe::probe_vulkan(t.paths.front()); });
  std::set<std::string> vendors_seen;
  for (const ProbedDevice& device : report.gpus) vendors_seen.insert(device.vendor);
  std::vector<ProbedDevice> vulkan_devices = std::move(vulkan.devices);
  vulkan.devices.clear();
  take(vulkan, report);
  for (ProbedDevice& device : vulkan_devices) {
    if (vendors_seen.count(device.vendor) == 0) report.gpus.push_back(std::move(device));
  }

  const Target meminfo = target(env, "ACEFIT_MEMINFO_PATH", {"/proc/meminfo"});
  const Target cpuinfo = target(env, "ACEFIT_CPUINFO_PATH", {"/proc/cpuinfo"});
  probe::ApiProbe host = run("host", Target{}, [&](const Target&) {
    return probe::probe_host(meminfo.disabled ? std::string() : meminfo.paths.front(),
                             cpuinfo.disabled ? std::string() : cpuinfo.paths.front());
  });
  if (meminfo.disabled) host.outcome.detail = meminfo.variable + "=" + std::string(kOff);
  if (!host.devices.empty()) report.host = std::move(host.devices.front());
  host.devices.clear();
  report.host.api = "host";
  report.host.vendor = "CPU";
  report.outcomes.push_back(std::move(host.outcome));
  return report;
}

}  // namespace

std::string_view probe_state_name(ProbeOutcome::State state) {
  switch (state) {
    case ProbeOutcome::State::ok:
      return "ok";
    case ProbeOutcome::State::disabled:
      return "disabled";
    case ProbeOutcome::State::library_missing:
      return "library_missing";
    case ProbeOutcome::State::failed:
      return "failed";
  }
  return "unknown";
}

ProbeReport probe_devices(const EnvLookup& env) {
  try {
    return probe_all(env);
  } catch (...) {
    // Only an allocation failure gets here; an empty report is the answer.
    return ProbeReport();
  }
}

}  // namespace acefit
