#include "ops/layout.h"

#include <algorithm>
#include <cstring>

#include "ops/cpu/cpu_kernels.h"
#include "ops/validate.h"
#include "ops/vulkan/layout_kernels.h"
#include "ops/vulkan/vulkan_kernels.h"

namespace acefit::ops {

namespace {

int resolve_axis(int axis, int rank) {
  return axis < 0 ? axis + rank : axis;
}

Status check_axis(std::string_view op, const Tensor& x, int axis) {
  if (axis < 0 || axis >= x.rank()) {
    return fail(op, "axis out of range for " + x.describe());
  }
  return {};
}

// Copies a (possibly strided) view into dst, a contiguous tensor of its shape.
Status copy_view(const OpContext& ctx, const Tensor& view, Tensor& dst) {
  if (VulkanDevice* vk = as_vulkan(ctx.device)) return vulkan::strided_copy(*vk, view, dst);
  cpu::strided_copy(ctx.pool, view.raw_data(), dst.raw_data(), dtype_size(view.dtype()),
                    view.rank(), view.shape().data(), view.strides().data());
  return {};
}

// A defined tensor on ctx.device, any layout.
Status check_view(const OpContext& ctx, std::string_view op, const Tensor& x) {
  if (!x.defined()) return fail(op, "x is undefined");
  if (x.device() != &ctx.device) {
    return fail(op, "x is on device '" + x.device()->name() + "', the op runs on '" +
                        ctx.device.name() + "'");
  }
  return check_kernel_device(ctx, op);
}

}  // namespace

Expected<Tensor> contiguous(const OpContext& ctx, const Tensor& x) {
  ACEFIT_TRY(check_view(ctx, "contiguous", x));
  ACEFIT_ASSIGN(Tensor y, ctx.device.empty(x.dtype(), x.shape(), ctx.output_tag));
  if (!planning(ctx) && y.numel() > 0) ACEFIT_TRY(copy_view(ctx, x, y));
  return y;
}

Status copy_into(const OpContext& ctx, const Tensor& dst, const Tensor& src) {
  constexpr std::string_view op = "copy_into";
  if (!dst.defined()) return fail(op, "dst is undefined");
  ACEFIT_TRY(check_view(ctx, op, src));
  if (dst.device() != &ctx.device) {
    return fail(op, "dst is on device '" + dst.device()->name() + "', the op runs on '" +
                        ctx.device.name() + "'");
  }
  if (dst.dtype() != src.dtype() || dst.shape() != src.shape()) {
    return fail(op, "cannot write " + src.describe() + " into " + dst.describe());
  }
  for (int axis = 0; axis < dst.rank(); ++axis) {
    if (dst.stride(axis) < 0 || src.stride(axis) < 0)
      return fail(op, "negative strides are not supported");
  }
  if (planning(ctx) || src.numel() == 0) return {};
  if (VulkanDevice* vk = as_vulkan(ctx.device)) {
    Tensor target = dst;
    return vulkan::strided_copy(*vk, src, target);
  }
  cpu::strided_copy_into(ctx.pool, src.raw_data(), dst.raw_data(), dtype_size(src.dtype()),
                         src.rank(), src.shape().data(), src.strides().data(),
                         dst.strides().data());
  return {};
}

Expected<Tensor> transpose(const OpContext& ctx, const Tensor& x, int axis_a, int axis_b) {
  ACEFIT_TRY(check_view(ctx, "transpose", x));
  ACEFIT_ASSIGN(Tensor view, x.transpose(axis_a, axis_b));
  return contiguous(ctx, view);
}

Expected<Tensor> slice(const OpContext& ctx, const Tensor& x, int axis, std::int64_t start,
                       std::int64_t end) {
  ACEFIT_TRY(check_view(ctx, "slice", x));
  const int a = resolve_axis(axis, x.rank());
  ACEFIT_TRY(check_axis("slice", x, a));
  if (start < 0 || end < start || end > x.dim(a)) {
    return fail("slice", "[" + std::to_string(start) + ", " + std::to_string(end) +
                             ") is outside dim " + std::to_string(a) + " of " + x.describe());
  }
  ACEFIT_ASSIGN(Tensor view, x.narrow(a, start, end - start));
  return contiguous(ctx, view);
}

Expected<Tensor> concat(const OpContext& ctx, const std::vector<Tensor>& parts, int axis) {
  constexpr std::string_view op = "concat";
  if (parts.empty()) return fail(op, "no tensors to join");
  const Tensor& first = parts.front();
  for (const Tensor& part : parts) ACEFIT_TRY(check_view(ctx, op, part));
  const int a = resolve_axis(axis, first.rank());
  ACEFIT_TRY(check_axis(op, first, a));
  std::int64_t total = 0;
  for (const Tensor& part : parts) {
    if (part.dtype() != first.dtype() || part.rank() != first.rank()) {
      return fail(op, "cannot join " + part.describe() + " with " + first.describe());
    }
    for (int i = 0; i < first.rank(); ++i) {
      if (i != a && part.dim(i) != first.dim(i)) {
        return fail(op, "cannot join " + part.describe() + " with " + first.describe() +
                            " along axis " + std::to_string(a));
      }
    }
    total += part.dim(a);
  }
  ACEFIT_ASSIGN(Tensor y,
                ctx.device.empty(first.dtype(), first.shape().with_dim(a, total), ctx.output_tag));
  if (y.numel() == 0) return y;
  if (ctx.device.kind() == DeviceKind::vulkan) {
    // Each part, any view, is copied straight into its strided slice of y:
    // no workspace.
    if (VulkanDevice* vk = as_vulkan(ctx.device)) {
      std::int64_t start = 0;
      for (const Tensor& part : parts) {
        ACEFIT_ASSIGN(Tensor target, y.narrow(a, start, part.dim(a)));
        ACEFIT_TRY(vulkan::strided_copy(*vk, part, target));
        start += part.dim(a);
      }
    }
    return y;
  }
  // Each part is written through a strided view of y: treat y's slice as the
  // destination by copying the part into place row-run by row-run. A
  // non-contiguous part is made contiguous first, in a workspace the
  // planning device allocates and frees at the same point.
  std::int64_t outer = 1;
  for (int i = 0; i < a; ++i) outer *= first.dim(i);
  std::int64_t inner = 1;
  for (int i = a + 1; i < first.rank(); ++i) inner *= first.dim(i);
  const std::size_t element = dtype_size(first.dtype());
  auto* out = static_cast<unsigned char*>(y.raw_data());
  std::int64_t offset = 0;
  for (const Tensor& part : parts) {
    Tensor source = part;
    if (!part.is_contiguous()) {
      ACEFIT_ASSIGN(source,
                    contiguous(OpContext{ctx.device, ctx.pool, MemoryTag::workspace}, part));
    }
    const std::int64_t run = part.dim(a) * inner;
    if (!planning(ctx) && run > 0) {  // an empty part has no data to copy
      const auto* in = static_cast<const unsigned char*>(source.raw_data());
      ctx.pool.parallel_for(outer, 16, [&](std::int64_t o0, std::int64_t o1) {
        for (std::int64_t o = o0; o < o1; ++o) {
          std::memcpy(out + static_cast<std::size_t>(o * total * inner + offset * inner) * element,
                      in + static_cast<std::size_t>(o * run) * element,
                      static_cast<std::size_t>(run) * element);
        }
      });
    }
    offset += part.dim(a);
  }
  return y;
}

Expected<Tensor> pad(const OpContext& ctx, const Tensor& x, int axis, std::int64_t before,
                     std::int64_t after, float value) {
  constexpr std::string_view op = "pad";
  ACEFIT_TRY(check_input(ctx, op, "x", x));
  ACEFIT_TRY(check_kernel_device(ctx, op));
  const int a = resolve_axis(axis, x.rank());
  ACEFIT_TRY(check_axis(op, x, a));
  if (before < 0 || after < 0) return fail(op, "padding must be >= 0");
  if (value != 0.0f && x.dtype() != DType::f32)
    return fail(op, "a non-zero pad value needs an f32 tensor");
  ACEFIT_ASSIGN(Tensor y,
                ctx.device.empty(x.dtype(), x.shape().with_dim(a, x.dim(a) + before + after),
                                 ctx.output_tag));
  if (planning(ctx) || y.numel() == 0) return y;
  if (VulkanDevice* vk = as_vulkan(ctx.device)) {
    ACEFIT_TRY(vulkan::pad(*vk, x, y, a, before, value));
    return y;
  }
  std::int64_t outer = 1;
  for (int i = 0; i < a; ++i) outer *= x.dim(i);
  std::int64_t inner = 1;
  for (int i = a + 1; i < x.rank(); ++i) inner *= x.dim(i);
  const std::size_t element = dtype_size(x.dtype());
  const std::int64_t in_run = x.dim(a) * inner;
  const std::int64_t out_run = y.dim(a) * inner;
  auto* out = static_cast<unsigned char*>(y.raw_data());
  const auto* in = static_cast<const unsigned char*>(x.raw_data());
  ctx.pool.parallel_for(outer, 16, [&](std::int64_t o0, std::int64_t o1) {
    for (std::int64_t o = o0; o < o1; ++o) {
      unsigned char* row = out + static_cast<std::size_t>(o * out_run) * element;
      if (value == 0.0f) {
        std::memset(row, 0, static_cast<std::size_t>(out_run) * element);
      } else {
        std::fill(reinterpret_cast<float*>(row), reinterpret_cast<float*>(row) + out_run, value);
      }
      std::memcpy(row + static_cast<std::size_t>(before * inner) * element,
                  in + static_cast<std::size_t>(o * in_run) * element,
                  static_cast<std::size_t>(in_run) * element);
    }
  });
  return y;
}

Expected<Tensor> cast(const OpContext& ctx, const Tensor& x, DType to) {
  constexpr std::string_view op = "cast";
  ACEFIT_TRY(check_input(ctx, op, "x", x));
  ACEFIT_TRY(check_dtype(op, "x", x, {DType::f32, DType::f16, DType::bf16}));
  if (to != DType::f32 && to != DType::f16 && to != DType::bf16) {
    return fail(op, "cannot cast to " + std::string(dtype_name(to)));
  }
  ACEFIT_TRY(check_kernel_device(ctx, op));
  ACEFIT_ASSIGN(Tensor y, ctx.device.empty(to, x.shape(), ctx.output_tag));
  if (planning(ctx) || y.numel() == 0) return y;
  if (VulkanDevice* vk = as_vulkan(ctx.device)) {
    if (x.dtype() == to) {
      ACEFIT_TRY(ctx.device.copy_on_device(y.raw_data(), x.raw_data(), x.nbytes()));
    } else {
      ACEFIT_TRY(vulkan::cast(*vk, x, y));
    }
    return y;
  }
  if (x.dtype() == to) {
    std::memcpy(y.raw_data(), x.raw_data(), x.nbytes());
    return y;
  }
  const DType from = x.dtype();
  ctx.pool.parallel_for(x.numel(), 1 << 14, [&](std::int64_t b, std::int64_t e) {
    const auto count = static_cast<std::size_t>(e - b);
    if (to == DType::f32) {
      const auto* src = x.data<std::uint16_t>() + b;
      float* dst = y.data<float>() + b;
      if (from == DType::bf16)
        bf16_to_f32_n(src, dst, count);
      else
        f16_to_f32_n(src, dst, count);
      return;
    }
    auto* dst = y.data<std::uint16_t>() + b;
    for (std::int64_t i = 0; i < e - b; ++i) {
      const float v = from == DType::f32    ? x.data<float>()[b + i]
                      : from == DType::bf16 ? bf16_to_f32(x.data<std::uint16_t>()[b + i])
                                            : f16_to_f32(x.data<std::uint16_t>()[b + i]);
      dst[i] = to == DType::bf16 ? f32_to_bf16(v) : f32_to_f16(v);
    }
  });
  return y;
}

Expected<Tensor> embedding(const OpContext& ctx, const Tensor& table, const Tensor& ids) {
  constexpr std::string_view op = "embedding";
  ACEFIT_TRY(check_input(ctx, op, "table", table));
  ACEFIT_TRY(check_input(ctx, op, "ids", ids));
  ACEFIT_TRY(check_dtype(op, "table", table, {DType::f32, DType::bf16}));
  ACEFIT_TRY(check_dtype(op, "ids", ids, {DType::i32, DType::i64}));
  ACEFIT_TRY(check_rank(op, "table", table, 2, 2));
  ACEFIT_TRY(check_rank(op, "ids", ids, 0, kMaxRank - 1));
  ACEFIT_TRY(check_kernel_device(ctx, op));
  const std::int64_t vocab = table.dim(0);
  const std::int64_t width = table.dim(1);
  Shape shape = ids.shape();
  shape.push_back(width);
  ACEFIT_ASSIGN(Tensor y, ctx.device.empty(DType::f32, shape, ctx.output_tag));
  const std::int64_t count = ids.numel();
  // On vulkan the ids stay on the device: a one-word status tensor receives
  // the index of the first bad id (allocated on a planning device too, so
  // planned == measured).
  Tensor status;
  if (ctx.device.kind() == DeviceKind::vulkan) {
    ACEFIT_ASSIGN(status, ctx.device.empty(DType::i32, Shape{1}, MemoryTag::workspace));
  }
  if (planning(ctx)) return y;
  if (VulkanDevice* vk = as_vulkan(ctx.device)) {
    std::int64_t bad = count;
    ACEFIT_TRY(vulkan::embedding(*vk, table, ids, status, y, bad));
    if (bad >= 0 && bad < count) {
      const std::size_t element = dtype_size(ids.dtype());
      std::int64_t id = 0;
      std::int32_t id32 = 0;
      ACEFIT_TRY(ctx.device.copy_to_host(
          ids.dtype() == DType::i32 ? static_cast<void*>(&id32) : static_cast<void*>(&id),
          static_cast<const std::byte*>(ids.raw_data()) + static_cast<std::size_t>(bad) * element,
          element));
      if (ids.dtype() == DType::i32) id = id32;
      return fail(op, "id " + std::to_string(id) + " at index " + std::to_string(bad) +
                          " is outside the table of " + std::to_string(vocab) + " rows");
    }
    return y;
  }
  auto id_at = [&](std::int64_t i) -> std::int64_t {
    return ids.dtype() == DType::i32 ? ids.data<std::int32_t>()[i] : ids.data<std::int64_t>()[i];
  };
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t id = id_at(i);
    if (id < 0 || id >= vocab) {
      return fail(op, "id " + std::to_string(id) + " at index " + std::to_string(i) +
                          " is outside the table of " + std::to_string(vocab) + " rows");
    }
  }
  ctx.pool.parallel_for(count, 16, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      float* dst = y.data<float>() + i * width;
      const std::int64_t id = id_at(i);
      if (table.dtype() == DType::f32) {
        std::memcpy(dst, table.data<float>() + id * width,
                    static_cast<std::size_t>(width) * sizeof(float));
      } else {
        bf16_to_f32_n(table.data<std::uint16_t>() + id * width, dst,
                      static_cast<std::size_t>(width));
      }
    }
  });
  return y;
}

}  // namespace acefit::ops
