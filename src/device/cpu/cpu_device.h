// The host as a device. Its budget cap defaults to the physical memory.
#pragma once

#include <memory>

#include "device/device.h"

namespace acefit {

std::shared_ptr<Device> make_cpu_device(std::uint64_t cap_bytes = 0);  // 0: physical memory

}  // namespace acefit
