// Row-wise and elementwise kernels: RMSNorm, RoPE, activations, softmax,
// add/mul/scale.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/cpu/cpu_kernels.h"
#include "ops/cpu/vec_math.h"

namespace acefit::cpu {

namespace {
constexpr i64 kElementGrain = 1 << 14;
}

void rms_norm(ThreadPool& pool, const float* x, const float* w, float* y, i64 rows, i64 cols,
              float eps) {
  pool.parallel_for(rows, 4, [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; ++r) {
      const float* src = x + r * cols;
      float* dst = y + r * cols;
      double sum = 0.0;
      for (i64 j = 0; j < cols; ++j)
        sum += static_cast<double>(src[j]) * static_cast<double>(src[j]);
      const float inv = static_cast<float>(
          1.0 / std::sqrt(sum / static_cast<double>(cols) + static_cast<double>(eps)));
      if (w != nullptr) {
        for (i64 j = 0; j < cols; ++j) dst[j] = src[j] * inv * w[j];
      } else {
        for (i64 j = 0; j < cols; ++j) dst[j] = src[j] * inv;
      }
    }
  });
}

void rope(ThreadPool& pool, const float* x, float* y, i64 batch, i64 seq, i64 heads, i64 dim,
          float theta, i64 offset) {
  const i64 half = dim / 2;
  std::vector<double> inv_freq(static_cast<std::size_t>(half));
  for (i64 i = 0; i < half; ++i) {
    inv_freq[static_cast<std::size_t>(i)] = std::pow(
        static_cast<double>(theta), -2.0 * static_cast<double>(i) / static_cast<double>(dim));
  }
  pool.parallel_for(batch * seq, 4, [&](i64 t0, i64 t1) {
    std::vector<float> cos_v(static_cast<std::size_t>(half)), sin_v(static_cast<std::size_t>(half));
    for (i64 t = t0; t < t1; ++t) {
      const double p = static_cast<double>(offset + t % seq);
      for (i64 i = 0; i < half; ++i) {
        // Angles in f32 as the reference computes them (positions * inv_freq).
        const float angle =
            static_cast<float>(p) * static_cast<float>(inv_freq[static_cast<std::size_t>(i)]);
        cos_v[static_cast<std::size_t>(i)] = std::cos(angle);
        sin_v[static_cast<std::size_t>(i)] = std::sin(angle);
      }
      for (i64 h = 0; h < heads; ++h) {
        const float* src = x + (t * heads + h) * dim;
        float* dst = y + (t * heads + h) * dim;
        for (i64 i = 0; i < half; ++i) {
          const float c = cos_v[static_cast<std::size_t>(i)];
          const float s = sin_v[static_cast<std::size_t>(i)];
          const float x1 = src[i];
          const float x2 = src[i + half];
          dst[i] = x1 * c - x2 * s;
          dst[i + half] = x2 * c + x1 * s;
        }
      }
    }
  });
}

void silu(ThreadPool& pool, const float* x, float* y, i64 n) {
  pool.parallel_for(n, kElementGrain, [&](i64 a, i64 b) { silu_n(x + a, y + a, b - a); });
}

void swiglu(ThreadPool& pool, const float* gate, const float* up, float* y, i64 n) {
  pool.parallel_for(n, kElementGrain,
                    [&](i64 a, i64 b) { swiglu_n(gate + a, up + a, y + a, b - a); });
}

void gelu(ThreadPool& pool, const float* x, float* y, i64 n, bool tanh_approximation) {
  pool.parallel_for(n, kElementGrain, [&](i64 a, i64 b) {
    if (tanh_approximation) {
      constexpr float kAlpha = 0.7978845608028654f;  // sqrt(2/pi)
      for (i64 i = a; i < b; ++i) {
        const float v = x[i];
        y[i] = 0.5f * v * (1.0f + std::tanh(kAlpha * (v + 0.044715f * v * v * v)));
      }
    } else {
      for (i64 i = a; i < b; ++i)
        y[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.7071067811865476f));
    }
  });
}

void softmax(ThreadPool& pool, const float* x, float* y, i64 rows, i64 cols) {
  pool.parallel_for(rows, 4, [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; ++r) {
      const float* src = x + r * cols;
      float* dst = y + r * cols;
      const float peak = max_n(src, cols);
      const float inv = 1.0f / exp_shifted_sum(src, dst, cols, peak);
      for (i64 j = 0; j < cols; ++j) dst[j] *= inv;
    }
  });
}

namespace {

// y = f(a, b) where b repeats every b_n elements of a.
template <typename F>
void broadcast_binary(ThreadPool& pool, const float* a, const float* b, float* y, i64 n, i64 b_n,
                      F f) {
  const i64 rows = n / b_n;
  const i64 grain = std::max<i64>(1, kElementGrain / std::max<i64>(1, b_n));
  pool.parallel_for(rows, grain, [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; ++r) {
      const float* ar = a + r * b_n;
      float* yr = y + r * b_n;
      for (i64 j = 0; j < b_n; ++j) yr[j] = f(ar[j], b[j]);
    }
  });
}

}  // namespace

void add(ThreadPool& pool, const float* a, const float* b, float* y, i64 n, i64 b_n) {
  if (b_n == n) {
    pool.parallel_for(n, kElementGrain, [&](i64 s, i64 e) {
      for (i64 i = s; i < e; ++i) y[i] = a[i] + b[i];
    });
    return;
  }
  broadcast_binary(pool, a, b, y, n, b_n, [](float u, float w) { return u + w; });
}

void mul(ThreadPool& pool, const float* a, const float* b, float* y, i64 n, i64 b_n) {
  if (b_n == n) {
    pool.parallel_for(n, kElementGrain, [&](i64 s, i64 e) {
      for (i64 i = s; i < e; ++i) y[i] = a[i] * b[i];
    });
    return;
  }
  broadcast_binary(pool, a, b, y, n, b_n, [](float u, float w) { return u * w; });
}

void scale(ThreadPool& pool, const float* x, float factor, float* y, i64 n) {
  pool.parallel_for(n, kElementGrain, [&](i64 s, i64 e) {
    for (i64 i = s; i < e; ++i) y[i] = x[i] * factor;
  });
}

}  // namespace acefit::cpu
