// Linear weights: loading (optionally quantized to INT8) and applying.
#include "models/linear_weight.h"

#include "ops/linear.h"

namespace acefit::models {

Expected<Tensor> apply_linear(const ops::OpContext& ctx, const Tensor& x, const LinearWeight& w,
                              const Tensor& bias) {
  return ops::linear(ctx, x, w.weight, bias, w.scale);
}

Expected<LinearWeight> load_linear(const WeightLoader& loader, const ops::OpContext& ctx,
                                   const std::string& name, const std::vector<std::int64_t>& shape,
                                   DType matrix_dtype) {
  LinearWeight w;
  if (matrix_dtype == DType::f32 || matrix_dtype == DType::bf16) {
    ACEFIT_ASSIGN(w.weight, loader.load(ctx.device, name, shape, matrix_dtype));
    return w;
  }
  if (matrix_dtype != DType::i8)
    return Status(ErrorCode::invalid_argument, "linear weights load as f32, bf16 or i8, not " +
                                                   std::string(dtype_name(matrix_dtype)) + " (" +
                                                   name + ")");
  // f32 holds a bf16 checkpoint's values exactly, and quantize_int8 would
  // widen a bf16 matrix to f32 anyway.
  ACEFIT_ASSIGN(Tensor full, loader.load(ctx.device, name, shape, DType::f32));
  ACEFIT_ASSIGN(auto quantized, ops::quantize_int8(ctx, full));
  w.weight = std::move(quantized.first);
  w.scale = std::move(quantized.second);
  return w;
}

DType unquantized_dtype(DType matrix_dtype) {
  return matrix_dtype == DType::i8 ? DType::bf16 : matrix_dtype;
}

}  // namespace acefit::models
