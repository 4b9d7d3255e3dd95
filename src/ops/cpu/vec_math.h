// Vectorised elementwise math for the CPU kernels (AVX2 + FMA when the build
// targets it, scalar otherwise). exp is a Cephes-style range reduction with a
// degree-6 polynomial: relative error below 2e-7 over the float range.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define ACEFIT_VEC_AVX2 1
#endif

namespace acefit::cpu {

#if ACEFIT_VEC_AVX2
inline __m256 exp_ps(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f);
  const __m256 lo = _mm256_set1_ps(-88.3762626647949f);
  x = _mm256_max_ps(_mm256_min_ps(x, hi), lo);
  // n = round(x / ln2); r = x - n ln2 (in two parts for accuracy).
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
#endif

// y[i] = exp(x[i] - shift); returns the sum of y.
float exp_shifted_sum(const float* x, float* y, std::int64_t n, float shift);
// y[i] = x[i] * sigmoid(x[i]).
void silu_n(const float* x, float* y, std::int64_t n);
// y[i] = silu(gate[i]) * up[i].
void swiglu_n(const float* gate, const float* up, float* y, std::int64_t n);
// max over x[0..n).
float max_n(const float* x, std::int64_t n);

}  // namespace acefit::cpu
