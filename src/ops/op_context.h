// What every op needs besides its tensors: the device its inputs live on and
// its outputs go to, and the thread pool for host kernels.
#pragma once

#include "core/thread_pool.h"
#include "device/device.h"

namespace acefit::ops {

struct OpContext {
  Device& device;
  ThreadPool& pool;
  MemoryTag output_tag = MemoryTag::activations;
};

}  // namespace acefit::ops
