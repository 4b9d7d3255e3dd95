// The vulkan device: one compute queue, a ring of command buffers recorded
// between sync points, a staging arena for transfers, pipelines built once
// per shader, and device memory from DeviceMemoryPool. docs/VULKAN.md.
#include "device/vulkan/vulkan_device.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <utility>

#include "device/vulkan/vulkan_instance.h"
#include "device/vulkan/vulkan_memory.h"

namespace acefit {

bool vulkan_compiled_in() {
  return true;
}

Expected<std::vector<VulkanDeviceInfo>> list_vulkan_devices() {
  ACEFIT_ASSIGN(auto instance, vk::Instance::create());
  std::vector<VulkanDeviceInfo> devices;
  int index = 0;
  for (VkPhysicalDevice device : instance->physical_devices()) {
    devices.push_back(vk::describe_physical_device(device, index++));
  }
  return devices;
}

VulkanDevice* as_vulkan(Device& device) {
  if (device.kind() != DeviceKind::vulkan || device.planning()) return nullptr;
  return static_cast<VulkanDevice*>(&device);
}

namespace {

using vk::vk_error;

// Device addresses are handed out moved by this bias: on every host a
// dereference of such a pointer faults (x86-64: non-canonical; 48-bit
// arm64: unmapped, and above the top byte that arm64 ignores), even where
// the driver's addresses are host pointers (lavapipe).
constexpr std::uint64_t kAddressBias = std::uint64_t{1} << 52;

// Transfers go through a host-visible arena of this size, in pieces.
constexpr std::uint64_t kStagingBytes = std::uint64_t{32} << 20;
// A command buffer is submitted (without waiting) after this many commands,
// so the GPU starts on long sequences before the next sync point.
constexpr int kCommandsPerSubmit = 64;
constexpr int kCommandBufferRing = 4;

struct Submission {
  VkCommandBuffer commands = VK_NULL_HANDLE;
  VkFence fence = VK_NULL_HANDLE;
  bool in_flight = false;
};

// A pipeline per (shader, specialization constants); a fixed array, so that
// looking one up on every dispatch allocates nothing.
constexpr std::size_t kMaxSpecializationConstants = 8;
struct PipelineKey {
  const std::uint32_t* words = nullptr;
  std::size_t count = 0;
  std::array<std::uint32_t, kMaxSpecializationConstants> constants{};
  bool operator<(const PipelineKey& other) const {
    return std::tie(words, count, constants) < std::tie(other.words, other.count, other.constants);
  }
};

class VulkanDeviceImpl final : public VulkanDevice {
 public:
  VulkanDeviceImpl(std::string name, std::uint64_t cap_bytes, VulkanDeviceInfo info,
                   VulkanLimits limits)
      : VulkanDevice(std::move(name), cap_bytes, vk::kVulkanAlignmentBytes, std::move(info),
                     limits) {}

  ~VulkanDeviceImpl() override {
    if (device_ == VK_NULL_HANDLE) return;
    vkDeviceWaitIdle(device_);
    pool_.reset();
    for (auto& [key, pipeline] : pipelines_) vkDestroyPipeline(device_, pipeline, nullptr);
    for (auto& [words, module] : modules_) vkDestroyShaderModule(device_, module, nullptr);
    if (layout_ != VK_NULL_HANDLE) vkDestroyPipelineLayout(device_, layout_, nullptr);
    for (auto& s : ring_) {
      if (s.fence != VK_NULL_HANDLE) vkDestroyFence(device_, s.fence, nullptr);
    }
    if (command_pool_ != VK_NULL_HANDLE) vkDestroyCommandPool(device_, command_pool_, nullptr);
    if (staging_buffer_ != VK_NULL_HANDLE) vkDestroyBuffer(device_, staging_buffer_, nullptr);
    if (staging_memory_ != VK_NULL_HANDLE) vkFreeMemory(device_, staging_memory_, nullptr);
    vkDestroyDevice(device_, nullptr);
  }

  Status open(std::shared_ptr<vk::Instance> instance, VkPhysicalDevice physical);
  // What the Budget may hand out: the heap's budget less the staging arena
  // when that lives on the same heap.
  std::uint64_t usable_heap_bytes() const {
    return heap_budget_ > staging_heap_bytes_ ? heap_budget_ - staging_heap_bytes_ : 0;
  }

  // Total: the compute heap. Free: what the Budget may still hand out, the
  // heap's budget (less the staging arena) bounding the cap. Space inside
  // the driver blocks counts as free: the suballocator reuses it.
  DeviceMemory memory() const override {
    const std::uint64_t used = budget().used_bytes();
    const std::uint64_t usable = std::min(usable_heap_bytes(), budget().cap_bytes());
    return {heap_size_, usable > used ? usable - used : 0};
  }

  std::uint64_t address(const void* data) const override {
    const auto value = reinterpret_cast<std::uintptr_t>(data);
    return value == 0 ? 0 : value - kAddressBias;
  }

  Status dispatch(const ShaderCode& shader, std::span<const std::byte> push,
                  std::array<std::uint32_t, 3> groups,
                  std::span<const std::uint32_t> constants) override;

  VulkanStats stats() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    VulkanStats s = stats_;
    s.pipelines = pipelines_.size();
    if (pool_) {
      s.driver_bytes = pool_->driver_bytes();
      s.peak_driver_bytes = pool_->peak_driver_bytes();
      s.driver_blocks = pool_->block_count();
    }
    return s;
  }

  Status synchronize() override {
    std::lock_guard<std::mutex> lock(mutex_);
    return wait_all();
  }

 protected:
  void* raw_allocate(std::uint64_t bytes) override;
  void raw_free(void* pointer, std::uint64_t bytes) override;
  Status raw_copy_from_host(void* dst, const void* src, std::uint64_t bytes) override;
  Status raw_copy_to_host(void* dst, const void* src, std::uint64_t bytes) override;
  Status raw_copy_on_device(void* dst, const void* src, std::uint64_t bytes) override;

 private:
  Status check_usable() const {
    if (!lost_.ok()) return lost_;
    return {};
  }
  Status begin_commands();
  void record_barrier();
  Status submit();
  Status wait_all();
  Status after_command();
  Expected<VkPipeline> pipeline(const ShaderCode& shader, std::span<const std::uint32_t> constants);
  Expected<vk::BufferRange> locate(const void* data, std::uint64_t bytes, const char* what) const;

  std::shared_ptr<vk::Instance> instance_;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  VkCommandPool command_pool_ = VK_NULL_HANDLE;
  std::array<Submission, kCommandBufferRing> ring_{};
  int current_ = 0;
  bool recording_ = false;
  int commands_ = 0;  // in the command buffer being recorded
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  std::map<const std::uint32_t*, VkShaderModule> modules_;
  std::map<PipelineKey, VkPipeline> pipelines_;
  VkBuffer staging_buffer_ = VK_NULL_HANDLE;
  VkDeviceMemory staging_memory_ = VK_NULL_HANDLE;
  std::byte* staging_ = nullptr;
  std::uint64_t staging_used_ = 0;
  std::uint64_t staging_heap_bytes_ = 0;  // staging bytes taken from the compute heap
  std::uint64_t heap_size_ = 0;
  std::uint64_t heap_budget_ = 0;
  std::unique_ptr<vk::DeviceMemoryPool> pool_;
  VulkanStats stats_;
  Status lost_;  // set once the device is lost: every later call fails with it
  mutable std::mutex mutex_;
};

Status VulkanDeviceImpl::open(std::shared_ptr<vk::Instance> instance, VkPhysicalDevice physical) {
  instance_ = std::move(instance);
  physical_ = physical;
  // A queue family with compute.
  std::uint32_t family_count = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &family_count, nullptr);
  std::vector<VkQueueFamilyProperties> families(family_count);
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &family_count, families.data());
  int family = -1;
  for (std::uint32_t i = 0; i < family_count; ++i) {
    // Prefer a compute family without graphics (a dedicated compute queue).
    if ((families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) == 0) continue;
    if (family < 0 || (families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT) == 0)
      family = static_cast<int>(i);
  }
  if (family < 0) return unsupported(name() + ": the Vulkan device has no compute queue");

  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, &f12};
  VkPhysicalDeviceFeatures2 available{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f11};
  vkGetPhysicalDeviceFeatures2(physical, &available);
  VkPhysicalDeviceVulkan12Features e12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  e12.bufferDeviceAddress = VK_TRUE;
  e12.storageBuffer8BitAccess = VK_TRUE;
  e12.shaderInt8 = VK_TRUE;
  e12.shaderFloat16 = f12.shaderFloat16;
  VkPhysicalDeviceVulkan11Features e11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, &e12};
  e11.storageBuffer16BitAccess = VK_TRUE;
  VkPhysicalDeviceFeatures2 enabled{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &e11};
  enabled.features.shaderInt16 = available.features.shaderInt16;
  enabled.features.shaderInt64 = available.features.shaderInt64;

  const float priority = 1.0f;
  VkDeviceQueueCreateInfo queue_info{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  queue_info.queueFamilyIndex = static_cast<std::uint32_t>(family);
  queue_info.queueCount = 1;
  queue_info.pQueuePriorities = &priority;
  std::vector<const char*> extensions;
  if (info().memory_budget_extension) extensions.push_back(VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
  VkDeviceCreateInfo device_info{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &enabled};
  device_info.queueCreateInfoCount = 1;
  device_info.pQueueCreateInfos = &queue_info;
  device_info.enabledExtensionCount = static_cast<std::uint32_t>(extensions.size());
  device_info.ppEnabledExtensionNames = extensions.data();
  VkResult r = vkCreateDevice(physical, &device_info, nullptr, &device_);
  if (r != VK_SUCCESS) {
    device_ = VK_NULL_HANDLE;
    return vk_error(r, name() + ": creating the Vulkan device");
  }
  vkGetDeviceQueue(device_, static_cast<std::uint32_t>(family), 0, &queue_);

  VkCommandPoolCreateInfo pool_info{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pool_info.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pool_info.queueFamilyIndex = static_cast<std::uint32_t>(family);
  r = vkCreateCommandPool(device_, &pool_info, nullptr, &command_pool_);
  if (r != VK_SUCCESS) return vk_error(r, name() + ": creating a command pool");
  VkCommandBufferAllocateInfo command_info{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  command_info.commandPool = command_pool_;
  command_info.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  command_info.commandBufferCount = 1;
  for (auto& s : ring_) {
    r = vkAllocateCommandBuffers(device_, &command_info, &s.commands);
    if (r != VK_SUCCESS) return vk_error(r, name() + ": allocating a command buffer");
    VkFenceCreateInfo fence_info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    r = vkCreateFence(device_, &fence_info, nullptr, &s.fence);
    if (r != VK_SUCCESS) return vk_error(r, name() + ": creating a fence");
  }

  // Every kernel takes its buffers as device addresses and its shapes as
  // push constants: one pipeline layout, no descriptor sets.
  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, limits().push_constant_bytes};
  VkPipelineLayoutCreateInfo layout_info{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  layout_info.pushConstantRangeCount = 1;
  layout_info.pPushConstantRanges = &range;
  r = vkCreatePipelineLayout(device_, &layout_info, nullptr, &layout_);
  if (r != VK_SUCCESS) return vk_error(r, name() + ": creating the pipeline layout");

  // Device memory for tensors.
  const int type = vk::compute_memory_type(physical);
  VkPhysicalDeviceMemoryProperties memory{};
  vkGetPhysicalDeviceMemoryProperties(physical, &memory);
  const std::uint32_t compute_heap = memory.memoryTypes[type].heapIndex;
  heap_size_ = info().heaps[compute_heap].size_bytes;
  heap_budget_ = info().heaps[compute_heap].budget_bytes;
  // Blocks of 1/16 of the heap, between 16 and 256 MiB.
  const std::uint64_t block =
      std::clamp<std::uint64_t>(heap_size_ / 16, std::uint64_t{16} << 20, std::uint64_t{256} << 20);
  pool_ = std::make_unique<vk::DeviceMemoryPool>(device_, static_cast<std::uint32_t>(type), block);

  // The staging arena: host-visible and coherent, cached when offered.
  int staging_type = -1;
  for (bool want_cached : {true, false}) {
    for (std::uint32_t i = 0; i < memory.memoryTypeCount && staging_type < 0; ++i) {
      const auto flags = memory.memoryTypes[i].propertyFlags;
      const auto needed =
          VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |
          (want_cached ? static_cast<VkMemoryPropertyFlags>(VK_MEMORY_PROPERTY_HOST_CACHED_BIT)
                       : 0u);
      if ((flags & needed) == needed) staging_type = static_cast<int>(i);
    }
  }
  if (staging_type < 0) return unsupported(name() + ": no host-visible coherent memory type");
  VkBufferCreateInfo buffer_info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  buffer_info.size = kStagingBytes;
  buffer_info.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  r = vkCreateBuffer(device_, &buffer_info, nullptr, &staging_buffer_);
  if (r != VK_SUCCESS) return vk_error(r, name() + ": creating the staging buffer");
  VkMemoryRequirements requirements{};
  vkGetBufferMemoryRequirements(device_, staging_buffer_, &requirements);
  VkMemoryAllocateInfo allocate_info{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  allocate_info.allocationSize = requirements.size;
  allocate_info.memoryTypeIndex = static_cast<std::uint32_t>(staging_type);
  r = vkAllocateMemory(device_, &allocate_info, nullptr, &staging_memory_);
  if (r != VK_SUCCESS) return vk_error(r, name() + ": allocating the staging buffer");
  r = vkBindBufferMemory(device_, staging_buffer_, staging_memory_, 0);
  if (r != VK_SUCCESS) return vk_error(r, name() + ": binding the staging buffer");
  void* mapped = nullptr;
  r = vkMapMemory(device_, staging_memory_, 0, VK_WHOLE_SIZE, 0, &mapped);
  if (r != VK_SUCCESS) return vk_error(r, name() + ": mapping the staging buffer");
  staging_ = static_cast<std::byte*>(mapped);
  if (memory.memoryTypes[staging_type].heapIndex == compute_heap)
    staging_heap_bytes_ = requirements.size;
  return {};
}

Status VulkanDeviceImpl::begin_commands() {
  ACEFIT_TRY(check_usable());
  if (recording_) return {};
  Submission& s = ring_[static_cast<std::size_t>(current_)];
  if (s.in_flight) {
    VkResult r = vkWaitForFences(device_, 1, &s.fence, VK_TRUE, UINT64_MAX);
    ++stats_.waits;
    if (r != VK_SUCCESS) return lost_ = vk_error(r, name() + ": waiting for the GPU");
    s.in_flight = false;
  }
  VkResult r = vkResetFences(device_, 1, &s.fence);
  if (r == VK_SUCCESS) r = vkResetCommandBuffer(s.commands, 0);
  VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  if (r == VK_SUCCESS) r = vkBeginCommandBuffer(s.commands, &begin);
  if (r != VK_SUCCESS) return lost_ = vk_error(r, name() + ": starting a command buffer");
  recording_ = true;
  commands_ = 0;
  return {};
}

// Orders the next command after every earlier one (in this and in earlier
// submissions): all compute and transfer writes become visible to compute and
// transfer reads and writes. Kernels of a run depend on each other nearly
// always, so one global barrier per command is what a graph would give too.
void VulkanDeviceImpl::record_barrier() {
  VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  barrier.srcAccessMask =
      VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_WRITE_BIT;
  barrier.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                          VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  const VkPipelineStageFlags stages =
      VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
  vkCmdPipelineBarrier(ring_[static_cast<std::size_t>(current_)].commands,
                       stages | VK_PIPELINE_STAGE_HOST_BIT, stages, 0, 1, &barrier, 0, nullptr, 0,
                       nullptr);
}

Status VulkanDeviceImpl::submit() {
  if (!recording_) return {};
  Submission& s = ring_[static_cast<std::size_t>(current_)];
  // Transfer writes become visible to the host once the fence signals.
  VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  barrier.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  barrier.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  vkCmdPipelineBarrier(s.commands,
                       VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier, 0, nullptr, 0, nullptr);
  recording_ = false;
  VkResult r = vkEndCommandBuffer(s.commands);
  if (r != VK_SUCCESS) return lost_ = vk_error(r, name() + ": ending a command buffer");
  VkSubmitInfo submit_info{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  submit_info.commandBufferCount = 1;
  submit_info.pCommandBuffers = &s.commands;
  r = vkQueueSubmit(queue_, 1, &submit_info, s.fence);
  if (r != VK_SUCCESS) return lost_ = vk_error(r, name() + ": submitting work");
  s.in_flight = true;
  ++stats_.submits;
  current_ = (current_ + 1) % kCommandBufferRing;
  return {};
}

Status VulkanDeviceImpl::wait_all() {
  ACEFIT_TRY(check_usable());
  ACEFIT_TRY(submit());
  for (auto& s : ring_) {
    if (!s.in_flight) continue;
    const VkResult r = vkWaitForFences(device_, 1, &s.fence, VK_TRUE, UINT64_MAX);
    ++stats_.waits;
    if (r != VK_SUCCESS) return lost_ = vk_error(r, name() + ": waiting for the GPU");
    s.in_flight = false;
  }
  staging_used_ = 0;
  pool_->release_idle();
  return {};
}

Status VulkanDeviceImpl::after_command() {
  if (++commands_ >= kCommandsPerSubmit) return submit();
  return {};
}

Expected<VkPipeline> VulkanDeviceImpl::pipeline(const ShaderCode& shader,
                                                std::span<const std::uint32_t> constants) {
  PipelineKey key{shader.words, constants.size(), {}};
  std::copy(constants.begin(), constants.end(), key.constants.begin());
  if (auto it = pipelines_.find(key); it != pipelines_.end()) return it->second;
  VkShaderModule& module = modules_[shader.words];
  if (module == VK_NULL_HANDLE) {
    VkShaderModuleCreateInfo info{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    info.codeSize = shader.word_count * sizeof(std::uint32_t);
    info.pCode = shader.words;
    const VkResult r = vkCreateShaderModule(device_, &info, nullptr, &module);
    if (r != VK_SUCCESS) {
      modules_.erase(shader.words);
      return vk_error(r, name() + ": loading shader " + std::string(shader.name));
    }
  }
  std::vector<VkSpecializationMapEntry> entries;
  for (std::uint32_t i = 0; i < constants.size(); ++i)
    entries.push_back({i, i * 4u, sizeof(std::uint32_t)});
  VkSpecializationInfo specialization{};
  specialization.mapEntryCount = static_cast<std::uint32_t>(entries.size());
  specialization.pMapEntries = entries.data();
  specialization.dataSize = constants.size() * sizeof(std::uint32_t);
  specialization.pData = constants.data();
  VkComputePipelineCreateInfo info{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  info.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  info.stage.module = module;
  info.stage.pName = "main";
  info.stage.pSpecializationInfo = constants.empty() ? nullptr : &specialization;
  info.layout = layout_;
  VkPipeline pipeline = VK_NULL_HANDLE;
  const VkResult r =
      vkCreateComputePipelines(device_, VK_NULL_HANDLE, 1, &info, nullptr, &pipeline);
  if (r != VK_SUCCESS) return vk_error(r, name() + ": building shader " + std::string(shader.name));
  pipelines_.emplace(std::move(key), pipeline);
  return pipeline;
}

Status VulkanDeviceImpl::dispatch(const ShaderCode& shader, std::span<const std::byte> push,
                                  std::array<std::uint32_t, 3> groups,
                                  std::span<const std::uint32_t> constants) {
  auto refuse = [&](const std::string& why) {
    return invalid_argument(name() + ": kernel " + std::string(shader.name) + ": " + why);
  };
  if (push.size() > limits().push_constant_bytes || push.size() % 4 != 0) {
    return refuse(std::to_string(push.size()) + " bytes of push constants (at most " +
                  std::to_string(limits().push_constant_bytes) + ", a multiple of 4)");
  }
  if (constants.size() > kMaxSpecializationConstants) {
    return refuse(std::to_string(constants.size()) + " specialization constants (at most " +
                  std::to_string(kMaxSpecializationConstants) + ")");
  }
  for (int i = 0; i < 3; ++i) {
    if (groups[i] == 0 || groups[i] > limits().max_workgroup_count[i]) {
      return refuse(std::to_string(groups[i]) + " workgroups in dimension " + std::to_string(i) +
                    " (the device allows 1.." + std::to_string(limits().max_workgroup_count[i]) +
                    ")");
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  ACEFIT_ASSIGN(VkPipeline handle, pipeline(shader, constants));
  ACEFIT_TRY(begin_commands());
  VkCommandBuffer commands = ring_[static_cast<std::size_t>(current_)].commands;
  record_barrier();
  vkCmdBindPipeline(commands, VK_PIPELINE_BIND_POINT_COMPUTE, handle);
  if (!push.empty()) {
    vkCmdPushConstants(commands, layout_, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                       static_cast<std::uint32_t>(push.size()), push.data());
  }
  vkCmdDispatch(commands, groups[0], groups[1], groups[2]);
  ++stats_.dispatches;
  return after_command();
}

Expected<vk::BufferRange> VulkanDeviceImpl::locate(const void* data, std::uint64_t bytes,
                                                   const char* what) const {
  const vk::BufferRange range = pool_->locate(address(data));
  if (range.buffer == VK_NULL_HANDLE || range.available < bytes) {
    return internal_error(name() + ": " + what + ": " + std::to_string(bytes) +
                          " bytes at an address that is not device memory of this device");
  }
  return range;
}

void* VulkanDeviceImpl::raw_allocate(std::uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!lost_.ok()) return nullptr;
  VkDeviceAddress address = pool_->allocate(bytes);
  if (address == 0) {
    // Blocks freed while the GPU may still have used them go back to the
    // driver once it is idle; then try once more.
    if (!wait_all().ok()) return nullptr;
    address = pool_->allocate(bytes);
  }
  if (address == 0) return nullptr;
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(address + kAddressBias));
}

void VulkanDeviceImpl::raw_free(void* pointer, std::uint64_t) {
  std::lock_guard<std::mutex> lock(mutex_);
  pool_->free(address(pointer));
}

Status VulkanDeviceImpl::raw_copy_from_host(void* dst, const void* src, std::uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  ACEFIT_ASSIGN(const vk::BufferRange target, locate(dst, bytes, "copy from the host"));
  const auto* from = static_cast<const std::byte*>(src);
  std::uint64_t done = 0;
  while (done < bytes) {
    if (staging_used_ >= kStagingBytes) ACEFIT_TRY(wait_all());
    const std::uint64_t piece = std::min(bytes - done, kStagingBytes - staging_used_);
    std::memcpy(staging_ + staging_used_, from + done, piece);
    ACEFIT_TRY(begin_commands());
    record_barrier();
    VkBufferCopy region{staging_used_, target.offset + done, piece};
    vkCmdCopyBuffer(ring_[static_cast<std::size_t>(current_)].commands, staging_buffer_,
                    target.buffer, 1, &region);
    staging_used_ += (piece + 15) / 16 * 16;
    done += piece;
    ACEFIT_TRY(after_command());
  }
  return {};
}

Status VulkanDeviceImpl::raw_copy_to_host(void* dst, const void* src, std::uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  ACEFIT_ASSIGN(const vk::BufferRange source, locate(src, bytes, "copy to the host"));
  auto* to = static_cast<std::byte*>(dst);
  std::uint64_t done = 0;
  while (done < bytes) {
    if (staging_used_ >= kStagingBytes) ACEFIT_TRY(wait_all());
    const std::uint64_t at = staging_used_;
    const std::uint64_t piece = std::min(bytes - done, kStagingBytes - at);
    ACEFIT_TRY(begin_commands());
    record_barrier();
    VkBufferCopy region{source.offset + done, at, piece};
    vkCmdCopyBuffer(ring_[static_cast<std::size_t>(current_)].commands, source.buffer,
                    staging_buffer_, 1, &region);
    ++commands_;
    ACEFIT_TRY(wait_all());
    std::memcpy(to + done, staging_ + at, piece);
    done += piece;
  }
  return {};
}

Status VulkanDeviceImpl::raw_copy_on_device(void* dst, const void* src, std::uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  ACEFIT_ASSIGN(const vk::BufferRange target, locate(dst, bytes, "copy on the device"));
  ACEFIT_ASSIGN(const vk::BufferRange source, locate(src, bytes, "copy on the device"));
  ACEFIT_TRY(begin_commands());
  record_barrier();
  VkBufferCopy region{source.offset, target.offset, bytes};
  vkCmdCopyBuffer(ring_[static_cast<std::size_t>(current_)].commands, source.buffer, target.buffer,
                  1, &region);
  return after_command();
}

}  // namespace

Expected<std::shared_ptr<Device>> make_vulkan_device(int index, std::uint64_t cap_bytes) {
  ACEFIT_ASSIGN(auto instance, vk::Instance::create());
  const auto& physical = instance->physical_devices();
  const std::string name = "vulkan:" + std::to_string(index);
  if (physical.empty()) return Status(ErrorCode::not_found, "no Vulkan device found");
  if (index < 0 || static_cast<std::size_t>(index) >= physical.size()) {
    return Status(ErrorCode::not_found, "no Vulkan device " + name + " (" +
                                            std::to_string(physical.size()) + " found: vulkan:0.." +
                                            std::to_string(physical.size() - 1) + ")");
  }
  VkPhysicalDevice device = physical[static_cast<std::size_t>(index)];
  VulkanDeviceInfo info = vk::describe_physical_device(device, index);
  if (!info.usable) {
    return unsupported(name + " (" + info.name +
                       ") cannot run acefit's kernels: " + info.unusable_why);
  }
  const VulkanLimits limits = vk::physical_device_limits(device);
  const std::uint64_t heap = info.heaps[static_cast<std::size_t>(info.compute_heap)].budget_bytes;
  auto result = std::make_shared<VulkanDeviceImpl>(name, heap, info, limits);
  ACEFIT_TRY(result->open(std::move(instance), device));
  const std::uint64_t usable = result->usable_heap_bytes();
  result->budget().set_cap_bytes(cap_bytes == 0 ? usable : std::min(cap_bytes, usable));
  return std::shared_ptr<Device>(std::move(result));
}

}  // namespace acefit
