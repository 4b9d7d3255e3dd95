// The Vulkan instance and what each physical device offers.
#pragma once

#include <vulkan/vulkan.h>

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "device/vulkan/vulkan_device.h"

namespace acefit::vk {

// Status for a failed Vulkan call: "what: VK_ERROR_... ".
Status vk_error(VkResult result, const std::string& what);
const char* vk_result_name(VkResult result);

// Owns a VkInstance.
class Instance {
 public:
  static Expected<std::shared_ptr<Instance>> create();
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;
  VkInstance handle() const { return instance_; }
  const std::vector<VkPhysicalDevice>& physical_devices() const { return physical_devices_; }

 private:
  Instance() = default;
  VkInstance instance_ = VK_NULL_HANDLE;
  std::vector<VkPhysicalDevice> physical_devices_;
};

// What the device is and whether acefit can use it.
VulkanDeviceInfo describe_physical_device(VkPhysicalDevice device, int index);
// The device-local heap with the largest budget, and the memory type on it
// to allocate tensors from (-1 when none).
int compute_memory_type(VkPhysicalDevice device);
VulkanLimits physical_device_limits(VkPhysicalDevice device);

}  // namespace acefit::vk
