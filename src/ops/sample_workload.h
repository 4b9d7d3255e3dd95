// A small multi-op workload shaped like one DiT block followed by a VAE
// stage: RMSNorm, f32/bf16/int8 linears, RoPE, sliding-window GQA
// attention, residual adds, SwiGLU MLP, conv1d, snake and a transposed conv.
// The self-check and the memory tests run it on real and planning devices:
// its planned peak must equal its measured peak.
#pragma once

#include <cstdint>

#include "ops/op_context.h"

namespace acefit::ops {

struct SampleWorkloadShape {
  std::int64_t batch = 2;
  std::int64_t seq = 48;
  std::int64_t hidden = 64;
  std::int64_t q_heads = 4;
  std::int64_t kv_heads = 2;
  std::int64_t head_dim = 16;
  std::int64_t mlp = 96;
  std::int64_t window = 8;
};

// Weights and input come from `seed`; everything lives on ctx.device.
// Returns the final activation [batch, hidden / 2, 2 * seq].
Expected<Tensor> run_sample_workload(const OpContext& ctx, const SampleWorkloadShape& shape,
                                     std::uint64_t seed);

}  // namespace acefit::ops
