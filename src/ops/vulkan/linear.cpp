// Launchers of the linear-algebra kernels: matmul.comp (tiled GEMM),
// matmul_gemv{,_subgroup}.comp (a few rows against a weight) and
// quantize_int8.comp.
// Tile and workgroup sizes are specialization constants picked here from
// the device's limits.
#include <algorithm>
#include <cstdint>
#include <span>

#include "ops/vulkan/launch.h"
#include "ops/vulkan/linear_kernels.h"
#include "vulkan_shaders.h"

namespace acefit::ops::vulkan {

namespace {

// Matches the push block of matmul.comp and matmul_gemv.comp.
struct LinearGemmPush {
  std::uint64_t a, b_f32, b_u16, b_i8, bias, scale, y;
  std::uint32_t m, n, k, a_batch, b_batch, y_batch, has_bias, unused;
};

// One product y[z] = a[z] b[z] (+ epilogue) for z < batch, element strides
// between batch items; b_batch 0 shares b.
struct LinearGemmJob {
  std::string_view op;
  std::uint64_t a = 0, b = 0, bias = 0, scale = 0, y = 0;
  DType b_dtype = DType::f32;
  bool trans_b = false;
  std::int64_t batch = 1, m = 0, n = 0, k = 0;
  std::int64_t a_batch = 0, b_batch = 0, y_batch = 0;
};

// Register-blocked tile: WG_X x WG_Y invocations, RM x RN outputs each.
struct LinearTile {
  std::uint32_t wg_x, wg_y, rm, rn, bk;
  std::uint32_t bm() const { return wg_y * rm; }
  std::uint32_t bn() const { return wg_x * rn; }
  std::uint32_t shared_bytes() const { return bk * (bm() + 1 + bn() + 1) * 4; }
};

// 128x128 tiles of 256 invocations (8x8 outputs each) for products with
// enough of them to fill a large GPU, else 64x64 tiles of 64 invocations
// (8x8 each); smaller ones where the device has fewer invocations or less
// shared memory than these take.
constexpr std::int64_t kLinearLargeTileGroups = 32;

LinearTile linear_pick_tile(const VulkanLimits& limits, std::int64_t batch, std::int64_t m,
                            std::int64_t n) {
  constexpr LinearTile large{16, 16, 8, 8, 8};
  constexpr LinearTile candidates[] = {
      large, {8, 8, 8, 8, 16}, {8, 8, 4, 4, 16}, {8, 8, 2, 2, 8}, {4, 4, 2, 2, 4}};
  const auto tiles = [](std::int64_t count, std::uint32_t tile) {
    return (count + tile - 1) / tile;
  };
  const bool large_fits =
      batch * tiles(m, large.bm()) * tiles(n, large.bn()) >= kLinearLargeTileGroups;
  for (const LinearTile& tile : std::span(candidates).subspan(large_fits ? 0 : 1)) {
    if (tile.wg_x * tile.wg_y <= limits.max_workgroup_invocations &&
        tile.shared_bytes() <= limits.shared_memory_bytes) {
      return tile;
    }
  }
  return candidates[std::size(candidates) - 1];
}

std::uint32_t linear_b_type(DType dtype) {
  return dtype == DType::bf16 ? 1 : dtype == DType::i8 ? 2 : 0;
}

constexpr std::uint32_t kLinearGemvCols = 4;  // output columns per workgroup
constexpr std::uint32_t kLinearGemvRows = 4;  // at most this many rows

// Invocations of the GEMV kernel: a power of two up to 128 whose partial
// sums fit shared memory; 0 when the device cannot run it.
std::uint32_t linear_gemv_threads(const VulkanLimits& limits) {
  std::uint32_t threads = 128;
  while (threads > 1 &&
         (threads > limits.max_workgroup_invocations ||
          threads * kLinearGemvCols * kLinearGemvRows * 4 > limits.shared_memory_bytes))
    threads /= 2;
  return threads >= 16 ? threads : 0;
}

LinearGemmPush linear_push(const LinearGemmJob& job, std::int64_t z0, std::int64_t m0,
                           std::int64_t rows) {
  const std::uint64_t b_bytes = dtype_size(job.b_dtype);
  const std::uint64_t b = job.b + static_cast<std::uint64_t>(z0 * job.b_batch) * b_bytes;
  LinearGemmPush push{};
  push.a = job.a == 0 ? 0 : job.a + static_cast<std::uint64_t>(z0 * job.a_batch + m0 * job.k) * 4;
  push.b_f32 = job.b_dtype == DType::f32 ? b : 0;
  push.b_u16 = job.b_dtype == DType::bf16 ? b : 0;
  push.b_i8 = job.b_dtype == DType::i8 ? b : 0;
  push.bias = job.bias;
  push.scale = job.scale;
  push.y = job.y + static_cast<std::uint64_t>(z0 * job.y_batch + m0 * job.n) * 4;
  push.m = u32(rows);
  push.n = u32(job.n);
  push.k = u32(job.k);
  push.a_batch = u32(job.a_batch);
  push.b_batch = u32(job.b_batch);
  push.y_batch = u32(job.y_batch);
  push.has_bias = job.bias != 0 ? 1 : 0;
  return push;
}

// Records the product, split into several dispatches where the grid would
// pass the device's group-count limits (rows in y, batch items in z).
Status linear_run(VulkanDevice& device, const LinearGemmJob& job, const LinearOptions& options) {
  if (job.batch == 0 || job.m == 0 || job.n == 0) return {};
  const VulkanLimits& limits = options.limits ? *options.limits : device.limits();
  const std::int64_t max_y = limits.max_workgroup_count[1];
  const std::int64_t max_z = limits.max_workgroup_count[2];
  const std::uint32_t b_type = linear_b_type(job.b_dtype);

  // Short rows need fewer invocations: about two elements of k each.
  std::uint32_t gemv_threads = linear_gemv_threads(limits);
  while (gemv_threads > 16 && static_cast<std::int64_t>(gemv_threads) * 2 > job.k)
    gemv_threads /= 2;
  const std::int64_t gemv_groups = (job.n + kLinearGemvCols - 1) / kLinearGemvCols;
  if (options.few_row_kernel && job.trans_b && job.m <= kLinearGemvRows && gemv_threads != 0 &&
      gemv_groups <= limits.max_workgroup_count[0]) {
    const std::uint32_t constants[] = {gemv_threads, kLinearGemvCols, kLinearGemvRows, b_type};
    const ShaderCode& gemv =
        limits.subgroup_arithmetic ? shaders::matmul_gemv_subgroup : shaders::matmul_gemv;
    for (std::int64_t z0 = 0; z0 < job.batch; z0 += max_z) {
      const std::int64_t zs = std::min(max_z, job.batch - z0);
      ACEFIT_TRY(device.dispatch(gemv, linear_push(job, z0, 0, job.m),
                                 {u32(gemv_groups), 1, u32(zs)}, constants));
    }
    return {};
  }

  const LinearTile tile = linear_pick_tile(limits, job.batch, job.m, job.n);
  const std::int64_t groups_x = (job.n + tile.bn() - 1) / tile.bn();
  if (groups_x > limits.max_workgroup_count[0]) {
    return unsupported(std::string(job.op) + " on vulkan: " + std::to_string(job.n) +
                       " output columns need more workgroups than the device allows");
  }
  const std::uint32_t constants[] = {
      tile.wg_x, tile.wg_y, tile.rm, tile.rn, tile.bk, b_type, job.trans_b ? 1u : 0u};
  const std::int64_t rows_per_dispatch = max_y * tile.bm();
  // Batch items go in z, max_z a dispatch; where one item's rows need
  // several dispatches, each item is dispatched on its own.
  const std::int64_t z_step = job.m > rows_per_dispatch ? 1 : max_z;
  for (std::int64_t z0 = 0; z0 < job.batch; z0 += z_step) {
    const std::int64_t zs = std::min(z_step, job.batch - z0);
    for (std::int64_t m0 = 0; m0 < job.m; m0 += rows_per_dispatch) {
      const std::int64_t rows = std::min(rows_per_dispatch, job.m - m0);
      const std::int64_t groups_y = (rows + tile.bm() - 1) / tile.bm();
      ACEFIT_TRY(device.dispatch(shaders::matmul, linear_push(job, z0, m0, rows),
                                 {u32(groups_x), u32(groups_y), u32(zs)}, constants));
    }
  }
  return {};
}

}  // namespace

Status linear(VulkanDevice& device, const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Tensor& weight_scale, Tensor& y, const LinearOptions& options) {
  ACEFIT_TRY(check_u32("linear", "x element count", x.numel()));
  ACEFIT_TRY(check_u32("linear", "weight element count", weight.numel()));
  ACEFIT_TRY(check_u32("linear", "output element count", y.numel()));
  LinearGemmJob job{.op = "linear"};
  job.a = device.address(x);
  job.b = device.address(weight);
  job.bias = bias.defined() ? device.address(bias) : 0;
  job.scale = weight.dtype() == DType::i8 ? device.address(weight_scale) : 0;
  job.y = device.address(y);
  job.b_dtype = weight.dtype();
  job.trans_b = true;
  job.n = weight.dim(0);
  job.k = weight.dim(1);
  job.m = job.n == 0 ? 0 : y.numel() / job.n;
  return linear_run(device, job, options);
}

Status matmul(VulkanDevice& device, const Tensor& a, const Tensor& b, bool transpose_b, Tensor& y,
              const LinearOptions& options) {
  ACEFIT_TRY(check_u32("matmul", "a element count", a.numel()));
  ACEFIT_TRY(check_u32("matmul", "b element count", b.numel()));
  ACEFIT_TRY(check_u32("matmul", "output element count", y.numel()));
  LinearGemmJob job{.op = "matmul"};
  job.a = device.address(a);
  job.b = device.address(b);
  job.y = device.address(y);
  job.trans_b = transpose_b;
  job.m = a.dim(-2);
  job.k = a.dim(-1);
  job.n = y.dim(-1);
  job.batch = 1;
  for (int i = 0; i < a.rank() - 2; ++i) job.batch *= a.dim(i);
  job.a_batch = job.m * job.k;
  job.b_batch = b.rank() == 2 ? 0 : job.k * job.n;
  job.y_batch = job.m * job.n;
  return linear_run(device, job, options);
}

Status quantize_int8(VulkanDevice& device, const Tensor& weight, Tensor& q, Tensor& scale) {
  ACEFIT_TRY(check_u32("quantize_int8", "weight element count", weight.numel()));
  const std::int64_t rows = weight.dim(0);
  if (rows == 0) return {};
  struct Push {
    std::uint64_t w_f32, w_u16, q, scale;
    std::uint32_t rows, cols;
  } push{};
  const bool bf16 = weight.dtype() == DType::bf16;
  push.w_f32 = bf16 ? 0 : device.address(weight);
  push.w_u16 = bf16 ? device.address(weight) : 0;
  push.q = device.address(q);
  push.scale = device.address(scale);
  push.rows = u32(rows);
  push.cols = u32(weight.dim(1));
  // A power of two: 256, fewer for short rows (at least 32) or where the
  // device allows fewer.
  std::uint32_t threads = 32;
  while (threads < 256 && threads < weight.dim(1)) threads *= 2;
  threads = std::min(threads, device.limits().max_workgroup_invocations);
  while ((threads & (threads - 1)) != 0) threads &= threads - 1;
  const std::uint32_t constants[] = {threads, bf16 ? 1u : 0u};
  return device.dispatch(shaders::quantize_int8, push, grid_1d(device, rows, 1), constants);
}

}  // namespace acefit::ops::vulkan
