// Linear layers: f32 weights go straight to sgemm; bf16 and int8 weights are
// widened to f32 a block of output rows at a time (the block sized so the
// converted rows stay near 8 MiB) and each block is one sgemm into the
// output's columns. bf16 weights times a few rows of x (the LM's decode
// steps) take a GEMV instead: each weight row is widened in registers as it
// is read, once for all the rows of x, and the output rows are split over
// the pool. Each output is one dot product summed in a fixed order, so the
// result does not depend on the thread count.
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

#if defined(__AVX2__) && defined(__FMA__)
// 8 bf16 values -> f32 (bits << 16).
inline __m256 widen8_bf16(const std::uint16_t* src) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(raw), 16));
}

inline float sum8(__m256 v) {
  const __m128 half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 pair = _mm_add_ps(half, _mm_movehl_ps(half, half));
  return _mm_cvtss_f32(_mm_add_ss(pair, _mm_movehdup_ps(pair)));
}
#endif

// y[r, j] = x[r, :] . w[j, :] (+ bias[j]) for the M rows of x and output
// rows j in [j0, j1): each weight row is read and widened once.
template <int M>
void gemv_bf16_rows(const float* x, const std::uint16_t* w, const float* bias, float* y, i64 n,
                    i64 k, i64 j0, i64 j1) {
  for (i64 j = j0; j < j1; ++j) {
    const std::uint16_t* row = w + j * k;
    float sum[M];
    i64 p = 0;
#if defined(__AVX2__) && defined(__FMA__)
    // Four independent chains per row of x for M <= 2, two above (registers).
    constexpr int kChains = M <= 2 ? 4 : 2;
    constexpr i64 kStep = 8 * kChains;
    __m256 acc[M][kChains];
    for (int r = 0; r < M; ++r) {
      for (int c = 0; c < kChains; ++c) acc[r][c] = _mm256_setzero_ps();
    }
    for (; p + kStep <= k; p += kStep) {
      __m256 wv[kChains];
      for (int c = 0; c < kChains; ++c) wv[c] = widen8_bf16(row + p + 8 * c);
      for (int r = 0; r < M; ++r) {
        const float* xr = x + r * k + p;
        for (int c = 0; c < kChains; ++c) {
          acc[r][c] = _mm256_fmadd_ps(wv[c], _mm256_loadu_ps(xr + 8 * c), acc[r][c]);
        }
      }
    }
    for (int r = 0; r < M; ++r) {
      __m256 total = acc[r][0];
      for (int c = 1; c < kChains; ++c) total = _mm256_add_ps(total, acc[r][c]);
      sum[r] = sum8(total);
    }
#else
    for (int r = 0; r < M; ++r) sum[r] = 0.0f;
#endif
    for (; p < k; ++p) {
      const float wv = bf16_to_f32(row[p]);
      for (int r = 0; r < M; ++r) sum[r] += wv * x[r * k + p];
    }
    const float b = bias != nullptr ? bias[j] : 0.0f;
    for (int r = 0; r < M; ++r) y[r * n + j] = sum[r] + b;
  }
}

template <int M>
void gemv_bf16(ThreadPool& pool, const float* x, const std::uint16_t* w, const float* bias,
               float* y, i64 n, i64 k) {
  // At least ~64 KiB of weights a chunk, so small layers are not split.
  const i64 grain = std::max<i64>(1, (i64{32} << 10) / std::max<i64>(k, 1));
  pool.parallel_for(n, grain,
                    [&](i64 j0, i64 j1) { gemv_bf16_rows<M>(x, w, bias, y, n, k, j0, j1); });
}

}  // namespace

bool linear_bf16_few_rows(i64 m) {
  return m >= 1 && m <= kLinearFewRows;
}

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
  switch (linear_bf16_few_rows(m) ? m : 0) {
    case 1:
      return gemv_bf16<1>(pool, x, w, bias, y, n, k);
    case 2:
      return gemv_bf16<2>(pool, x, w, bias, y, n, k);
    case 3:
      return gemv_bf16<3>(pool, x, w, bias, y, n, k);
    case 4:
      return gemv_bf16<4>(pool, x, w, bias, y, n, k);
    default:
      break;
  }
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
