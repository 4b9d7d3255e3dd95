// Stands in for cuda_device.cpp in builds without the CUDA toolkit.
#include "device/cuda/cuda_device.h"

namespace acefit {

bool cuda_compiled_in() {
  return false;
}

int cuda_device_count() {
  return 0;
}

Expected<std::shared_ptr<Device>> make_cuda_device(int, std::uint64_t) {
  return unsupported(
      "this build has no CUDA support (configure with -DACEFIT_CUDA=ON and the CUDA toolkit)");
}

}  // namespace acefit
