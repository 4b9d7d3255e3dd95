// The weight of one Linear layer as the models hold it: an f32 or bf16
// matrix [N, K], or an INT8 matrix with one f32 scale per output row
// (weight-only quantization, spec gpu-adaptation.md 7.1: symmetric, zero
// point 0, scale = max|row| / 127). Loading with DType::i8 reads the stored
// matrix, quantizes it on the load device and keeps only the i8 matrix and
// its scales; on a planning device the same allocations are reserved.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/weight_loader.h"
#include "ops/op_context.h"

namespace acefit::models {

struct LinearWeight {
  Tensor weight;  // [N, K]: f32, bf16 or i8
  Tensor scale;   // f32 [N] when weight is i8, else undefined

  bool quantized() const { return weight.dtype() == DType::i8; }
  // Bytes of the matrix and its scales.
  std::uint64_t nbytes() const { return weight.nbytes() + (scale.defined() ? scale.nbytes() : 0); }
  // Appends &weight and, when defined, &scale.
  void collect(std::vector<Tensor*>& out) {
    out.push_back(&weight);
    if (scale.defined()) out.push_back(&scale);
  }
};

// y[..., N] = x[..., K] W^T + bias (bias may be undefined).
Expected<Tensor> apply_linear(const ops::OpContext& ctx, const Tensor& x, const LinearWeight& w,
                              const Tensor& bias = {});

// Loads the matrix `name` of `shape` ([N, K]) onto ctx.device as
// `matrix_dtype`: f32, bf16, or i8 (read as f32, quantized per output row
// with ops::quantize_int8 on ctx.pool; the f32 copy is released before
// returning, so what stays is the i8 matrix and the scales).
Expected<LinearWeight> load_linear(const WeightLoader& loader, const ops::OpContext& ctx,
                                   const std::string& name, const std::vector<std::int64_t>& shape,
                                   DType matrix_dtype);

// The dtype a Linear that is never quantized (the text encoder, the
// detokenizer) loads with when the model is asked for `matrix_dtype`:
// i8 becomes bf16, the dtype of the stored checkpoint.
DType unquantized_dtype(DType matrix_dtype);

}  // namespace acefit::models
