// A bidirectional Qwen3 encoder stack of the DiT checkpoint (spec:
// acestep-model.md 4.6): `embed_tokens` (Linear in -> H with bias), N
// pre-norm layers whose layer j uses the sliding window when j is even (the
// config's layer_types), and a final RMSNorm. The lyric and timbre encoders
// and the detokenizer are such stacks.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/checkpoint/model_config.h"
#include "models/qwen3/qwen3_layer.h"

namespace acefit::models {

class EncoderStack {
 public:
  // prefix: "encoder.lyric_encoder." etc.; in_features: the embed input
  // width. Loads onto load_ctx.device; matrix_dtype f32, bf16 or i8 (the
  // embed Linear and the layers' projections are quantized on load_ctx).
  static Expected<EncoderStack> load(const WeightLoader& loader, const ops::OpContext& load_ctx,
                                     const std::string& prefix, const DitConfig& config,
                                     std::int64_t in_features, std::int64_t layer_count,
                                     DType matrix_dtype);

  // x [B, S, in] -> [B, S, H].
  Expected<Tensor> embed(const ops::OpContext& ctx, const Tensor& x) const;
  // The layers and the final norm on x [B, S, H]. key_lengths: per item,
  // keys at positions >= length are masked (empty: no key padding mask).
  Expected<Tensor> encode(const ops::OpContext& ctx, const Tensor& x,
                          const std::vector<std::int64_t>& key_lengths = {}) const;

  const AttentionGeometry& geometry() const { return geometry_; }

  // Every weight tensor (embed, layers, final norm).
  void collect_weights(std::vector<Tensor*>& out);

 private:
  AttentionGeometry geometry_;
  std::vector<bool> sliding_;
  std::int64_t window_ = 0;
  LinearWeight embed_weight_;
  Tensor embed_bias_;
  std::vector<Qwen3LayerWeights> layers_;
  Tensor norm_;
};

// The geometry of the DiT checkpoint's attention (hidden, heads, eps, theta).
AttentionGeometry dit_geometry(const DitConfig& config);

}  // namespace acefit::models
