// The DiT decoder (`decoder.*` of the DiT checkpoint, spec: acestep-model.md
// 10): timestep embeddings of t and t - r, input patching (kernel-2 stride-2
// conv over [context | x_t]), the condition embedder, layers with per-layer
// modulation, self-attention alternating sliding window and full, cross-
// attention over the encoder states, SwiGLU MLP, output modulation and
// un-patching. No padding masks anywhere inside, as in the reference.
#pragma once
#include <cstdint>
#include <vector>

#include "io/model_config.h"
#include "models/qwen3/encoder_stack.h"

namespace acefit::models {

struct TimestepEmbedderWeights {
  Tensor linear_1, linear_1_bias;    // [H, 256], [H]
  Tensor linear_2, linear_2_bias;    // [H, H], [H]
  Tensor time_proj, time_proj_bias;  // [6H, H], [6H]
};

struct DitLayerWeights {
  Tensor self_attn_norm, cross_attn_norm, mlp_norm;  // [H]
  AttentionWeights self_attn, cross_attn;
  MlpWeights mlp;
  Tensor scale_shift_table;  // [6, H]: shift, scale, gate (attention), shift, scale, gate (MLP)
};

// What depends only on the encoder states: computed once per generation
// (and once more when the conditioning changes), reused by every step.
struct DitCrossCache {
  std::vector<Tensor> keys, values;  // per layer: [B, L, Hkv, D]
  std::int64_t batch = 0;
};

class DitDecoder {
 public:
  // Loads onto load_ctx.device (the weight re-layouts of proj_in/proj_out
  // run there as ops).
  static Expected<DitDecoder> load(const WeightLoader& loader, const ops::OpContext& load_ctx,
                                   const DitConfig& config, DType matrix_dtype);

  const DitConfig& config() const { return config_; }

  // encoder_states [B, L, H] (packed, before the condition embedder).
  Expected<DitCrossCache> prepare(const ops::OpContext& ctx, const Tensor& encoder_states) const;

  // One evaluation: x_t [B, T, 64], context [B, T, 128], t and r per item
  // -> velocity [B, T, 64].
  Expected<Tensor> forward(const ops::OpContext& ctx, const Tensor& x_t, const Tensor& context,
                           const std::vector<float>& t, const std::vector<float>& r,
                           const DitCrossCache& cache) const;

  // null_condition_emb [1, 1, H] broadcast to [B, L, H]: the unconditional
  // encoder states of classifier-free guidance.
  Expected<Tensor> null_condition(const ops::OpContext& ctx, std::int64_t batch,
                                  std::int64_t length) const;

 private:
  // (temb [B, H], projection [B, 6, H]) of one timestep embedder.
  Expected<std::pair<Tensor, Tensor>> embed_timesteps(const ops::OpContext& ctx,
                                                      const TimestepEmbedderWeights& w,
                                                      const std::vector<float>& taus) const;

  DitConfig config_;
  AttentionGeometry geometry_;
  TimestepEmbedderWeights time_embed_, time_embed_r_;
  Tensor proj_in_, proj_in_bias_;  // as a linear: [H, patch * in_channels], [H]
  Tensor condition_embedder_, condition_embedder_bias_;
  std::vector<DitLayerWeights> layers_;
  Tensor norm_out_;
  Tensor output_table_;              // [2, H]: shift, scale
  Tensor proj_out_, proj_out_bias_;  // as a linear: [patch * 64, H], [patch * 64]
  Tensor null_condition_;            // [1, 1, H]
};

// The 256-value sinusoid of 1000 * tau: cos of 128 frequencies then sin.
std::vector<float> timestep_sinusoid(float tau);

}  // namespace acefit::models
