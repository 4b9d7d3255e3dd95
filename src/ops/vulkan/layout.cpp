// Launchers of the layout kernels: strided_copy.comp (contiguous, transpose,
// slice, concat) and pad.comp.
#include <bit>
#include <limits>

#include "core/shape.h"
#include "ops/vulkan/launch.h"
#include "ops/vulkan/layout_kernels.h"
#include "vulkan_shaders.h"

namespace acefit::ops::vulkan {

namespace {

struct LayoutCopyPush {
  std::uint64_t src, dst;
  std::uint32_t count, rank;
  std::uint32_t shape[kMaxRank];
  std::uint32_t src_stride[kMaxRank];
  std::uint32_t dst_stride[kMaxRank];
};
static_assert(sizeof(LayoutCopyPush) <= 128, "push constants are at most 128 bytes");

Status layout_check_element(std::string_view op, DType dtype) {
  const std::size_t bytes = dtype_size(dtype);
  if (bytes != 1 && bytes != 2 && bytes != 4 && bytes != 8) {
    return unsupported(std::string(op) + " on vulkan: no kernel for " + std::to_string(bytes) +
                       "-byte elements");
  }
  return {};
}

}  // namespace

Status strided_copy(VulkanDevice& device, const Tensor& src, Tensor& dst) {
  constexpr std::string_view op = "strided copy";
  if (src.numel() == 0) return {};
  ACEFIT_TRY(layout_check_element(op, src.dtype()));
  ACEFIT_TRY(check_u32(op, "element count", src.numel()));
  // Dims outermost first; size-1 dims dropped, and a dim merged into the one
  // outside it where both views step through them as one.
  std::int64_t shape[kMaxRank] = {};
  std::int64_t src_stride[kMaxRank] = {};
  std::int64_t dst_stride[kMaxRank] = {};
  int rank = 0;
  for (int axis = 0; axis < src.rank(); ++axis) {
    const std::int64_t n = src.dim(axis);
    if (n == 1) continue;
    const std::int64_t s = src.stride(axis), d = dst.stride(axis);
    if (rank > 0 && src_stride[rank - 1] == s * n && dst_stride[rank - 1] == d * n) {
      shape[rank - 1] *= n;
      src_stride[rank - 1] = s;
      dst_stride[rank - 1] = d;
    } else {
      shape[rank] = n;
      src_stride[rank] = s;
      dst_stride[rank] = d;
      ++rank;
    }
  }
  if (rank == 0) {  // one element
    shape[0] = 1;
    rank = 1;
  }
  // The furthest element of either view, in 32-bit words for 8-byte elements.
  const std::int64_t words = dtype_size(src.dtype()) == 8 ? 2 : 1;
  std::int64_t src_last = 0, dst_last = 0;
  for (int i = 0; i < rank; ++i) {
    if (src_stride[i] < 0 || dst_stride[i] < 0) {
      return unsupported(std::string(op) + " on vulkan: negative strides");
    }
    src_last += (shape[i] - 1) * src_stride[i];
    dst_last += (shape[i] - 1) * dst_stride[i];
  }
  ACEFIT_TRY(check_u32(op, "source extent", (src_last + 1) * words));
  ACEFIT_TRY(check_u32(op, "destination extent", (dst_last + 1) * words));
  LayoutCopyPush push{};
  push.src = device.address(src);
  push.dst = device.address(dst);
  push.count = u32(src.numel());
  push.rank = u32(rank);
  for (int i = 0; i < rank; ++i) {
    push.shape[i] = u32(shape[i]);
    push.src_stride[i] = u32(src_stride[i]);
    push.dst_stride[i] = u32(dst_stride[i]);
  }
  const std::uint32_t workgroup = workgroup_1d(device);
  const std::uint32_t constants[] = {workgroup,
                                     static_cast<std::uint32_t>(dtype_size(src.dtype()))};
  return device.dispatch(shaders::strided_copy, push, grid_1d(device, src.numel(), workgroup),
                         constants);
}

Status pad(VulkanDevice& device, const Tensor& x, Tensor& y, int axis, std::int64_t before,
           float value) {
  constexpr std::string_view op = "pad";
  if (y.numel() == 0) return {};
  ACEFIT_TRY(layout_check_element(op, x.dtype()));
  std::int64_t inner = 1;
  for (int i = axis + 1; i < x.rank(); ++i) inner *= x.dim(i);
  std::uint32_t element_bytes = static_cast<std::uint32_t>(dtype_size(x.dtype()));
  if (element_bytes == 8) {  // as two 4-byte elements (the fill is 0)
    element_bytes = 4;
    inner *= 2;
  }
  const std::int64_t count = y.numel() * (dtype_size(x.dtype()) == 8 ? 2 : 1);
  ACEFIT_TRY(check_u32(op, "element count", count));
  struct Push {
    std::uint64_t x, y;
    std::uint32_t count, inner, x_axis, y_axis, before, fill;
  } push{device.address(x), device.address(y),
         u32(count),        u32(inner),
         u32(x.dim(axis)),  u32(y.dim(axis)),
         u32(before),       value != 0.0f ? std::bit_cast<std::uint32_t>(value) : 0u};
  const std::uint32_t workgroup = workgroup_1d(device);
  const std::uint32_t constants[] = {workgroup, element_bytes};
  return device.dispatch(shaders::pad, push, grid_1d(device, count, workgroup), constants);
}

}  // namespace acefit::ops::vulkan
