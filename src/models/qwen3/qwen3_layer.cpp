#include "models/qwen3/qwen3_layer.h"

#include "ops/activation.h"
#include "ops/elementwise.h"
#include "ops/norm.h"

namespace acefit::models {

Expected<Tensor> load_vector(const WeightLoader& loader, Device& device, const std::string& name,
                             std::int64_t length) {
  return loader.load(device, name, {length}, DType::f32);
}

void collect_weights(AttentionWeights& w, std::vector<Tensor*>& out) {
  w.q_proj.collect(out);
  w.k_proj.collect(out);
  w.v_proj.collect(out);
  w.o_proj.collect(out);
  out.push_back(&w.q_norm);
  out.push_back(&w.k_norm);
}

void collect_weights(MlpWeights& w, std::vector<Tensor*>& out) {
  w.gate_proj.collect(out);
  w.up_proj.collect(out);
  w.down_proj.collect(out);
}

void collect_weights(Qwen3LayerWeights& w, std::vector<Tensor*>& out) {
  out.push_back(&w.input_layernorm);
  out.push_back(&w.post_attention_layernorm);
  collect_weights(w.attention, out);
  collect_weights(w.mlp, out);
}

Expected<AttentionWeights> load_attention(const WeightLoader& loader, const ops::OpContext& ctx,
                                          const std::string& prefix, const AttentionGeometry& g,
                                          DType matrix_dtype) {
  AttentionWeights w;
  const std::int64_t q_width = g.q_heads * g.head_dim;
  const std::int64_t kv_width = g.kv_heads * g.head_dim;
  ACEFIT_ASSIGN(w.q_proj, load_linear(loader, ctx, prefix + "q_proj.weight", {q_width, g.hidden},
                                      matrix_dtype));
  ACEFIT_ASSIGN(w.k_proj, load_linear(loader, ctx, prefix + "k_proj.weight", {kv_width, g.hidden},
                                      matrix_dtype));
  ACEFIT_ASSIGN(w.v_proj, load_linear(loader, ctx, prefix + "v_proj.weight", {kv_width, g.hidden},
                                      matrix_dtype));
  ACEFIT_ASSIGN(w.o_proj, load_linear(loader, ctx, prefix + "o_proj.weight", {g.hidden, q_width},
                                      matrix_dtype));
  ACEFIT_ASSIGN(w.q_norm, load_vector(loader, ctx.device, prefix + "q_norm.weight", g.head_dim));
  ACEFIT_ASSIGN(w.k_norm, load_vector(loader, ctx.device, prefix + "k_norm.weight", g.head_dim));
  return w;
}

Expected<MlpWeights> load_mlp(const WeightLoader& loader, const ops::OpContext& ctx,
                              const std::string& prefix, std::int64_t hidden,
                              std::int64_t intermediate, DType matrix_dtype) {
  MlpWeights w;
  ACEFIT_ASSIGN(w.gate_proj, load_linear(loader, ctx, prefix + "gate_proj.weight",
                                         {intermediate, hidden}, matrix_dtype));
  ACEFIT_ASSIGN(w.up_proj, load_linear(loader, ctx, prefix + "up_proj.weight",
                                       {intermediate, hidden}, matrix_dtype));
  ACEFIT_ASSIGN(w.down_proj, load_linear(loader, ctx, prefix + "down_proj.weight",
                                         {hidden, intermediate}, matrix_dtype));
  return w;
}

Expected<Qwen3LayerWeights> load_qwen3_layer(const WeightLoader& loader, const ops::OpContext& ctx,
                                             const std::string& prefix, const AttentionGeometry& g,
                                             std::int64_t intermediate, DType matrix_dtype) {
  Qwen3LayerWeights w;
  ACEFIT_ASSIGN(w.input_layernorm,
                load_vector(loader, ctx.device, prefix + "input_layernorm.weight", g.hidden));
  ACEFIT_ASSIGN(
      w.post_attention_layernorm,
      load_vector(loader, ctx.device, prefix + "post_attention_layernorm.weight", g.hidden));
  ACEFIT_ASSIGN(w.attention, load_attention(loader, ctx, prefix + "self_attn.", g, matrix_dtype));
  ACEFIT_ASSIGN(w.mlp,
                load_mlp(loader, ctx, prefix + "mlp.", g.hidden, intermediate, matrix_dtype));
  return w;
}

Expected<Tensor> project_heads(const ops::OpContext& ctx, const Tensor& x, const LinearWeight& proj,
                               const Tensor& norm, std::int64_t heads, std::int64_t head_dim,
                               float eps) {
  ACEFIT_ASSIGN(Tensor flat, apply_linear(ctx, x, proj));
  ACEFIT_ASSIGN(Tensor split, flat.reshape(Shape{x.dim(0), x.dim(1), heads, head_dim}));
  if (!norm.defined()) return split;
  return ops::rms_norm(ctx, split, norm, eps);
}

Expected<Tensor> self_attention(const ops::OpContext& ctx, const AttentionWeights& w,
                                const AttentionGeometry& g, const Tensor& x,
                                const ops::AttentionOptions& options) {
  Tensor q, k, v;
  {
    ACEFIT_ASSIGN(Tensor q_normed,
                  project_heads(ctx, x, w.q_proj, w.q_norm, g.q_heads, g.head_dim, g.rms_eps));
    ACEFIT_ASSIGN(q, ops::rope(ctx, q_normed, g.rope_theta));
  }
  {
    ACEFIT_ASSIGN(Tensor k_normed,
                  project_heads(ctx, x, w.k_proj, w.k_norm, g.kv_heads, g.head_dim, g.rms_eps));
    ACEFIT_ASSIGN(k, ops::rope(ctx, k_normed, g.rope_theta));
  }
  ACEFIT_ASSIGN(v, project_heads(ctx, x, w.v_proj, Tensor(), g.kv_heads, g.head_dim, g.rms_eps));
  ACEFIT_ASSIGN(Tensor attended, ops::attention(ctx, q, k, v, options));
  q = k = v = Tensor();
  ACEFIT_ASSIGN(Tensor merged, attended.reshape(Shape{x.dim(0), x.dim(1), g.q_heads * g.head_dim}));
  return apply_linear(ctx, merged, w.o_proj);
}

Expected<Tensor> mlp(const ops::OpContext& ctx, const MlpWeights& w, const Tensor& x) {
  Tensor hidden;
  {
    ACEFIT_ASSIGN(Tensor gate, apply_linear(ctx, x, w.gate_proj));
    ACEFIT_ASSIGN(Tensor up, apply_linear(ctx, x, w.up_proj));
    ACEFIT_ASSIGN(hidden, ops::swiglu(ctx, gate, up));
  }
  return apply_linear(ctx, hidden, w.down_proj);
}

Expected<Tensor> qwen3_layer(const ops::OpContext& ctx, const Qwen3LayerWeights& w,
                             const AttentionGeometry& g, const Tensor& x,
                             const ops::AttentionOptions& options) {
  Tensor after_attention;
  {
    ACEFIT_ASSIGN(Tensor normed, ops::rms_norm(ctx, x, w.input_layernorm, g.rms_eps));
    ACEFIT_ASSIGN(Tensor attended, self_attention(ctx, w.attention, g, normed, options));
    ACEFIT_ASSIGN(after_attention, ops::add(ctx, x, attended));
  }
  ACEFIT_ASSIGN(Tensor normed,
                ops::rms_norm(ctx, after_attention, w.post_attention_layernorm, g.rms_eps));
  ACEFIT_ASSIGN(Tensor mlp_out, mlp(ctx, w.mlp, normed));
  normed = Tensor();
  return ops::add(ctx, after_attention, mlp_out);
}

ops::AttentionOptions layer_attention_options(bool causal, bool sliding, std::int64_t window) {
  ops::AttentionOptions options;
  if (sliding) {
    options.mask = ops::AttentionMask::sliding_window;
    options.window = window;
  } else {
    options.mask = causal ? ops::AttentionMask::causal : ops::AttentionMask::full;
  }
  options.query_position = 0;
  return options;
}

}  // namespace acefit::models
