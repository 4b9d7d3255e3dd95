// Conversion and gather kernels: cast.comp (f32 / f16 / bf16, bit-exact with
// core/dtype.h) and embedding (embedding_check.comp finds the first id
// outside the table, embedding.comp gathers rows into f32).
#include "ops/vulkan/launch.h"
#include "ops/vulkan/vulkan_kernels.h"
#include "vulkan_shaders.h"

namespace acefit::ops::vulkan {

namespace {

std::uint32_t gather_dtype_code(DType dtype) {
  return dtype == DType::f32 ? 0u : dtype == DType::f16 ? 1u : 2u;
}

}  // namespace

Status cast(VulkanDevice& device, const Tensor& x, Tensor& y) {
  ACEFIT_TRY(check_u32("cast", "element count", x.numel()));
  struct Push {
    std::uint64_t x32, x16, y32, y16;
    std::uint32_t n;
  } push{device.address(x), device.address(x), device.address(y), device.address(y),
         u32(x.numel())};
  const std::uint32_t workgroup = workgroup_1d(device);
  const std::uint32_t constants[] = {workgroup, gather_dtype_code(x.dtype()),
                                     gather_dtype_code(y.dtype())};
  return device.dispatch(shaders::cast, push, grid_1d(device, x.numel(), workgroup), constants);
}

Status embedding(VulkanDevice& device, const Tensor& table, const Tensor& ids, Tensor& status,
                 Tensor& y, std::int64_t& bad_index) {
  constexpr std::string_view op = "embedding";
  ACEFIT_TRY(check_u32(op, "output element count", y.numel()));
  ACEFIT_TRY(check_u32(op, "table element count", table.numel()));
  const std::int64_t count = ids.numel();
  // The status word is an i32 and a negative i32 id must read as a u32 past
  // the table: both need counts below 2^31.
  if (count > 0x7fffffff || table.dim(0) > 0x7fffffff) {
    return unsupported("embedding on vulkan: " + std::to_string(count) + " ids or " +
                       std::to_string(table.dim(0)) + " table rows do not fit 31 bits");
  }
  const std::uint32_t words = ids.dtype() == DType::i64 ? 2u : 1u;
  {
    struct Push {
      std::uint64_t ids, status;
      std::uint32_t count, vocab;
    } push{device.address(ids), device.address(status), u32(count), u32(table.dim(0))};
    const std::uint32_t constants[] = {workgroup_1d(device), words};
    ACEFIT_TRY(device.dispatch(shaders::embedding_check, push, {1, 1, 1}, constants));
  }
  if (y.numel() > 0) {
    struct Push {
      std::uint64_t table32, table16, ids, y;
      std::uint32_t n, width, vocab;
    } push{device.address(table), device.address(table), device.address(ids), device.address(y),
           u32(y.numel()),        u32(table.dim(1)),     u32(table.dim(0))};
    const std::uint32_t workgroup = workgroup_1d(device);
    const std::uint32_t constants[] = {workgroup, table.dtype() == DType::bf16 ? 1u : 0u, words};
    ACEFIT_TRY(device.dispatch(shaders::embedding, push, grid_1d(device, y.numel(), workgroup),
                               constants));
  }
  std::int32_t first_bad = 0;
  ACEFIT_TRY(device.copy_to_host(&first_bad, status.raw_data(), sizeof first_bad));
  bad_index = first_bad;
  return {};
}

}  // namespace acefit::ops::vulkan
