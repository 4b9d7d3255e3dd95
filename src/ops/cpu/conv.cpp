// 1-D convolutions as GEMMs.
// conv1d: per batch item and block of output columns, im2col gathers
//   col[(ci, kk), t] = x[ci, t*stride - padding + kk*dilation] (0 outside),
//   then y[:, block] = W[Cout, Cin*K] col (+ bias).
// conv_transpose1d: cols[(co, kk), t] = sum_ci W[ci, co, kk] x[ci, t] by one
//   sgemm per block, then each (co, kk, t) lands on y[co, t*stride - padding + kk].
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/cpu/blas.h"
#include "ops/cpu/cpu_kernels.h"

namespace acefit::cpu {

namespace {
constexpr i64 kWorkspaceFloats = i64{1} << 21;  // 8 MiB
}

i64 conv1d_block_columns(const Conv1dShape& s) {
  const i64 rows = std::max<i64>(1, s.in_channels * s.kernel);
  return std::max<i64>(1, std::min(s.out_length, std::max<i64>(64, kWorkspaceFloats / rows)));
}

void conv1d(ThreadPool& pool, const Conv1dShape& s, const float* x, const float* w,
            const float* bias, float* y, float* workspace) {
  const i64 rows = s.in_channels * s.kernel;
  const i64 block = conv1d_block_columns(s);
  const bool direct = s.kernel == 1 && s.stride == 1 && s.padding == 0;
  for (i64 b = 0; b < s.batch; ++b) {
    const float* xb = x + b * s.in_channels * s.length;
    float* yb = y + b * s.out_channels * s.out_length;
    for (i64 t0 = 0; t0 < s.out_length; t0 += block) {
      const i64 cols = std::min(block, s.out_length - t0);
      const float* rhs = xb + t0;
      i64 ld = s.length;
      if (!direct) {
        pool.parallel_for(rows, 4, [&](i64 r0, i64 r1) {
          for (i64 r = r0; r < r1; ++r) {
            const i64 ci = r / s.kernel;
            const i64 kk = r % s.kernel;
            const float* src = xb + ci * s.length;
            float* dst = workspace + r * cols;
            for (i64 t = 0; t < cols; ++t) {
              const i64 pos = (t0 + t) * s.stride - s.padding + kk * s.dilation;
              dst[t] = (pos >= 0 && pos < s.length) ? src[pos] : 0.0f;
            }
          }
        });
        rhs = workspace;
        ld = cols;
      }
      sgemm(pool, false, false, s.out_channels, cols, rows, 1.0f, w, rows, rhs, ld, 0.0f, yb + t0,
            s.out_length);
    }
    if (bias != nullptr) {
      pool.parallel_for(s.out_channels, 4, [&](i64 c0, i64 c1) {
        for (i64 c = c0; c < c1; ++c) {
          float* row = yb + c * s.out_length;
          for (i64 t = 0; t < s.out_length; ++t) row[t] += bias[c];
        }
      });
    }
  }
}

i64 conv_transpose1d_block_columns(const Conv1dShape& s) {
  const i64 rows = std::max<i64>(1, s.out_channels * s.kernel);
  return std::max<i64>(1, std::min(s.length, std::max<i64>(64, kWorkspaceFloats / rows)));
}

void conv_transpose1d(ThreadPool& pool, const Conv1dShape& s, const float* x, const float* w,
                      const float* bias, float* y, float* workspace) {
  const i64 rows = s.out_channels * s.kernel;
  const i64 block = conv_transpose1d_block_columns(s);
  for (i64 b = 0; b < s.batch; ++b) {
    const float* xb = x + b * s.in_channels * s.length;
    float* yb = y + b * s.out_channels * s.out_length;
    pool.parallel_for(s.out_channels, 4, [&](i64 c0, i64 c1) {
      for (i64 c = c0; c < c1; ++c)
        std::fill(yb + c * s.out_length, yb + (c + 1) * s.out_length, bias ? bias[c] : 0.0f);
    });
    for (i64 t0 = 0; t0 < s.length; t0 += block) {
      const i64 cols = std::min(block, s.length - t0);
      // W is stored [Cin, Cout*K]: cols = W^T x[:, t0:t0+cols].
      sgemm(pool, true, false, rows, cols, s.in_channels, 1.0f, w, rows, xb + t0, s.length, 0.0f,
            workspace, cols);
      pool.parallel_for(s.out_channels, 1, [&](i64 c0, i64 c1) {
        for (i64 c = c0; c < c1; ++c) {
          float* out = yb + c * s.out_length;
          for (i64 kk = 0; kk < s.kernel; ++kk) {
            const float* src = workspace + (c * s.kernel + kk) * cols;
            for (i64 t = 0; t < cols; ++t) {
              const i64 pos = (t0 + t) * s.stride - s.padding + kk * s.dilation;
              if (pos >= 0 && pos < s.out_length) out[pos] += src[t];
            }
          }
        }
      });
    }
  }
}

void snake(ThreadPool& pool, const float* x, const float* alpha, const float* beta, float* y,
           i64 batch, i64 channels, i64 length, bool log_scale) {
  pool.parallel_for(batch * channels, 1, [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; ++r) {
      const i64 c = r % channels;
      const float a = log_scale ? std::exp(alpha[c]) : alpha[c];
      const float bb = log_scale ? std::exp(beta[c]) : beta[c];
      const float inv = 1.0f / (bb + 1e-9f);
      const float* src = x + r * length;
      float* dst = y + r * length;
      for (i64 t = 0; t < length; ++t) {
        const float sv = std::sin(a * src[t]);
        dst[t] = src[t] + inv * sv * sv;
      }
    }
  });
}

void weight_norm(ThreadPool& pool, const float* g, const float* v, float* w, i64 rows, i64 cols) {
  pool.parallel_for(rows, 1, [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; ++r) {
      const float* src = v + r * cols;
      double sum = 0.0;
      for (i64 j = 0; j < cols; ++j)
        sum += static_cast<double>(src[j]) * static_cast<double>(src[j]);
      const double norm = std::sqrt(sum);
      const float factor = norm > 0.0 ? static_cast<float>(static_cast<double>(g[r]) / norm) : 0.0f;
      for (i64 j = 0; j < cols; ++j) w[r * cols + j] = src[j] * factor;
    }
  });
}

}  // namespace acefit::cpu
