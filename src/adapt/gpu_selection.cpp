#include "adapt/gpu_selection.h"

#include <charconv>

#include "device/vulkan/vulkan_device.h"

namespace acefit {

namespace {

constexpr double kGib = 1024.0 * 1024.0 * 1024.0;

GpuFacts facts_of(const ProbedDevice& device) {
  GpuFacts facts;
  facts.vendor = device.vendor;
  facts.name = device.name;
  facts.total_gib = static_cast<double>(device.total_bytes) / kGib;
  facts.memory_unknown = !device.memory_known();
  facts.cuda_class = device.vendor == "NVIDIA" || device.vendor == "AMD";
  facts.apple = device.vendor == "Apple";
  facts.intel = device.vendor == "Intel";
  const std::string& cc = device.compute_capability;
  int major = 0;
  const auto [end, error] = std::from_chars(cc.data(), cc.data() + cc.size(), major);
  if (error == std::errc() && end != cc.data() && device.vendor == "NVIDIA") {
    facts.compute_major = major;
  }
  return facts;
}

GpuFacts facts_of_opened(const Device& opened) {
  GpuFacts facts;
  facts.vendor = opened.kind() == DeviceKind::sim ? "Simulated" : "NVIDIA";
  if (opened.kind() == DeviceKind::vulkan) {
    // A planning device mirrors the kind but is no VulkanDevice.
    if (const auto* vk = dynamic_cast<const VulkanDevice*>(&opened))
      facts.vendor = vk->info().vendor;
    else
      facts.vendor = "Vulkan";
  }
  facts.name = opened.name();
  facts.total_gib = static_cast<double>(opened.memory().total_bytes) / kGib;
  facts.cuda_class = true;
  if (opened.kind() == DeviceKind::vulkan) {
    facts.cuda_class = facts.vendor == "NVIDIA" || facts.vendor == "AMD";
    facts.apple = facts.vendor == "Apple";
    facts.intel = facts.vendor == "Intel";
  }
  return facts;
}

}  // namespace

GpuFacts select_gpu(const ProbeReport& probes, const DeviceRequest& request, const Device& opened) {
  using Choice = DeviceRequest::Choice;
  if (request.choice == Choice::cpu) return {};
  if (opened.kind() == DeviceKind::sim || opened.kind() == DeviceKind::vulkan)
    return facts_of_opened(opened);
  if (request.choice == Choice::cuda) {
    int seen = 0;
    for (const auto& gpu : probes.gpus) {
      if (gpu.vendor != "NVIDIA") continue;
      if (seen++ == request.ordinal) return facts_of(gpu);
    }
    if (opened.kind() == DeviceKind::cuda) return facts_of_opened(opened);
    return {};
  }
  if (!probes.gpus.empty()) return facts_of(probes.gpus.front());
  if (opened.kind() == DeviceKind::cuda) return facts_of_opened(opened);
  return {};
}

std::string run_device_label(const Device& opened, const DeviceRequest& request) {
  switch (opened.kind()) {
    case DeviceKind::sim:
      return "sim";
    case DeviceKind::cuda:
      return "cuda:" +
             std::to_string(request.choice == DeviceRequest::Choice::cuda ? request.ordinal : 0);
    case DeviceKind::vulkan:
      return opened.name();
    case DeviceKind::cpu:
      return "cpu";
  }
  return "cpu";
}

}  // namespace acefit
