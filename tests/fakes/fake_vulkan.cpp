// A fake Vulkan loader (libvulkan) for the probe tests; configured by
// ACEFIT_FAKE_VULKAN (fake_config.h). It exports vkGetInstanceProcAddr only,
// as a probe must reach everything through it. Each device has a host heap
// (not device-local, with a large budget the probe must ignore) followed by
// one device-local heap per entry of total<i>.
#define VK_NO_PROTOTYPES
#include <vulkan/vulkan_core.h>

#include <cstring>

#include "fake_config.h"

struct VkInstance_T {
  int unused;
};
struct VkPhysicalDevice_T {
  std::uint32_t index;
};

namespace {

constexpr const char* kVariable = "ACEFIT_FAKE_VULKAN";
constexpr std::uint32_t kHandles = 128;
constexpr std::uint64_t kHostHeap = 64ull << 30;

acefit::fake::Config config;
VkInstance_T instance_object;
bool instance_live = false;
VkPhysicalDevice_T devices[kHandles];

std::uint32_t device_count() {
  const long long n = config.number("devices");
  return n < 0 ? 0 : n > 0xFFFFFFFFll ? 0xFFFFFFFFu : static_cast<std::uint32_t>(n);
}

bool valid(VkPhysicalDevice device) {
  return instance_live && device != nullptr && device >= devices && device < devices + kHandles &&
         device->index < device_count();
}

VkPhysicalDeviceType device_type(std::uint32_t index) {
  const std::string type = config.device_text("type", index, "discrete");
  if (type == "integrated") return VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
  if (type == "virtual") return VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU;
  if (type == "cpu") return VK_PHYSICAL_DEVICE_TYPE_CPU;
  if (type == "other") return VK_PHYSICAL_DEVICE_TYPE_OTHER;
  return VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
}

VKAPI_ATTR VkResult VKAPI_CALL create_instance(const VkInstanceCreateInfo* info,
                                               const VkAllocationCallbacks*, VkInstance* instance) {
  config.load(kVariable);
  if (auto code = config.failure("vkCreateInstance")) return static_cast<VkResult>(*code);
  if (info == nullptr || instance == nullptr ||
      info->sType != VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO) {
    return VK_ERROR_INITIALIZATION_FAILED;
  }
  for (std::uint32_t i = 0; i < kHandles; ++i) devices[i].index = i;
  instance_live = true;
  *instance = &instance_object;
  return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL destroy_instance(VkInstance instance, const VkAllocationCallbacks*) {
  if (instance == &instance_object) instance_live = false;
  acefit::fake::mark_shutdown(kVariable);
}

VKAPI_ATTR VkResult VKAPI_CALL enumerate_devices(VkInstance instance, std::uint32_t* count,
                                                 VkPhysicalDevice* out) {
  if (instance != &instance_object || !instance_live || count == nullptr) {
    return VK_ERROR_INITIALIZATION_FAILED;
  }
  if (auto code = config.failure("vkEnumeratePhysicalDevices")) {
    return static_cast<VkResult>(*code);
  }
  const std::uint32_t available = device_count();
  if (out == nullptr) {
    *count = available;
    return VK_SUCCESS;
  }
  std::uint32_t n = *count < available ? *count : available;
  n = n < kHandles ? n : kHandles;
  for (std::uint32_t i = 0; i < n; ++i) out[i] = &devices[i];
  *count = n;
  return n < available ? VK_INCOMPLETE : VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL device_properties(VkPhysicalDevice device,
                                             VkPhysicalDeviceProperties* properties) {
  if (!valid(device) || properties == nullptr) return;
  const std::uint32_t i = device->index;
  *properties = VkPhysicalDeviceProperties{};
  properties->apiVersion =
      static_cast<std::uint32_t>(config.device_number("api", i, (1 << 22) | (3 << 12) | 250));
  properties->driverVersion = static_cast<std::uint32_t>(config.device_number("driver", i));
  properties->vendorID = static_cast<std::uint32_t>(config.device_number("vendor", i, 0x1002));
  properties->deviceID = 0x744C;
  properties->deviceType = device_type(i);
  acefit::fake::write_name(config.device_name(i), properties->deviceName,
                           sizeof(properties->deviceName), config.unterminated(i));
}

VKAPI_ATTR VkResult VKAPI_CALL device_extensions(VkPhysicalDevice device, const char* layer,
                                                 std::uint32_t* count, VkExtensionProperties* out) {
  if (!valid(device) || layer != nullptr || count == nullptr) return VK_ERROR_LAYER_NOT_PRESENT;
  std::vector<std::string> names = {"VK_KHR_swapchain", "VK_KHR_maintenance1"};
  if (config.device_number("membudget", device->index, 1) != 0) {
    names.push_back(VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
  }
  const auto available = static_cast<std::uint32_t>(names.size());
  if (out == nullptr) {
    *count = available;
    return VK_SUCCESS;
  }
  const std::uint32_t n = *count < available ? *count : available;
  for (std::uint32_t i = 0; i < n; ++i) {
    out[i] = VkExtensionProperties{};
    acefit::fake::write_name(names[i], out[i].extensionName, sizeof(out[i].extensionName), false);
    out[i].specVersion = 1;
  }
  *count = n;
  return n < available ? VK_INCOMPLETE : VK_SUCCESS;
}

void fill_memory(std::uint32_t index, VkPhysicalDeviceMemoryProperties& memory,
                 VkPhysicalDeviceMemoryBudgetPropertiesEXT* budget) {
  memory = VkPhysicalDeviceMemoryProperties{};
  const std::vector<long long> totals = config.device_list("total", index);
  const std::vector<long long> budgets = config.device_list("budget", index);
  const std::vector<long long> usages = config.device_list("usage", index);
  memory.memoryHeapCount = 1;
  memory.memoryHeaps[0].size = kHostHeap;
  memory.memoryHeaps[0].flags = 0;
  if (budget != nullptr) {
    budget->heapBudget[0] = kHostHeap;
    budget->heapUsage[0] = 0;
  }
  for (std::size_t h = 0; h < totals.size() && memory.memoryHeapCount < VK_MAX_MEMORY_HEAPS; ++h) {
    const std::uint32_t heap = memory.memoryHeapCount++;
    memory.memoryHeaps[heap].size = static_cast<VkDeviceSize>(totals[h]);
    memory.memoryHeaps[heap].flags = VK_MEMORY_HEAP_DEVICE_LOCAL_BIT;
    if (budget != nullptr) {
      budget->heapBudget[heap] = h < budgets.size() ? static_cast<VkDeviceSize>(budgets[h]) : 0;
      budget->heapUsage[heap] = h < usages.size() ? static_cast<VkDeviceSize>(usages[h]) : 0;
    }
  }
  memory.memoryTypeCount = 1;
  memory.memoryTypes[0].heapIndex = 0;
}

VKAPI_ATTR void VKAPI_CALL memory_properties(VkPhysicalDevice device,
                                             VkPhysicalDeviceMemoryProperties* memory) {
  if (!valid(device) || memory == nullptr) return;
  fill_memory(device->index, *memory, nullptr);
}

VKAPI_ATTR void VKAPI_CALL memory_properties2(VkPhysicalDevice device,
                                              VkPhysicalDeviceMemoryProperties2* memory) {
  if (!valid(device) || memory == nullptr) return;
  VkPhysicalDeviceMemoryBudgetPropertiesEXT* budget = nullptr;
  for (auto* next = static_cast<VkBaseOutStructure*>(memory->pNext); next != nullptr;
       next = next->pNext) {
    if (next->sType == VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT) {
      budget = reinterpret_cast<VkPhysicalDeviceMemoryBudgetPropertiesEXT*>(next);
    }
  }
  fill_memory(device->index, memory->memoryProperties, budget);
}

PFN_vkVoidFunction as_void(auto function) {
  return reinterpret_cast<PFN_vkVoidFunction>(function);
}

}  // namespace

ACEFIT_FAKE_EXPORT PFN_vkVoidFunction vkGetInstanceProcAddr(VkInstance instance, const char* name) {
  if (name == nullptr) return nullptr;
  if (instance == nullptr) config.load(kVariable);  // the loader's first call
  if (config.listed("omit", name)) return nullptr;
  const std::string n(name);
  if (n == "vkCreateInstance") return as_void(&create_instance);
  if (instance != &instance_object) return nullptr;
  if (n == "vkDestroyInstance") return as_void(&destroy_instance);
  if (n == "vkEnumeratePhysicalDevices") return as_void(&enumerate_devices);
  if (n == "vkGetPhysicalDeviceProperties") return as_void(&device_properties);
  if (n == "vkEnumerateDeviceExtensionProperties") return as_void(&device_extensions);
  if (n == "vkGetPhysicalDeviceMemoryProperties") return as_void(&memory_properties);
  if (n == "vkGetPhysicalDeviceMemoryProperties2") return as_void(&memory_properties2);
  return nullptr;
}
