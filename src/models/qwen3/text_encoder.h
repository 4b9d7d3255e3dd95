// The text encoder, Qwen3-Embedding-0.6B (spec: acestep-model.md 5): the
// caption prompt runs through the whole causal stack without an attention
// mask and the last hidden state after the final norm is used; the lyric
// prompt only looks up rows of the embedding table.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "io/model_config.h"
#include "models/qwen3/qwen3_layer.h"

namespace acefit::models {

class TextEncoder {
 public:
  // Reads <dir>/config.json and the weights; projection matrices are kept
  // as `matrix_dtype` (bf16 halves the memory, f32 skips the widening).
  static Expected<TextEncoder> load(const std::string& dir, Device& device, DType matrix_dtype);

  const Qwen3Config& config() const { return config_; }

  // ids [B, L] (i32 or i64, every row the same length) -> f32 [B, L, hidden].
  Expected<Tensor> encode(const ops::OpContext& ctx, const Tensor& ids) const;
  // ids [B, L] -> embedding rows f32 [B, L, hidden].
  Expected<Tensor> embed(const ops::OpContext& ctx, const Tensor& ids) const;

 private:
  Qwen3Config config_;
  AttentionGeometry geometry_;
  Tensor embed_tokens_;  // [V, H]
  std::vector<Qwen3LayerWeights> layers_;
  Tensor norm_;
};

}  // namespace acefit::models
