// sim: a host-backed stand-in for a GPU. It has its own capacity (what it
// reports as total memory) and a budget cap (what it lets be allocated);
// copies to and from it are real memcpys, counted as transfers. Kernels for
// it are the CPU kernels, so a whole pipeline runs on it for real.
#pragma once

#include <memory>

#include "device/device.h"

namespace acefit {

// cap_bytes 0 means the whole capacity.
std::shared_ptr<Device> make_sim_device(std::uint64_t capacity_bytes, std::uint64_t cap_bytes = 0);

}  // namespace acefit
