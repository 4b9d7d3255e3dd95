// Linear layers: f32 weights go straight to sgemm; bf16 and int8 weights are
// widened to f32 a block of output rows at a time (the block sized so the
// converted rows stay near 8 MiB) and each block is one sgemm into the
// output's columns.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "ops/cpu/blas.h"
#include "ops/cpu/cpu_kernels.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace acefit::cpu {

namespace {

constexpr i64 kBlockFloats = i64{2} << 20;  // 8 MiB of f32

// y[:, n0:n0+nb] (row stride n) gets bias and per-column scale applied.
void finish_columns(ThreadPool& pool, float* y, i64 m, i64 n, i64 n0, i64 nb, const float* scale,
                    const float* bias) {
  if (scale == nullptr && bias == nullptr) return;
  pool.parallel_for(m, 16, [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; ++r) {
      float* row = y + r * n + n0;
      if (scale != nullptr && bias != nullptr) {
        for (i64 j = 0; j < nb; ++j) row[j] = row[j] * scale[n0 + j] + bias[n0 + j];
      } else if (scale != nullptr) {
        for (i64 j = 0; j < nb; ++j) row[j] *= scale[n0 + j];
      } else {
        for (i64 j = 0; j < nb; ++j) row[j] += bias[n0 + j];
      }
    }
  });
}

void widen_i8(const std::int8_t* src, float* dst, i64 count) {
  i64 i = 0;
#if defined(__AVX2__)
  for (; i + 16 <= count; i += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m256i lo = _mm256_cvtepi8_epi32(bytes);
    const __m256i hi = _mm256_cvtepi8_epi32(_mm_srli_si128(bytes, 8));
    _mm256_storeu_ps(dst + i, _mm256_cvtepi32_ps(lo));
    _mm256_storeu_ps(dst + i + 8, _mm256_cvtepi32_ps(hi));
  }
#endif
  for (; i < count; ++i) dst[i] = static_cast<float>(src[i]);
}

// Widen rows [n0, n0+nb) of a narrow weight into workspace, then one sgemm.
template <typename Widen>
void linear_blocked(ThreadPool& pool, const float* x, float* y, i64 m, i64 n, i64 k,
                    float* workspace, const float* scale, const float* bias, Widen widen_rows) {
  const i64 block = linear_block_rows(n, k);
  for (i64 n0 = 0; n0 < n; n0 += block) {
    const i64 nb = std::min(block, n - n0);
    pool.parallel_for(nb, 8,
                      [&](i64 r0, i64 r1) { widen_rows(n0 + r0, r1 - r0, workspace + r0 * k); });
    sgemm(pool, false, true, m, nb, k, 1.0f, x, k, workspace, k, 0.0f, y + n0, n);
    finish_columns(pool, y, m, n, n0, nb, scale, bias);
  }
}

}  // namespace

i64 linear_block_rows(i64 n, i64 k) {
  if (k <= 0) return std::max<i64>(n, 1);
  const i64 rows = std::max<i64>(16, kBlockFloats / k);
  return std::max<i64>(1, std::min(n, rows));
}

void linear_f32(ThreadPool& pool, const float* x, const float* w, const float* bias, float* y,
                i64 m, i64 n, i64 k) {
  if (k == 0) {
    for (i64 r = 0; r < m; ++r) {
      for (i64 j = 0; j < n; ++j) y[r * n + j] = bias ? bias[j] : 0.0f;
    }
    return;
  }
  sgemm(pool, false, true, m, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
  finish_columns(pool, y, m, n, 0, n, nullptr, bias);
}

void linear_bf16(ThreadPool& pool, const float* x, const std::uint16_t* w, const float* bias,
                 float* y, i64 m, i64 n, i64 k, float* workspace) {
  if (k == 0) return linear_f32(pool, x, nullptr, bias, y, m, n, k);
  linear_blocked(pool, x, y, m, n, k, workspace, nullptr, bias, [&](i64 row, i64 rows, float* dst) {
    bf16_to_f32_n(w + row * k, dst, static_cast<std::size_t>(rows * k));
  });
}

void linear_i8(ThreadPool& pool, const float* x, const std::int8_t* w, const float* scale,
               const float* bias, float* y, i64 m, i64 n, i64 k, float* workspace) {
  if (k == 0) return linear_f32(pool, x, nullptr, bias, y, m, n, k);
  linear_blocked(pool, x, y, m, n, k, workspace, scale, bias,
                 [&](i64 row, i64 rows, float* dst) { widen_i8(w + row * k, dst, rows * k); });
}

void quantize_rows_i8(ThreadPool& pool, const float* w, std::int8_t* q, float* scale, i64 rows,
                      i64 cols) {
  pool.parallel_for(rows, 4, [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; ++r) {
      const float* src = w + r * cols;
      float peak = 0.0f;
      for (i64 j = 0; j < cols; ++j) peak = std::max(peak, std::fabs(src[j]));
      const float s = peak > 0.0f ? peak / 127.0f : 1.0f;
      scale[r] = s;
      const float inv = 1.0f / s;
      for (i64 j = 0; j < cols; ++j) {
        const float v = std::nearbyint(src[j] * inv);
        q[r * cols + j] = static_cast<std::int8_t>(std::clamp(v, -127.0f, 127.0f));
      }
    }
  });
}

}  // namespace acefit::cpu
