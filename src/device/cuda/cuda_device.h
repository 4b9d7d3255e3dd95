// cuda: an NVIDIA GPU through the CUDA runtime. Built only when the CUDA
// toolkit is found (ACEFIT_CUDA); otherwise make_cuda_device says so.
#pragma once

#include <memory>

#include "device/device.h"

namespace acefit {

bool cuda_compiled_in();

// Opens GPU `ordinal`. cap_bytes 0 means the device's total memory.
// not_found when no such GPU (or no driver), unsupported when not built in.
Expected<std::shared_ptr<Device>> make_cuda_device(int ordinal, std::uint64_t cap_bytes = 0);

// The number of CUDA devices the runtime sees (0 when none or not built in).
int cuda_device_count();

}  // namespace acefit
