#include "ops/cpu/vec_math.h"

#include <algorithm>
#include <limits>

namespace acefit::cpu {

float exp_shifted_sum(const float* x, float* y, std::int64_t n, float shift) {
  std::int64_t i = 0;
  float sum = 0.0f;
#if ACEFIT_VEC_AVX2
  __m256 acc = _mm256_setzero_ps();
  const __m256 s = _mm256_set1_ps(shift);
  for (; i + 8 <= n; i += 8) {
    const __m256 v = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
    _mm256_storeu_ps(y + i, v);
    acc = _mm256_add_ps(acc, v);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  for (float lane : lanes) sum += lane;
#endif
  for (; i < n; ++i) {
    y[i] = std::exp(x[i] - shift);
    sum += y[i];
  }
  return sum;
}

void silu_n(const float* x, float* y, std::int64_t n) {
  std::int64_t i = 0;
#if ACEFIT_VEC_AVX2
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 e = exp_ps(_mm256_xor_ps(v, sign));  // exp(-x)
    _mm256_storeu_ps(y + i, _mm256_div_ps(v, _mm256_add_ps(one, e)));
  }
#endif
  for (; i < n; ++i) y[i] = x[i] / (1.0f + std::exp(-x[i]));
}

void swiglu_n(const float* gate, const float* up, float* y, std::int64_t n) {
  std::int64_t i = 0;
#if ACEFIT_VEC_AVX2
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = exp_ps(_mm256_xor_ps(g, sign));
    const __m256 s = _mm256_div_ps(g, _mm256_add_ps(one, e));
    _mm256_storeu_ps(y + i, _mm256_mul_ps(s, _mm256_loadu_ps(up + i)));
  }
#endif
  for (; i < n; ++i) y[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

float max_n(const float* x, std::int64_t n) {
  float best = -std::numeric_limits<float>::infinity();
  std::int64_t i = 0;
#if ACEFIT_VEC_AVX2
  if (n >= 8) {
    __m256 m = _mm256_loadu_ps(x);
    for (i = 8; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, m);
    for (float lane : lanes) best = std::max(best, lane);
  }
#endif
  for (; i < n; ++i) best = std::max(best, x[i]);
  return best;
}

}  // namespace acefit::cpu
