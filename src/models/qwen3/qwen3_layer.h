// The Qwen3 transformer block and its parts (spec: acestep-model.md 4.1-4.6),
// shared by the text encoder, the condition encoder's lyric and timbre
// stacks, the detokenizer, the DiT's attention and (later) the 5 Hz LM:
// RMSNorm, grouped-query attention with per-head q/k RMSNorm before
// rotate-half RoPE, no projection biases, and the SwiGLU MLP.
// Activations are f32 [B, S, H]; projection weights are LinearWeights (f32,
// bf16 or INT8 with per-row scales: the dtype the model was loaded with),
// norms f32.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/linear_weight.h"
#include "models/weight_loader.h"
#include "ops/attention.h"
#include "ops/op_context.h"

namespace acefit::models {

struct AttentionGeometry {
  std::int64_t hidden = 0;
  std::int64_t q_heads = 0;
  std::int64_t kv_heads = 0;
  std::int64_t head_dim = 0;
  float rms_eps = 1e-6f;
  float rope_theta = 1e6f;
};

struct AttentionWeights {
  LinearWeight q_proj, k_proj, v_proj, o_proj;  // [Hq*D, H], [Hkv*D, H] x2, [H, Hq*D]
  Tensor q_norm, k_norm;                        // [D]
};

struct MlpWeights {
  LinearWeight gate_proj, up_proj, down_proj;  // [I, H], [I, H], [H, I]
};

// One pre-norm block: input_layernorm, self_attn, post_attention_layernorm, mlp.
struct Qwen3LayerWeights {
  Tensor input_layernorm, post_attention_layernorm;
  AttentionWeights attention;
  MlpWeights mlp;
};

// Append a pointer to every tensor the weights hold (for copies and byte
// counts; a LinearWeight gives its matrix and, when quantized, its scales).
void collect_weights(AttentionWeights& w, std::vector<Tensor*>& out);
void collect_weights(MlpWeights& w, std::vector<Tensor*>& out);
void collect_weights(Qwen3LayerWeights& w, std::vector<Tensor*>& out);

// Loads `<prefix>q_proj.weight` ... `<prefix>k_norm.weight` (prefix ends in
// "self_attn." or "cross_attn.") onto ctx.device. Keys and values are
// projected from the same width as queries (g.hidden), as in every ACE-Step
// stack. matrix_dtype: f32, bf16 or i8 (load_linear).
Expected<AttentionWeights> load_attention(const WeightLoader& loader, const ops::OpContext& ctx,
                                          const std::string& prefix, const AttentionGeometry& g,
                                          DType matrix_dtype);
Expected<MlpWeights> load_mlp(const WeightLoader& loader, const ops::OpContext& ctx,
                              const std::string& prefix, std::int64_t hidden,
                              std::int64_t intermediate, DType matrix_dtype);
// `prefix` ends in "layers.N.".
Expected<Qwen3LayerWeights> load_qwen3_layer(const WeightLoader& loader, const ops::OpContext& ctx,
                                             const std::string& prefix, const AttentionGeometry& g,
                                             std::int64_t intermediate, DType matrix_dtype);
// A norm or bias vector (always f32).
Expected<Tensor> load_vector(const WeightLoader& loader, Device& device, const std::string& name,
                             std::int64_t length);

// x [B, S, H] -> [B, S, heads, D] after `proj`, then the per-head RMSNorm
// `norm` when defined.
Expected<Tensor> project_heads(const ops::OpContext& ctx, const Tensor& x, const LinearWeight& proj,
                               const Tensor& norm, std::int64_t heads, std::int64_t head_dim,
                               float eps);

// Self-attention with RoPE at positions 0..S-1: x [B, S, H] -> [B, S, H].
Expected<Tensor> self_attention(const ops::OpContext& ctx, const AttentionWeights& w,
                                const AttentionGeometry& g, const Tensor& x,
                                const ops::AttentionOptions& options);

// SwiGLU: down(silu(gate(x)) * up(x)).
Expected<Tensor> mlp(const ops::OpContext& ctx, const MlpWeights& w, const Tensor& x);

// The whole pre-norm block.
Expected<Tensor> qwen3_layer(const ops::OpContext& ctx, const Qwen3LayerWeights& w,
                             const AttentionGeometry& g, const Tensor& x,
                             const ops::AttentionOptions& options);

// The mask a stack's layer uses: sliding window (|i - j| <= window) when
// `sliding`, else full or, for a causal stack, causal.
ops::AttentionOptions layer_attention_options(bool causal, bool sliding, std::int64_t window);

}  // namespace acefit::models
