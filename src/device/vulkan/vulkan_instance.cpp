#include "device/vulkan/vulkan_instance.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace acefit::vk {

const char* vk_result_name(VkResult result) {
  switch (result) {
    case VK_SUCCESS:
      return "VK_SUCCESS";
    case VK_NOT_READY:
      return "VK_NOT_READY";
    case VK_TIMEOUT:
      return "VK_TIMEOUT";
    case VK_INCOMPLETE:
      return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY:
      return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
      return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED:
      return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST:
      return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED:
      return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT:
      return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT:
      return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT:
      return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER:
      return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS:
      return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED:
      return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_UNKNOWN:
      return "VK_ERROR_UNKNOWN";
    case VK_ERROR_INVALID_SHADER_NV:
      return "VK_ERROR_INVALID_SHADER_NV";
    default:
      return "VkResult";
  }
}

Status vk_error(VkResult result, const std::string& what) {
  const std::string text =
      what + ": " + vk_result_name(result) + " (" + std::to_string(static_cast<int>(result)) + ")";
  if (result == VK_ERROR_OUT_OF_DEVICE_MEMORY || result == VK_ERROR_OUT_OF_HOST_MEMORY) {
    return Status(ErrorCode::out_of_memory, text);
  }
  if (result == VK_ERROR_INCOMPATIBLE_DRIVER || result == VK_ERROR_INITIALIZATION_FAILED) {
    return Status(ErrorCode::not_found, text);
  }
  return internal_error(text);
}

namespace {

bool has_extension(VkPhysicalDevice device, const char* name) {
  std::uint32_t count = 0;
  if (vkEnumerateDeviceExtensionProperties(device, nullptr, &count, nullptr) != VK_SUCCESS)
    return false;
  std::vector<VkExtensionProperties> extensions(count);
  if (vkEnumerateDeviceExtensionProperties(device, nullptr, &count, extensions.data()) !=
      VK_SUCCESS)
    return false;
  for (const auto& e : extensions) {
    if (std::strcmp(e.extensionName, name) == 0) return true;
  }
  return false;
}

std::string version_text(std::uint32_t v) {
  return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) +
         "." + std::to_string(VK_API_VERSION_PATCH(v));
}

}  // namespace

Expected<std::shared_ptr<Instance>> Instance::create() {
  std::shared_ptr<Instance> instance(new Instance());
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "acefit";
  app.pEngineName = "acefit";
  app.apiVersion = VK_API_VERSION_1_2;
  VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  info.pApplicationInfo = &app;
  // MoltenVK and other portability drivers are listed only when asked for.
  std::uint32_t count = 0;
  std::vector<const char*> extensions;
  if (vkEnumerateInstanceExtensionProperties(nullptr, &count, nullptr) == VK_SUCCESS) {
    std::vector<VkExtensionProperties> available(count);
    if (vkEnumerateInstanceExtensionProperties(nullptr, &count, available.data()) == VK_SUCCESS) {
      for (const auto& e : available) {
        if (std::strcmp(e.extensionName, VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME) == 0) {
          extensions.push_back(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);
          info.flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
        }
      }
    }
  }
  info.enabledExtensionCount = static_cast<std::uint32_t>(extensions.size());
  info.ppEnabledExtensionNames = extensions.data();
  VkResult result = vkCreateInstance(&info, nullptr, &instance->instance_);
  if (result != VK_SUCCESS) {
    instance->instance_ = VK_NULL_HANDLE;
    return vk_error(result, "creating the Vulkan instance (is a Vulkan driver installed?)");
  }
  count = 0;
  result = vkEnumeratePhysicalDevices(instance->instance_, &count, nullptr);
  if (result != VK_SUCCESS) return vk_error(result, "listing Vulkan devices");
  instance->physical_devices_.resize(count);
  result =
      vkEnumeratePhysicalDevices(instance->instance_, &count, instance->physical_devices_.data());
  if (result != VK_SUCCESS && result != VK_INCOMPLETE)
    return vk_error(result, "listing Vulkan devices");
  instance->physical_devices_.resize(count);
  return instance;
}

Instance::~Instance() {
  if (instance_ != VK_NULL_HANDLE) vkDestroyInstance(instance_, nullptr);
}

int compute_memory_type(VkPhysicalDevice device) {
  VkPhysicalDeviceMemoryProperties memory{};
  vkGetPhysicalDeviceMemoryProperties(device, &memory);
  int best = -1;
  std::uint64_t best_heap = 0;
  for (std::uint32_t i = 0; i < memory.memoryTypeCount; ++i) {
    const auto flags = memory.memoryTypes[i].propertyFlags;
    if ((flags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) == 0) continue;
    if (flags & (VK_MEMORY_PROPERTY_PROTECTED_BIT | VK_MEMORY_PROPERTY_LAZILY_ALLOCATED_BIT))
      continue;
    const std::uint64_t heap = memory.memoryHeaps[memory.memoryTypes[i].heapIndex].size;
    if (best < 0 || heap > best_heap) {
      best = static_cast<int>(i);
      best_heap = heap;
    }
  }
  return best;
}

VulkanLimits physical_device_limits(VkPhysicalDevice device) {
  VkPhysicalDeviceSubgroupProperties subgroup{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceProperties2 properties{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &subgroup};
  vkGetPhysicalDeviceProperties2(device, &properties);
  const VkPhysicalDeviceLimits& l = properties.properties.limits;
  VulkanLimits limits;
  limits.subgroup_size = std::max<std::uint32_t>(1, subgroup.subgroupSize);
  limits.max_workgroup_invocations = l.maxComputeWorkGroupInvocations;
  limits.max_workgroup_count = {l.maxComputeWorkGroupCount[0], l.maxComputeWorkGroupCount[1],
                                l.maxComputeWorkGroupCount[2]};
  limits.shared_memory_bytes = l.maxComputeSharedMemorySize;
  limits.push_constant_bytes = std::min<std::uint32_t>(128, l.maxPushConstantsSize);
  limits.subgroup_arithmetic =
      (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) != 0 &&
      (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) != 0;
  return limits;
}

VulkanDeviceInfo describe_physical_device(VkPhysicalDevice device, int index) {
  VulkanDeviceInfo info;
  info.index = index;
  VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceProperties2 properties{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  VkPhysicalDeviceProperties basic{};
  vkGetPhysicalDeviceProperties(device, &basic);
  if (basic.apiVersion >= VK_API_VERSION_1_2) properties.pNext = &driver;
  vkGetPhysicalDeviceProperties2(device, &properties);
  const VkPhysicalDeviceProperties& p = properties.properties;
  info.name = p.deviceName;
  switch (p.vendorID) {
    case 0x10DE:
      info.vendor = "NVIDIA";
      break;
    case 0x1002:
      info.vendor = "AMD";
      break;
    case 0x8086:
      info.vendor = "Intel";
      break;
    case 0x106B:
      info.vendor = "Apple";
      break;
    case 0x13B5:
      info.vendor = "ARM";
      break;
    case 0x5143:
      info.vendor = "Qualcomm";
      break;
    case 0x10005:
      info.vendor = "Mesa";
      break;
    default:
      info.vendor = "vendor 0x" + [](std::uint32_t id) {
        char text[16];
        std::snprintf(text, sizeof text, "%04X", id);
        return std::string(text);
      }(p.vendorID);
  }
  switch (p.deviceType) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      info.type = VulkanDeviceType::integrated_gpu;
      break;
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      info.type = VulkanDeviceType::discrete_gpu;
      break;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      info.type = VulkanDeviceType::virtual_gpu;
      break;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      info.type = VulkanDeviceType::cpu;
      break;
    default:
      info.type = VulkanDeviceType::other;
      break;
  }
  info.api_version = version_text(p.apiVersion);
  if (basic.apiVersion >= VK_API_VERSION_1_2) {
    info.driver = std::string(driver.driverName);
    if (driver.driverInfo[0] != '\0') info.driver += " " + std::string(driver.driverInfo);
  }
  info.memory_budget_extension = has_extension(device, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
  info.cooperative_matrix_extension = has_extension(device, "VK_KHR_cooperative_matrix");

  VkPhysicalDeviceMemoryBudgetPropertiesEXT budget{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
  VkPhysicalDeviceMemoryProperties2 memory{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2};
  if (info.memory_budget_extension) memory.pNext = &budget;
  vkGetPhysicalDeviceMemoryProperties2(device, &memory);
  const auto& m = memory.memoryProperties;
  for (std::uint32_t h = 0; h < m.memoryHeapCount; ++h) {
    VulkanHeap heap;
    heap.size_bytes = m.memoryHeaps[h].size;
    heap.device_local = (m.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0;
    heap.budget_bytes = heap.size_bytes;
    if (info.memory_budget_extension && budget.heapBudget[h] > 0) {
      heap.budget_bytes = std::min(heap.size_bytes, budget.heapBudget[h]);
      heap.usage_bytes = budget.heapUsage[h];
    }
    info.heaps.push_back(heap);
  }
  const int type = compute_memory_type(device);
  if (type >= 0) info.compute_heap = static_cast<int>(m.memoryTypes[type].heapIndex);

  // What the kernels need: Vulkan 1.2, buffer device addresses, 8- and
  // 16-bit storage (bf16 and int8 weights) and 8-bit integers.
  std::string missing;
  auto need = [&](bool present, const char* what) {
    if (present) return;
    if (!missing.empty()) missing += ", ";
    missing += what;
  };
  need(p.apiVersion >= VK_API_VERSION_1_2, "Vulkan 1.2");
  if (p.apiVersion >= VK_API_VERSION_1_2) {
    VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
                                         &f12};
    VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f11};
    vkGetPhysicalDeviceFeatures2(device, &features);
    need(f12.bufferDeviceAddress, "bufferDeviceAddress");
    need(f12.storageBuffer8BitAccess, "storageBuffer8BitAccess");
    need(f12.shaderInt8, "shaderInt8");
    need(f11.storageBuffer16BitAccess, "storageBuffer16BitAccess");
  }
  need(type >= 0, "a device-local memory type");
  info.usable = missing.empty();
  if (!info.usable) info.unusable_why = "missing " + missing;
  return info;
}

}  // namespace acefit::vk
