// The text encoder, Qwen3-Embedding-0.6B (spec: acestep-model.md 5): the
// caption prompt runs through the whole causal stack without an attention
// mask and the last hidden state after the final norm is used; the lyric
// prompt only looks up rows of the embedding table. The text encoder is
// never quantized (gpu-adaptation.md 7.1): loading it as i8 is an
// invalid_argument error, the caller picks bf16 or f32 for it.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "io/checkpoint/model_config.h"
#include "models/qwen3/qwen3_layer.h"

namespace acefit::models {

class TextEncoder {
 public:
  // Reads <dir>/config.json and the weights; projection matrices are kept
  // as `matrix_dtype` (bf16 halves the memory, f32 skips the widening).
  static Expected<TextEncoder> load(const std::string& dir, Device& device, DType matrix_dtype);
  // The same from an open (or planned) loader and a config; the tensors may
  // carry the causal LM's "model." prefix.
  static Expected<TextEncoder> load(const WeightLoader& loader, const Qwen3Config& config,
                                    Device& device, DType matrix_dtype);

  const Qwen3Config& config() const { return config_; }

  // Every weight tensor (embedding table, layers, final norm).
  void collect_weights(std::vector<Tensor*>& out);
  // A copy computing on `device` for one stage (offload). The embedding
  // table, most of whose rows a prompt never reads, stays where it is:
  // lookups gather there and move only the rows (151669 x 1024 bf16, 0.31 GB
  // at the shipped dims, never visits the device).
  Expected<TextEncoder> copy_to(Device& device) const;

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
