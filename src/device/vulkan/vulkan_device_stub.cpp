// Stands in for the vulkan device in builds without the Vulkan headers or
// glslc: the device reports unsupported and lists nothing.
#include "device/vulkan/vulkan_device.h"

namespace acefit {

namespace {
const char kNoVulkan[] =
    "this build has no Vulkan support (install libvulkan-dev and glslc, then reconfigure)";
}

bool vulkan_compiled_in() {
  return false;
}

std::string_view vulkan_device_type_name(VulkanDeviceType type) {
  switch (type) {
    case VulkanDeviceType::integrated_gpu:
      return "integrated GPU";
    case VulkanDeviceType::discrete_gpu:
      return "discrete GPU";
    case VulkanDeviceType::virtual_gpu:
      return "virtual GPU";
    case VulkanDeviceType::cpu:
      return "CPU";
    case VulkanDeviceType::other:
      break;
  }
  return "other";
}

Expected<std::vector<VulkanDeviceInfo>> list_vulkan_devices() {
  return unsupported(kNoVulkan);
}

int preferred_vulkan_device(const std::vector<VulkanDeviceInfo>&) {
  return -1;
}

Expected<std::shared_ptr<Device>> make_vulkan_device(int, std::uint64_t) {
  return unsupported(kNoVulkan);
}

VulkanDevice* as_vulkan(Device&) {
  return nullptr;
}

}  // namespace acefit
