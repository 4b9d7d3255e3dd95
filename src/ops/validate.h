// Shape, dtype and placement checks shared by the ops. Each returns an
// invalid_argument Status naming the op, the argument and what was wrong.
#pragma once

#include <initializer_list>
#include <string_view>

#include "core/status.h"
#include "core/tensor.h"
#include "ops/op_context.h"

namespace acefit::ops {

// Defined, contiguous and on ctx.device.
Status check_input(const OpContext& ctx, std::string_view op, std::string_view arg,
                   const Tensor& t);
Status check_dtype(std::string_view op, std::string_view arg, const Tensor& t,
                   std::initializer_list<DType> allowed);
Status check_rank(std::string_view op, std::string_view arg, const Tensor& t, int min_rank,
                  int max_rank);
// Fails with a clear message when the op has no kernel for this device.
Status check_kernel_device(const OpContext& ctx, std::string_view op);
// True when kernels must not run (planning device).
inline bool planning(const OpContext& ctx) {
  return ctx.device.planning();
}

Status fail(std::string_view op, std::string message);

}  // namespace acefit::ops
