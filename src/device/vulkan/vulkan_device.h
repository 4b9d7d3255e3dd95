// vulkan: a GPU (or any Vulkan implementation) driven through Vulkan compute.
// Built when the Vulkan headers and glslc are found (ACEFIT_HAVE_VULKAN);
// otherwise every entry point reports unsupported.
//
// Tensors live in large driver blocks, suballocated (vulkan_memory.h), and
// are addressed by buffer device address: a tensor's data pointer is its
// device address moved into a range the host cannot dereference, so pointer
// arithmetic on views works and a stray host access faults on every driver.
// Kernels are recorded into a command buffer and submitted at sync points
// (a copy to the host, synchronize()); see docs/VULKAN.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "device/device.h"

namespace acefit {

bool vulkan_compiled_in();

enum class VulkanDeviceType { other, integrated_gpu, discrete_gpu, virtual_gpu, cpu };
std::string_view vulkan_device_type_name(VulkanDeviceType type);

struct VulkanHeap {
  std::uint64_t size_bytes = 0;
  std::uint64_t budget_bytes = 0;  // VK_EXT_memory_budget, else the size
  std::uint64_t usage_bytes = 0;   // VK_EXT_memory_budget, else 0
  bool device_local = false;
};

// One Vulkan physical device as the loader reports it.
struct VulkanDeviceInfo {
  int index = 0;  // vulkan:N
  std::string name;
  std::string vendor;  // NVIDIA, AMD, Intel, Apple, Mesa, ... from the vendor id
  VulkanDeviceType type = VulkanDeviceType::other;
  std::string api_version;  // "1.3.230"
  std::string driver;       // driverName / driverInfo when reported
  std::vector<VulkanHeap> heaps;
  int compute_heap = -1;  // the heap tensors are allocated from
  bool memory_budget_extension = false;
  bool cooperative_matrix_extension = false;
  bool usable = false;       // has every feature acefit's kernels need
  std::string unusable_why;  // what is missing, when not usable
};

// The devices the Vulkan loader sees (empty when none; unsupported when the
// build has no Vulkan; an error when the loader or driver fails).
Expected<std::vector<VulkanDeviceInfo>> list_vulkan_devices();

// Index of the device `auto` should use: the first usable discrete GPU, else
// the first usable integrated or virtual GPU. Never a CPU implementation
// (lavapipe, SwiftShader). -1 when none.
int preferred_vulkan_device(const std::vector<VulkanDeviceInfo>& devices);

// Opens device `index` (vulkan:N). cap_bytes 0: the compute heap's budget.
Expected<std::shared_ptr<Device>> make_vulkan_device(int index, std::uint64_t cap_bytes = 0);

// What a kernel is: SPIR-V words compiled from src/ops/vulkan/shaders/*.comp.
struct ShaderCode {
  std::string_view name;
  const std::uint32_t* words = nullptr;
  std::size_t word_count = 0;
};

struct VulkanLimits {
  std::uint32_t subgroup_size = 1;
  std::uint32_t max_workgroup_invocations = 128;
  std::array<std::uint32_t, 3> max_workgroup_count{65535, 65535, 65535};
  std::uint32_t shared_memory_bytes = 16384;
  std::uint32_t push_constant_bytes = 128;
  bool subgroup_arithmetic = false;  // subgroupAdd/Max in compute shaders
};

// Counters of the execution engine (for tests, the bench and `devices`).
struct VulkanStats {
  std::uint64_t dispatches = 0;
  std::uint64_t submits = 0;
  std::uint64_t waits = 0;
  std::uint64_t pipelines = 0;
  std::uint64_t driver_bytes = 0;       // device memory held from the driver now
  std::uint64_t peak_driver_bytes = 0;  // its peak
  std::uint64_t driver_blocks = 0;      // driver allocations held now
};

// The kernel interface of a vulkan device. Ops get one with as_vulkan().
class VulkanDevice : public Device {
 public:
  const VulkanLimits& limits() const { return limits_; }
  const VulkanDeviceInfo& info() const { return info_; }

  // The device address a shader reads for a data pointer of this device
  // (a Tensor's raw_data()). 0 for null.
  virtual std::uint64_t address(const void* data) const = 0;
  std::uint64_t address(const Tensor& tensor) const { return address(tensor.raw_data()); }

  // Records one dispatch of `shader` with `push` as its push constants (at
  // most limits().push_constant_bytes) and `groups` workgroups. `constants`
  // are its specialization constants 0, 1, ... (workgroup sizes, tile
  // sizes); a pipeline is built once per shader and constants. A barrier
  // orders it after every earlier command. Fails when a group count is 0 or
  // past the device's limit.
  virtual Status dispatch(const ShaderCode& shader, std::span<const std::byte> push,
                          std::array<std::uint32_t, 3> groups,
                          std::span<const std::uint32_t> constants = {}) = 0;
  template <typename Push>
  Status dispatch(const ShaderCode& shader, const Push& push, std::array<std::uint32_t, 3> groups,
                  std::span<const std::uint32_t> constants = {}) {
    const std::span<const std::byte> bytes{reinterpret_cast<const std::byte*>(&push), sizeof push};
    return dispatch(shader, bytes, groups, constants);
  }

  virtual VulkanStats stats() const = 0;

 protected:
  VulkanDevice(std::string name, std::uint64_t cap_bytes, std::uint64_t granularity_bytes,
               VulkanDeviceInfo info, VulkanLimits limits)
      : Device(std::move(name), DeviceKind::vulkan, cap_bytes, granularity_bytes),
        info_(std::move(info)),
        limits_(limits) {}

 private:
  VulkanDeviceInfo info_;
  VulkanLimits limits_;
};

// The device as a vulkan device when it is one (and not a planning device).
VulkanDevice* as_vulkan(Device& device);

}  // namespace acefit
