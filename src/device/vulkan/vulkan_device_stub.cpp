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

Expected<std::vector<VulkanDeviceInfo>> list_vulkan_devices() {
  return unsupported(kNoVulkan);
}

Expected<std::shared_ptr<Device>> make_vulkan_device(int, std::uint64_t) {
  return unsupported(kNoVulkan);
}

VulkanDevice* as_vulkan(Device&) {
  return nullptr;
}

}  // namespace acefit
