// Launchers of the convolution kernels: conv1d.comp and conv_transpose1d.comp
// (one implicit GEMM, conv_gemm.glsl), snake.comp and weight_norm.comp.
#include <algorithm>
#include <limits>

#include "ops/vulkan/conv_kernels.h"
#include "ops/vulkan/launch.h"
#include "vulkan_shaders.h"

namespace acefit::ops::vulkan {

namespace {

// conv_gemm.glsl's specialization constants: a workgroup of wn x wm
// invocations owns a (wm*tm) x (wn*tn) tile of [Cout, L_out] and reduces
// bk-deep slices of Cin*K.
struct ConvTiles {
  std::uint32_t wn, wm, tn, tm, bk;
};

ConvTiles conv_pick_tiles(const VulkanDevice& device, std::int64_t out_channels) {
  const VulkanLimits& limits = device.limits();
  // 256 invocations, 16 outputs each; a flatter tile where Cout is small
  // (the VAE's last conv has 2 output channels).
  ConvTiles t{16, 16, 4, 4, 16};  // 64 x 64
  if (out_channels <= 4) {
    t = {64, 4, 4, 1, 16};  // 4 x 256
  } else if (out_channels <= 32) {
    t = {32, 8, 4, 2, 16};  // 16 x 128
  }
  while (t.wn * t.wm > limits.max_workgroup_invocations) {
    if (t.wn >= t.wm && t.wn > 1) {
      t.wn /= 2;
    } else {
      t.wm /= 2;
    }
  }
  const auto shared_bytes = [&] {
    return std::uint64_t{t.bk} * (t.wm * t.tm + t.wn * t.tn) * sizeof(float);
  };
  while (shared_bytes() > limits.shared_memory_bytes && t.bk > 1) t.bk /= 2;
  return t;
}

struct ConvPush {
  std::uint64_t x, w, bias, y;
  std::uint32_t in_channels, out_channels, in_length, out_length;
  std::uint32_t kernel, stride, padding, dilation;
  std::uint32_t has_bias, n_tiles, m_tiles, phases;
};

// Checks the 32-bit index ranges and dispatches conv_gemm over
// batch x phases x (column tiles x Cout tiles).
Status conv_launch(VulkanDevice& device, std::string_view op, const ShaderCode& shader,
                   const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y,
                   std::int64_t stride, std::int64_t padding, std::int64_t dilation,
                   std::int64_t phases) {
  ACEFIT_TRY(check_u32(op, "x element count", x.numel()));
  ACEFIT_TRY(check_u32(op, "weight element count", w.numel()));
  ACEFIT_TRY(check_u32(op, "output element count", y.numel()));
  const std::int64_t batch = x.dim(0), in_channels = x.dim(1), length = x.dim(2);
  const std::int64_t out_channels = y.dim(1), out_length = y.dim(2), kernel = w.dim(2);
  // Input positions are signed 32-bit in the shader.
  const std::int64_t reach = (out_length + 1) * stride + (kernel + 1) * dilation + padding + length;
  if (reach > std::numeric_limits<std::int32_t>::max()) {
    return unsupported(std::string(op) + " on vulkan: lengths " + std::to_string(length) + " -> " +
                       std::to_string(out_length) + " do not fit the kernel's 32-bit positions");
  }
  const ConvTiles t = conv_pick_tiles(device, out_channels);
  const std::int64_t block_n = std::int64_t{t.wn} * t.tn;
  const std::int64_t block_m = std::int64_t{t.wm} * t.tm;
  const std::int64_t columns = (out_length + phases - 1) / phases;  // of the longest phase
  const std::int64_t n_tiles = (columns + block_n - 1) / block_n;
  const std::int64_t m_tiles = (out_channels + block_m - 1) / block_m;
  const std::int64_t tiles = n_tiles * m_tiles;
  ACEFIT_TRY(check_u32(op, "tile count", tiles));
  const auto& max_groups = device.limits().max_workgroup_count;
  const std::int64_t groups_x = std::min<std::int64_t>(tiles, max_groups[0]);
  const std::int64_t groups_y = (tiles + groups_x - 1) / groups_x;
  const std::int64_t groups_z = batch * phases;
  if (groups_y > max_groups[1] || groups_z > max_groups[2]) {
    return unsupported(std::string(op) + " on vulkan: " + std::to_string(tiles) + " tiles x " +
                       std::to_string(groups_z) + " batch phases exceed the device's grid");
  }
  const ConvPush push{device.address(x),
                      device.address(w),
                      bias.defined() ? device.address(bias) : 0,
                      device.address(y),
                      u32(in_channels),
                      u32(out_channels),
                      u32(length),
                      u32(out_length),
                      u32(kernel),
                      u32(stride),
                      u32(padding),
                      u32(dilation),
                      bias.defined() ? 1u : 0u,
                      u32(n_tiles),
                      u32(m_tiles),
                      u32(phases)};
  const std::uint32_t constants[] = {t.wn, t.wm, t.tn, t.tm, t.bk};
  return device.dispatch(shader, push, {u32(groups_x), u32(groups_y), u32(groups_z)}, constants);
}

// Rows numbered over x then y of the grid, one workgroup each.
Expected<std::array<std::uint32_t, 3>> conv_row_grid(const VulkanDevice& device,
                                                     std::string_view op, std::int64_t rows) {
  const auto& max_groups = device.limits().max_workgroup_count;
  const std::int64_t x = std::clamp<std::int64_t>(rows, 1, max_groups[0]);
  const std::int64_t y = (rows + x - 1) / x;
  if (y > max_groups[1]) {
    return unsupported(std::string(op) + " on vulkan: " + std::to_string(rows) +
                       " rows exceed the device's grid");
  }
  return std::array<std::uint32_t, 3>{u32(x), u32(std::max<std::int64_t>(1, y)), 1};
}

}  // namespace

// Up to this many output channels conv1d runs conv1d_direct.comp: a tile of
// the implicit GEMM would be mostly empty rows, and its staging through
// shared memory costs more than the few multiplies per output it shares.
constexpr std::int64_t kDirectConvChannels = 8;

Status conv1d(VulkanDevice& device, const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y,
              std::int64_t stride, std::int64_t padding, std::int64_t dilation) {
  const std::int64_t reach = y.dim(2) * stride + w.dim(2) * dilation + padding + x.dim(2);
  if (y.dim(1) <= kDirectConvChannels && reach <= std::numeric_limits<std::int32_t>::max()) {
    ACEFIT_TRY(check_u32("conv1d", "output element count", y.numel()));
    ACEFIT_TRY(check_u32("conv1d", "x element count", x.numel()));
    ACEFIT_TRY(check_u32("conv1d", "weight element count", w.numel()));
    struct Push {
      std::uint64_t x, w, bias, y;
      std::uint32_t in_channels, out_channels, in_length, out_length;
      std::uint32_t kernel, stride, padding, dilation, has_bias, count;
    } push{device.address(x),
           device.address(w),
           bias.defined() ? device.address(bias) : 0,
           device.address(y),
           u32(x.dim(1)),
           u32(y.dim(1)),
           u32(x.dim(2)),
           u32(y.dim(2)),
           u32(w.dim(2)),
           u32(stride),
           u32(padding),
           u32(dilation),
           bias.defined() ? 1u : 0u,
           u32(y.numel())};
    const std::uint32_t workgroup = workgroup_1d(device);
    const std::uint32_t constants[] = {workgroup};
    return device.dispatch(shaders::conv1d_direct, push, grid_1d(device, y.numel(), workgroup),
                           constants);
  }
  return conv_launch(device, "conv1d", shaders::conv1d, x, w, bias, y, stride, padding, dilation,
                     1);
}

Status conv_transpose1d(VulkanDevice& device, const Tensor& x, const Tensor& w, const Tensor& bias,
                        Tensor& y, std::int64_t stride, std::int64_t padding) {
  return conv_launch(device, "conv_transpose1d", shaders::conv_transpose1d, x, w, bias, y, stride,
                     padding, 1, stride);
}

Status snake(VulkanDevice& device, const Tensor& x, const Tensor& alpha, const Tensor& beta,
             Tensor& y, bool log_scale) {
  ACEFIT_TRY(check_u32("snake", "element count", x.numel()));
  struct Push {
    std::uint64_t x, alpha, beta, y;
    std::uint32_t count, sequence, channels, log_scale;
  } push{device.address(x), device.address(alpha), device.address(beta), device.address(y),
         u32(x.numel()),    u32(x.dim(2)),         u32(x.dim(1)),        log_scale ? 1u : 0u};
  const std::uint32_t workgroup = workgroup_1d(device);
  const std::uint32_t constants[] = {workgroup};
  return device.dispatch(shaders::snake, push, grid_1d(device, x.numel(), workgroup), constants);
}

Status weight_norm(VulkanDevice& device, const Tensor& g, const Tensor& v, Tensor& w,
                   std::int64_t rows, std::int64_t cols) {
  ACEFIT_TRY(check_u32("weight_norm_fold", "element count", v.numel()));
  ACEFIT_ASSIGN(const auto groups, conv_row_grid(device, "weight_norm_fold", rows));
  struct Push {
    std::uint64_t g, v, w;
    std::uint32_t rows, cols;
  } push{device.address(g), device.address(v), device.address(w), u32(rows), u32(cols)};
  // A power of two for the tree reduction.
  std::uint32_t workgroup = 1;
  while (workgroup * 2 <= workgroup_1d(device)) workgroup *= 2;
  const std::uint32_t constants[] = {workgroup};
  return device.dispatch(shaders::weight_norm, push, groups, constants);
}

}  // namespace acefit::ops::vulkan
