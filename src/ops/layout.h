// Layout ops: each returns a new contiguous tensor on ctx.device, except
// copy_into, which writes into an existing view.
#pragma once

#include <vector>

#include "ops/op_context.h"

namespace acefit::ops {

// A contiguous copy of any view (any dtype).
Expected<Tensor> contiguous(const OpContext& ctx, const Tensor& x);
// Swaps two axes and materialises the result.
Expected<Tensor> transpose(const OpContext& ctx, const Tensor& x, int axis_a, int axis_b);
// Writes src into dst, an existing view of the same shape and dtype on
// ctx.device (e.g. Tensor::narrow of a larger tensor, such as a KV cache):
// the elements dst covers are replaced, the rest of its storage is left
// as it was. Either side may have any strides >= 0 (any dtype); the two
// must not overlap. Allocates nothing.
Status copy_into(const OpContext& ctx, const Tensor& dst, const Tensor& src);
// Elements [start, end) along axis.
Expected<Tensor> slice(const OpContext& ctx, const Tensor& x, int axis, std::int64_t start,
                       std::int64_t end);
// Joins tensors of equal dtype and equal shape except along axis.
Expected<Tensor> concat(const OpContext& ctx, const std::vector<Tensor>& parts, int axis);
// Pads axis with `before` and `after` elements of value (f32 only for a
// non-zero value).
Expected<Tensor> pad(const OpContext& ctx, const Tensor& x, int axis, std::int64_t before,
                     std::int64_t after, float value = 0.0f);
// Converts between f32, f16 and bf16 (round to nearest even).
Expected<Tensor> cast(const OpContext& ctx, const Tensor& x, DType to);

// Rows of table [V, D] (f32 or bf16) picked by ids (i32 or i64, any shape)
// -> f32 [ids..., D]. An id outside [0, V) is an invalid_argument error.
Expected<Tensor> embedding(const OpContext& ctx, const Tensor& table, const Tensor& ids);

}  // namespace acefit::ops
