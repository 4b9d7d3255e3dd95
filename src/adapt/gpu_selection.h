// Which GPU's memory picks the tier: the device acefit was asked to use,
// described from the probes (every vendor) or, for the sim device and a
// CUDA device the probes did not see, from the opened device itself.
//   cpu            no GPU (no GPU tier: limits from the plan, docs/GPU.md)
//   sim            the sim device's size, counted as a CUDA-class GPU
//   cuda, cuda:N   the N-th NVIDIA GPU the probes list
//   vulkan:N       the opened Vulkan device itself (its vendor, name, heap)
//   auto           the Vulkan GPU it opened, else GPU 0 of the probe list
#pragma once

#include "adapt/probe/device_probe.h"
#include "adapt/settings.h"
#include "device/device.h"
#include "device/device_selection.h"

namespace acefit {

GpuFacts select_gpu(const ProbeReport& probes, const DeviceRequest& request, const Device& opened);

// "cuda:0", "sim", "cpu": how settings name the device runs happen on.
std::string run_device_label(const Device& opened, const DeviceRequest& request);

}  // namespace acefit
