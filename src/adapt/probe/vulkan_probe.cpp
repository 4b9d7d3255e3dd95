// Any vendor's GPUs through Vulkan (libvulkan), loaded at run time: every
// function comes from vkGetInstanceProcAddr, itself found with dlsym. Free
// memory needs VK_EXT_memory_budget.
#define VK_NO_PROTOTYPES
#include <vulkan/vulkan_core.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>

#include "adapt/probe/probe_internal.h"

namespace acefit::probe {
namespace {

// VK_API_VERSION_1_1, spelled without the header's C-style casts.
constexpr std::uint32_t kApiVersion11 = (1u << 22) | (1u << 12);
constexpr std::uint32_t kNvidiaVendorId = 0x10DE;
constexpr std::uint32_t kMaxExtensions = 4096;

struct VulkanApi {
  PFN_vkGetInstanceProcAddr get_proc = nullptr;
  PFN_vkCreateInstance create_instance = nullptr;
  PFN_vkDestroyInstance destroy_instance = nullptr;
  PFN_vkEnumeratePhysicalDevices enumerate_devices = nullptr;
  PFN_vkGetPhysicalDeviceProperties device_properties = nullptr;
  PFN_vkGetPhysicalDeviceMemoryProperties memory_properties = nullptr;
  // Optional: without them free memory is unknown.
  PFN_vkGetPhysicalDeviceMemoryProperties2 memory_properties2 = nullptr;
  PFN_vkEnumerateDeviceExtensionProperties device_extensions = nullptr;
};

template <typename Pfn>
void load(const VulkanApi& api, VkInstance instance, const char* name, Pfn& out) {
  out = reinterpret_cast<Pfn>(api.get_proc(instance, name));
}

// Loads the instance-level functions; returns the first required one missing.
std::string load_instance_functions(VulkanApi& api, VkInstance instance) {
  load(api, instance, "vkDestroyInstance", api.destroy_instance);
  load(api, instance, "vkEnumeratePhysicalDevices", api.enumerate_devices);
  load(api, instance, "vkGetPhysicalDeviceProperties", api.device_properties);
  load(api, instance, "vkGetPhysicalDeviceMemoryProperties", api.memory_properties);
  load(api, instance, "vkGetPhysicalDeviceMemoryProperties2", api.memory_properties2);
  load(api, instance, "vkEnumerateDeviceExtensionProperties", api.device_extensions);
  if (api.destroy_instance == nullptr) return "vkDestroyInstance";
  if (api.enumerate_devices == nullptr) return "vkEnumeratePhysicalDevices";
  if (api.device_properties == nullptr) return "vkGetPhysicalDeviceProperties";
  if (api.memory_properties == nullptr) return "vkGetPhysicalDeviceMemoryProperties";
  return std::string();
}

std::string version_text(std::uint32_t version) {
  // VK_API_VERSION_MAJOR / MINOR / PATCH: 7, 10 and 12 bits.
  return std::to_string((version >> 22) & 0x7Fu) + "." + std::to_string((version >> 12) & 0x3FFu) +
         "." + std::to_string(version & 0xFFFu);
}

// NVIDIA packs its driver version as 10.8.8.6 bits; the rest use the
// Vulkan version layout.
std::string driver_version_text(std::uint32_t version, std::uint32_t vendor_id) {
  if (vendor_id != kNvidiaVendorId) return version_text(version);
  std::string text = std::to_string(version >> 22) + "." + std::to_string((version >> 14) & 0xFFu) +
                     "." + std::to_string((version >> 6) & 0xFFu);
  if ((version & 0x3Fu) != 0) text += "." + std::to_string(version & 0x3Fu);
  return text;
}

bool has_memory_budget(const VulkanApi& api, VkPhysicalDevice device) {
  if (api.device_extensions == nullptr) return false;
  std::uint32_t count = 0;
  if (api.device_extensions(device, nullptr, &count, nullptr) != VK_SUCCESS || count == 0) {
    return false;
  }
  count = std::min(count, kMaxExtensions);
  std::vector<VkExtensionProperties> extensions(count);
  const VkResult rc = api.device_extensions(device, nullptr, &count, extensions.data());
  if (rc != VK_SUCCESS && rc != VK_INCOMPLETE) return false;
  count = std::min<std::uint32_t>(count, static_cast<std::uint32_t>(extensions.size()));
  for (std::uint32_t i = 0; i < count; ++i) {
    const char* name = extensions[i].extensionName;
    if (bounded_string(name, sizeof(extensions[i].extensionName)) ==
        VK_EXT_MEMORY_BUDGET_EXTENSION_NAME) {
      return true;
    }
  }
  return false;
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

// Total: the device-local heaps. Free: their budget less their usage, when
// the device has VK_EXT_memory_budget (and Vulkan 1.1 to ask it).
void read_memory(const VulkanApi& api, VkPhysicalDevice handle, std::uint32_t device_api_version,
                 ProbedDevice& device) {
  const bool budget_known = api.memory_properties2 != nullptr &&
                            device_api_version >= kApiVersion11 && has_memory_budget(api, handle);
  VkPhysicalDeviceMemoryBudgetPropertiesEXT budget{};
  budget.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT;
  VkPhysicalDeviceMemoryProperties2 properties2{};
  properties2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2;
  if (budget_known) {
    properties2.pNext = &budget;
    api.memory_properties2(handle, &properties2);
  } else {
    api.memory_properties(handle, &properties2.memoryProperties);
  }
  const VkPhysicalDeviceMemoryProperties& memory = properties2.memoryProperties;
  const std::uint32_t heaps = std::min<std::uint32_t>(memory.memoryHeapCount, VK_MAX_MEMORY_HEAPS);
  std::uint64_t total = 0;
  std::uint64_t free = 0;
  for (std::uint32_t i = 0; i < heaps; ++i) {
    if ((memory.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) == 0) continue;
    total = saturating_add(total, memory.memoryHeaps[i].size);
    if (budget.heapBudget[i] > budget.heapUsage[i]) {
      free = saturating_add(free, budget.heapBudget[i] - budget.heapUsage[i]);
    }
  }
  set_memory(device, total, budget_known ? std::optional<std::uint64_t>(free) : std::nullopt);
}

void list_devices(const VulkanApi& api, VkInstance instance, ApiProbe& result) {
  ProbeOutcome& outcome = result.outcome;
  std::uint32_t reported = 0;
  if (const VkResult rc = api.enumerate_devices(instance, &reported, nullptr); rc != VK_SUCCESS) {
    set_failed(outcome, call_failed("vkEnumeratePhysicalDevices", rc));
    return;
  }
  std::uint32_t count = capped_count(reported, "vkEnumeratePhysicalDevices", outcome);
  std::vector<VkPhysicalDevice> handles(count, nullptr);
  if (count > 0) {
    const VkResult rc = api.enumerate_devices(instance, &count, handles.data());
    if (rc != VK_SUCCESS && rc != VK_INCOMPLETE) {
      set_failed(outcome, call_failed("vkEnumeratePhysicalDevices", rc));
      return;
    }
    handles.resize(std::min<std::size_t>(count, handles.size()));
  }

  for (std::size_t index = 0; index < handles.size(); ++index) {
    if (handles[index] == nullptr) continue;
    VkPhysicalDeviceProperties properties{};
    api.device_properties(handles[index], &properties);
    if (properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) continue;  // llvmpipe and kin

    ProbedDevice device;
    device.api = "vulkan";
    device.vendor = pci_vendor_name(properties.vendorID);
    device.index = static_cast<int>(index);
    device.name = bounded_string(properties.deviceName, sizeof(properties.deviceName));
    device.driver_version = driver_version_text(properties.driverVersion, properties.vendorID);
    device.runtime_version = "Vulkan " + version_text(properties.apiVersion);
    read_memory(api, handles[index], properties.apiVersion, device);
    result.devices.push_back(std::move(device));
  }
  outcome.device_count = static_cast<int>(result.devices.size());
}

}  // namespace

ApiProbe probe_vulkan(const std::string& library_path) {
  ApiProbe result;
  result.outcome.api = "vulkan";
  SharedLibrary library;
  if (!open_library(library_path, library, result.outcome)) return result;

  VulkanApi api;
  api.get_proc =
      library.function<std::remove_pointer_t<PFN_vkGetInstanceProcAddr>>("vkGetInstanceProcAddr");
  if (api.get_proc == nullptr) {
    set_failed(result.outcome, "missing symbol vkGetInstanceProcAddr");
    return result;
  }
  load(api, nullptr, "vkCreateInstance", api.create_instance);
  if (api.create_instance == nullptr) {
    set_failed(result.outcome, "missing symbol vkCreateInstance");
    return result;
  }

  VkApplicationInfo application{};
  application.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
  application.pApplicationName = "acefit device probe";
  application.apiVersion = kApiVersion11;
  VkInstanceCreateInfo create_info{};
  create_info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
  create_info.pApplicationInfo = &application;
  VkInstance instance = nullptr;
  if (const VkResult rc = api.create_instance(&create_info, nullptr, &instance);
      rc != VK_SUCCESS || instance == nullptr) {
    set_failed(result.outcome, call_failed("vkCreateInstance", rc));
    return result;
  }

  const std::string missing = load_instance_functions(api, instance);
  if (!missing.empty()) {
    set_failed(result.outcome, "missing symbol " + missing);
  } else {
    list_devices(api, instance, result);
  }
  if (api.destroy_instance != nullptr) api.destroy_instance(instance, nullptr);
  if (result.outcome.state != ProbeOutcome::State::ok) result.devices.clear();
  return result;
}

}  // namespace acefit::probe
