// The vulkan kernels, one launcher per op (the counterpart of
// ops/cpu/cpu_kernels.h). Inputs are checked by the op (ops/*.cpp) before a
// launcher runs: contiguous, on this device, shapes and dtypes valid, outputs
// allocated. A launcher records work; it does not wait for it (embedding's
// check is the one exception: it reads one word back).
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "device/vulkan/vulkan_device.h"

namespace acefit::ops::vulkan {

// ---- elementwise (elementwise.cpp) ----------------------------------------
// y = a + b / a * b, b repeating over a's leading dims (b.numel() divides a's).
Status add(VulkanDevice& device, const Tensor& a, const Tensor& b, Tensor& y);
Status mul(VulkanDevice& device, const Tensor& a, const Tensor& b, Tensor& y);
// y = x * factor.
Status scale(VulkanDevice& device, const Tensor& x, float factor, Tensor& y);

// ---- activations and softmax (pointwise.cpp) -------------------------------
enum class Activation : std::uint32_t { silu = 0, gelu = 1, gelu_tanh = 2 };
Status activation(VulkanDevice& device, Activation kind, const Tensor& x, Tensor& y);
// y = silu(gate) * up.
Status swiglu(VulkanDevice& device, const Tensor& gate, const Tensor& up, Tensor& y);
// Softmax over the last dim of x [rows, cols] (any leading shape). Row
// reductions use subgroup arithmetic where the device has it, unless
// shared_reductions (tests run both paths).
Status softmax(VulkanDevice& device, const Tensor& x, Tensor& y, bool shared_reductions = false);

// ---- normalisation and position (norm.cpp) --------------------------------
// x [..., C], weight [C] or undefined. shared_reductions: as for softmax.
Status rms_norm(VulkanDevice& device, const Tensor& x, const Tensor& weight, float eps, Tensor& y,
                bool shared_reductions = false);
// x [B, S, H, D], rotate-half, positions offset .. offset + S - 1.
Status rope(VulkanDevice& device, const Tensor& x, float theta, std::int64_t offset, Tensor& y);

// ---- modulation (modulation.cpp): x [B, S, C], vectors [B, C] / [B, 1, C] --
Status modulate(VulkanDevice& device, const Tensor& x, const Tensor& shift, const Tensor& scale,
                Tensor& y);
Status gated_add(VulkanDevice& device, const Tensor& x, const Tensor& update, const Tensor& gate,
                 Tensor& y);

// ---- conversion and gather (gather.cpp) ------------------------------------
// Between f32, f16 and bf16 (different dtypes), as core/dtype.h rounds.
Status cast(VulkanDevice& device, const Tensor& x, Tensor& y);
// y [ids..., D] = rows of table [V, D] (f32 / bf16) at ids (i32 / i64).
// status: an i32 [1] device tensor the check writes the index of the first
// id outside [0, V) into (ids.numel() when none); it is read back and
// `bad_index` set to it (one sync). Rows of bad ids are zeros.
Status embedding(VulkanDevice& device, const Tensor& table, const Tensor& ids, Tensor& status,
                 Tensor& y, std::int64_t& bad_index);

}  // namespace acefit::ops::vulkan
