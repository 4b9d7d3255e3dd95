#include "ops/sample_workload.h"

#include <vector>

#include "core/rng.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/layout.h"
#include "ops/linear.h"
#include "ops/norm.h"

namespace acefit::ops {

namespace {

// A tensor of N(0, stddev^2) values (or of zeros in planning mode: no data).
Expected<Tensor> random_tensor(const OpContext& ctx, Rng& rng, Shape shape, float stddev,
                               MemoryTag tag, DType dtype = DType::f32) {
  ACEFIT_ASSIGN(Tensor t, ctx.device.empty(dtype, shape, tag));
  if (ctx.device.planning()) return t;
  const auto count = static_cast<std::size_t>(shape.numel());
  std::vector<float> host(count);
  for (float& v : host) v = rng.normal() * stddev;
  if (dtype == DType::bf16) {
    std::vector<std::uint16_t> narrow(count);
    f32_to_bf16_n(host.data(), narrow.data(), count);
    ACEFIT_TRY(ctx.device.copy_from_host(t.raw_data(), narrow.data(), count * 2));
  } else {
    ACEFIT_TRY(ctx.device.copy_from_host(t.raw_data(), host.data(), count * 4));
  }
  return t;
}

}  // namespace

Expected<Tensor> run_sample_workload(const OpContext& ctx, const SampleWorkloadShape& s,
                                     std::uint64_t seed) {
  Rng rng(seed);
  const OpContext weights{ctx.device, ctx.pool, MemoryTag::weights};
  const float w_scale = 0.1f;
  ACEFIT_ASSIGN(Tensor norm_w,
                random_tensor(weights, rng, Shape{s.hidden}, 1.0f, MemoryTag::weights));
  ACEFIT_ASSIGN(Tensor wq, random_tensor(weights, rng, Shape{s.q_heads * s.head_dim, s.hidden},
                                         w_scale, MemoryTag::weights));
  ACEFIT_ASSIGN(Tensor wk, random_tensor(weights, rng, Shape{s.kv_heads * s.head_dim, s.hidden},
                                         w_scale, MemoryTag::weights, DType::bf16));
  ACEFIT_ASSIGN(Tensor wv_f32, random_tensor(weights, rng, Shape{s.kv_heads * s.head_dim, s.hidden},
                                             w_scale, MemoryTag::weights));
  ACEFIT_ASSIGN(auto wv, quantize_int8(weights, wv_f32));
  wv_f32 = Tensor();
  ACEFIT_ASSIGN(Tensor wo, random_tensor(weights, rng, Shape{s.hidden, s.q_heads * s.head_dim},
                                         w_scale, MemoryTag::weights));
  ACEFIT_ASSIGN(Tensor wg, random_tensor(weights, rng, Shape{s.mlp, s.hidden}, w_scale,
                                         MemoryTag::weights, DType::bf16));
  ACEFIT_ASSIGN(Tensor wu,
                random_tensor(weights, rng, Shape{s.mlp, s.hidden}, w_scale, MemoryTag::weights));
  ACEFIT_ASSIGN(Tensor wd,
                random_tensor(weights, rng, Shape{s.hidden, s.mlp}, w_scale, MemoryTag::weights));
  ACEFIT_ASSIGN(Tensor conv_w, random_tensor(weights, rng, Shape{s.hidden / 2, s.hidden, 3},
                                             w_scale, MemoryTag::weights));
  ACEFIT_ASSIGN(Tensor conv_b,
                random_tensor(weights, rng, Shape{s.hidden / 2}, w_scale, MemoryTag::weights));
  ACEFIT_ASSIGN(Tensor alpha,
                random_tensor(weights, rng, Shape{s.hidden / 2}, 0.2f, MemoryTag::weights));
  ACEFIT_ASSIGN(Tensor beta,
                random_tensor(weights, rng, Shape{s.hidden / 2}, 0.2f, MemoryTag::weights));
  ACEFIT_ASSIGN(Tensor up_w, random_tensor(weights, rng, Shape{s.hidden / 2, s.hidden / 2, 4},
                                           w_scale, MemoryTag::weights));
  ACEFIT_ASSIGN(Tensor x,
                random_tensor(ctx, rng, Shape{s.batch, s.seq, s.hidden}, 1.0f, MemoryTag::io));

  // Attention half of a transformer block.
  ACEFIT_ASSIGN(Tensor h, rms_norm(ctx, x, norm_w, 1e-6f));
  ACEFIT_ASSIGN(Tensor q, linear(ctx, h, wq));
  ACEFIT_ASSIGN(Tensor k, linear(ctx, h, wk));
  ACEFIT_ASSIGN(Tensor v, linear(ctx, h, wv.first, {}, wv.second));
  h = Tensor();
  ACEFIT_ASSIGN(q, q.reshape(Shape{s.batch, s.seq, s.q_heads, s.head_dim}));
  ACEFIT_ASSIGN(k, k.reshape(Shape{s.batch, s.seq, s.kv_heads, s.head_dim}));
  ACEFIT_ASSIGN(v, v.reshape(Shape{s.batch, s.seq, s.kv_heads, s.head_dim}));
  ACEFIT_ASSIGN(q, rope(ctx, q, 1e6f));
  ACEFIT_ASSIGN(k, rope(ctx, k, 1e6f));
  AttentionOptions options;
  options.mask = AttentionMask::sliding_window;
  options.window = s.window;
  ACEFIT_ASSIGN(Tensor attn, attention(ctx, q, k, v, options));
  q = k = v = Tensor();
  ACEFIT_ASSIGN(attn, attn.reshape(Shape{s.batch, s.seq, s.q_heads * s.head_dim}));
  ACEFIT_ASSIGN(Tensor proj, linear(ctx, attn, wo));
  attn = Tensor();
  ACEFIT_ASSIGN(x, add(ctx, x, proj));
  proj = Tensor();

  // MLP half.
  ACEFIT_ASSIGN(h, rms_norm(ctx, x, norm_w, 1e-6f));
  ACEFIT_ASSIGN(Tensor gate, linear(ctx, h, wg));
  ACEFIT_ASSIGN(Tensor up, linear(ctx, h, wu));
  h = Tensor();
  ACEFIT_ASSIGN(Tensor act, swiglu(ctx, gate, up));
  gate = up = Tensor();
  ACEFIT_ASSIGN(Tensor down, linear(ctx, act, wd));
  act = Tensor();
  ACEFIT_ASSIGN(x, add(ctx, x, down));
  down = Tensor();

  // A VAE-like stage over [B, C, L].
  ACEFIT_ASSIGN(Tensor channels, transpose(ctx, x, 1, 2));
  x = Tensor();
  ACEFIT_ASSIGN(Tensor c1, conv1d(ctx, channels, conv_w, conv_b, Conv1dOptions{1, 1, 1}));
  channels = Tensor();
  ACEFIT_ASSIGN(Tensor act2, snake(ctx, c1, alpha, beta));
  c1 = Tensor();
  return conv_transpose1d(ctx, act2, up_w, {}, 2, 1);
}

}  // namespace acefit::ops
