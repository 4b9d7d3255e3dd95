// The parts of vulkan_device.h that need no Vulkan: built in every
// configuration (the stub included).
#include "device/vulkan/vulkan_device.h"

namespace acefit {

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

int preferred_vulkan_device(const std::vector<VulkanDeviceInfo>& devices) {
  for (VulkanDeviceType wanted : {VulkanDeviceType::discrete_gpu, VulkanDeviceType::integrated_gpu,
                                  VulkanDeviceType::virtual_gpu}) {
    for (const auto& d : devices) {
      if (d.usable && d.type == wanted) return d.index;
    }
  }
  return -1;
}

}  // namespace acefit
