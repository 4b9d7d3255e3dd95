// Per-item modulation kernels: one task per (item, block of rows).
#include "ops/cpu/cpu_kernels.h"

namespace acefit::cpu {

void modulate(ThreadPool& pool, const float* x, const float* shift, const float* scale, float* y,
              i64 batch, i64 seq, i64 channels) {
  pool.parallel_for(batch * seq, 16, [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; ++r) {
      const i64 b = r / seq;
      const float* sh = shift + b * channels;
      const float* sc = scale + b * channels;
      const float* src = x + r * channels;
      float* dst = y + r * channels;
      for (i64 c = 0; c < channels; ++c) dst[c] = src[c] * (1.0f + sc[c]) + sh[c];
    }
  });
}

void gated_add(ThreadPool& pool, const float* x, const float* update, const float* gate, float* y,
               i64 batch, i64 seq, i64 channels) {
  pool.parallel_for(batch * seq, 16, [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; ++r) {
      const float* g = gate + (r / seq) * channels;
      const float* a = x + r * channels;
      const float* u = update + r * channels;
      float* dst = y + r * channels;
      for (i64 c = 0; c < channels; ++c) dst[c] = a[c] + g[c] * u[c];
    }
  });
}

}  // namespace acefit::cpu
