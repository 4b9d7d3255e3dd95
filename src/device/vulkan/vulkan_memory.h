// Suballocation of device memory: tensors are carved out of large driver
// blocks (one VkDeviceMemory and one VkBuffer each), so the driver's
// allocation count and size limits are never reached and allocation is cheap.
// A request of half a block or more gets a driver allocation of its own.
// Ranges are aligned to kVulkanAlignmentBytes, which is also the Budget's
// granularity, so the Budget counts what the ranges take.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace acefit::vk {

inline constexpr std::uint64_t kVulkanAlignmentBytes = 256;

// One driver allocation with a buffer over all of it.
struct MemoryBlock {
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceAddress address = 0;
  std::uint64_t size = 0;
  bool dedicated = false;
  std::uint64_t used = 0;
  std::map<std::uint64_t, std::uint64_t> free_ranges;  // offset -> size
};

// Where a device address lies.
struct BufferRange {
  VkBuffer buffer = VK_NULL_HANDLE;
  std::uint64_t offset = 0;
  std::uint64_t available = 0;  // bytes from offset to the end of the block
};

class DeviceMemoryPool {
 public:
  DeviceMemoryPool(VkDevice device, std::uint32_t memory_type, std::uint64_t block_bytes);
  ~DeviceMemoryPool();
  DeviceMemoryPool(const DeviceMemoryPool&) = delete;
  DeviceMemoryPool& operator=(const DeviceMemoryPool&) = delete;

  // A device address, 0 when the driver refuses (out of device memory).
  VkDeviceAddress allocate(std::uint64_t bytes);
  // Returns the range. A dedicated block or an empty block past the first
  // spare goes back to the driver at the next release_idle() (the GPU may
  // still use it until then).
  void free(VkDeviceAddress address);
  // Called when the queue is idle: gives deferred blocks back to the driver.
  void release_idle();
  bool has_deferred() const { return !deferred_.empty(); }

  // Null buffer when the address is not ours.
  BufferRange locate(VkDeviceAddress address) const;

  std::uint64_t driver_bytes() const { return driver_bytes_; }
  std::uint64_t peak_driver_bytes() const { return peak_driver_bytes_; }
  std::uint64_t block_count() const { return blocks_.size(); }

 private:
  std::unique_ptr<MemoryBlock> create_block(std::uint64_t bytes, bool dedicated);
  void destroy_block(MemoryBlock& block);

  VkDevice device_;
  std::uint32_t memory_type_;
  std::uint64_t block_bytes_;
  std::map<VkDeviceAddress, std::unique_ptr<MemoryBlock>> blocks_;  // by base address
  std::map<VkDeviceAddress, std::uint64_t> live_;                   // address -> rounded size
  std::vector<std::unique_ptr<MemoryBlock>> deferred_;
  std::uint64_t driver_bytes_ = 0;
  std::uint64_t peak_driver_bytes_ = 0;
};

}  // namespace acefit::vk
