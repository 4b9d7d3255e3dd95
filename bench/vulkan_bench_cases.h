// The vulkan rows of acefit-bench (--vulkan[=N]): the same op on the vulkan
// device and on the CPU device in the same run, each vulkan iteration ending
// with device.synchronize() so that it times the work, not its recording.
//   gemm       linear with f32, bf16 and int8 weights at the CPU gemm shapes
//              (beside cblas_sgemm's row of the same shape)
//   attention  full and sliding-window attention at the CPU attention shape
//   conv       conv1d at a VAE shape (Cin = Cout = 512, K = 7, dilation 3)
//   vae_block  snake + conv1d + snake + conv1d: one residual unit at that shape
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "ops/op_context.h"

namespace acefit::bench {

struct VulkanRow {
  std::string section;  // gemm, attention, conv, vae_block
  std::string shape;    // "m375_n2048_k2048"
  std::string variant;  // f32, bf16, int8, full, sliding_window, ...
  double flops = 0;     // useful flops per iteration
  std::string vulkan_name;
  std::string cpu_name;        // acefit on the CPU device
  std::string reference_name;  // cblas_sgemm (gemm rows), else ""
};

// Registers every vulkan row; inputs are made on both devices from the same
// seeds. Both contexts must outlive the run.
Expected<std::vector<VulkanRow>> register_vulkan_cases(const ops::OpContext& vulkan,
                                                       const ops::OpContext& cpu, double min_time);

}  // namespace acefit::bench
