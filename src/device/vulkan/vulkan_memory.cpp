#include "device/vulkan/vulkan_memory.h"

#include <algorithm>
#include <iterator>

namespace acefit::vk {

namespace {

std::uint64_t round_up(std::uint64_t bytes) {
  return (bytes + kVulkanAlignmentBytes - 1) / kVulkanAlignmentBytes * kVulkanAlignmentBytes;
}

}  // namespace

DeviceMemoryPool::DeviceMemoryPool(VkDevice device, std::uint32_t memory_type,
                                   std::uint64_t block_bytes)
    : device_(device), memory_type_(memory_type), block_bytes_(round_up(block_bytes)) {}

DeviceMemoryPool::~DeviceMemoryPool() {
  release_idle();
  for (auto& [address, block] : blocks_) destroy_block(*block);
}

std::unique_ptr<MemoryBlock> DeviceMemoryPool::create_block(std::uint64_t bytes, bool dedicated) {
  auto block = std::make_unique<MemoryBlock>();
  block->size = bytes;
  block->dedicated = dedicated;
  VkBufferCreateInfo buffer_info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  buffer_info.size = bytes;
  buffer_info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                      VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT;
  buffer_info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  if (vkCreateBuffer(device_, &buffer_info, nullptr, &block->buffer) != VK_SUCCESS) return nullptr;
  VkMemoryRequirements requirements{};
  vkGetBufferMemoryRequirements(device_, block->buffer, &requirements);
  VkMemoryAllocateFlagsInfo flags{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO};
  flags.flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT;
  VkMemoryAllocateInfo allocate_info{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, &flags};
  allocate_info.allocationSize = requirements.size;
  allocate_info.memoryTypeIndex = memory_type_;
  if ((requirements.memoryTypeBits & (1u << memory_type_)) == 0 ||
      vkAllocateMemory(device_, &allocate_info, nullptr, &block->memory) != VK_SUCCESS) {
    vkDestroyBuffer(device_, block->buffer, nullptr);
    return nullptr;
  }
  if (vkBindBufferMemory(device_, block->buffer, block->memory, 0) != VK_SUCCESS) {
    vkDestroyBuffer(device_, block->buffer, nullptr);
    vkFreeMemory(device_, block->memory, nullptr);
    return nullptr;
  }
  VkBufferDeviceAddressInfo address_info{VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO};
  address_info.buffer = block->buffer;
  block->address = vkGetBufferDeviceAddress(device_, &address_info);
  block->free_ranges[0] = bytes;
  driver_bytes_ += requirements.size;
  peak_driver_bytes_ = std::max(peak_driver_bytes_, driver_bytes_);
  return block;
}

void DeviceMemoryPool::destroy_block(MemoryBlock& block) {
  VkMemoryRequirements requirements{};
  vkGetBufferMemoryRequirements(device_, block.buffer, &requirements);
  vkDestroyBuffer(device_, block.buffer, nullptr);
  vkFreeMemory(device_, block.memory, nullptr);
  driver_bytes_ -= std::min(driver_bytes_, requirements.size);
}

VkDeviceAddress DeviceMemoryPool::allocate(std::uint64_t bytes) {
  const std::uint64_t size = round_up(std::max<std::uint64_t>(bytes, 1));
  if (size >= block_bytes_ / 2) {
    auto block = create_block(size, true);
    if (!block) return 0;
    block->used = size;
    block->free_ranges.clear();
    const VkDeviceAddress address = block->address;
    live_[address] = size;
    blocks_[address] = std::move(block);
    return address;
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (auto& [base, block] : blocks_) {
      if (block->dedicated) continue;
      for (auto it = block->free_ranges.begin(); it != block->free_ranges.end(); ++it) {
        if (it->second < size) continue;  // first fit
        const std::uint64_t offset = it->first;
        const std::uint64_t rest = it->second - size;
        block->free_ranges.erase(it);
        if (rest > 0) block->free_ranges[offset + size] = rest;
        block->used += size;
        live_[base + offset] = size;
        return base + offset;
      }
    }
    if (attempt == 0) {
      auto block = create_block(block_bytes_, false);
      if (!block) return 0;
      const VkDeviceAddress base = block->address;
      blocks_[base] = std::move(block);
    }
  }
  return 0;
}

void DeviceMemoryPool::free(VkDeviceAddress address) {
  const auto live = live_.find(address);
  if (live == live_.end()) return;
  const std::uint64_t size = live->second;
  live_.erase(live);
  auto it = blocks_.upper_bound(address);
  if (it == blocks_.begin()) return;
  --it;
  MemoryBlock& block = *it->second;
  block.used -= size;
  if (block.dedicated) {
    deferred_.push_back(std::move(it->second));
    blocks_.erase(it);
    return;
  }
  // Return the range and merge it with its free neighbours.
  std::uint64_t offset = address - block.address;
  std::uint64_t length = size;
  auto next = block.free_ranges.lower_bound(offset);
  if (next != block.free_ranges.end() && next->first == offset + length) {
    length += next->second;
    next = block.free_ranges.erase(next);
  }
  if (next != block.free_ranges.begin()) {
    auto previous = std::prev(next);
    if (previous->first + previous->second == offset) {
      offset = previous->first;
      length += previous->second;
      block.free_ranges.erase(previous);
    }
  }
  block.free_ranges[offset] = length;
  if (block.used == 0) {
    // Keep one empty block as a spare; give the others back when idle.
    const auto empty = std::count_if(blocks_.begin(), blocks_.end(), [](const auto& entry) {
      return !entry.second->dedicated && entry.second->used == 0;
    });
    if (empty > 1) {
      deferred_.push_back(std::move(it->second));
      blocks_.erase(it);
    }
  }
}

void DeviceMemoryPool::release_idle() {
  for (auto& block : deferred_) destroy_block(*block);
  deferred_.clear();
}

BufferRange DeviceMemoryPool::locate(VkDeviceAddress address) const {
  auto it = blocks_.upper_bound(address);
  if (it == blocks_.begin()) return {};
  --it;
  const MemoryBlock& block = *it->second;
  if (address >= block.address + block.size) return {};
  return {block.buffer, address - block.address, block.address + block.size - address};
}

}  // namespace acefit::vk
