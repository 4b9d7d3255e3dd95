#include "device/sim/sim_device.h"

#include <algorithm>
#include <cstring>

#include "device/host_memory.h"

namespace acefit {

namespace {

class SimDevice final : public Device {
 public:
  SimDevice(std::uint64_t capacity_bytes, std::uint64_t cap_bytes)
      : Device("sim:0", DeviceKind::sim, cap_bytes, kHostAlignmentBytes),
        capacity_bytes_(capacity_bytes) {}

  // Free never exceeds what the cap still allows: the card's size minus
  // the simulated context (MAX_CUDA_VRAM - 0.5 GiB) bounds every allocation.
  DeviceMemory memory() const override {
    const std::uint64_t used = budget().used_bytes();
    const std::uint64_t usable = std::min(capacity_bytes_, budget().cap_bytes());
    return {capacity_bytes_, used >= usable ? 0 : usable - used};
  }

 protected:
  void* raw_allocate(std::uint64_t bytes) override { return host_aligned_alloc(bytes); }
  void raw_free(void* pointer, std::uint64_t) override { host_aligned_free(pointer); }
  Status raw_copy_from_host(void* dst, const void* src, std::uint64_t bytes) override {
    std::memcpy(dst, src, bytes);
    return {};
  }
  Status raw_copy_to_host(void* dst, const void* src, std::uint64_t bytes) override {
    std::memcpy(dst, src, bytes);
    return {};
  }
  Status raw_copy_on_device(void* dst, const void* src, std::uint64_t bytes) override {
    std::memcpy(dst, src, bytes);
    return {};
  }

 private:
  std::uint64_t capacity_bytes_;
};

}  // namespace

std::shared_ptr<Device> make_sim_device(std::uint64_t capacity_bytes, std::uint64_t cap_bytes) {
  return std::make_shared<SimDevice>(capacity_bytes, cap_bytes == 0 ? capacity_bytes : cap_bytes);
}

}  // namespace acefit
