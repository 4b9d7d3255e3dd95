#include "core/dtype.h"

#include <cmath>

#if defined(__F16C__) && defined(__AVX2__)
#include <immintrin.h>
#endif

namespace acefit {

std::optional<DType> parse_dtype(std::string_view name) {
  for (DType dtype : {DType::f32, DType::f16, DType::bf16, DType::i8, DType::i32, DType::i64}) {
    if (dtype_name(dtype) == name) return dtype;
  }
  return std::nullopt;
}

std::uint16_t f32_to_f16(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, 4);
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  const std::uint32_t abs_bits = bits & 0x7fffffffu;
  if (abs_bits >= 0x7f800000u) {  // inf or NaN
    const bool nan = abs_bits > 0x7f800000u;
    return static_cast<std::uint16_t>(sign | 0x7c00u | (nan ? 0x0200u : 0u));
  }
  if (abs_bits >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // overflow
  if (abs_bits < 0x38800000u) {
    // Subnormal or zero in f16: value = abs / 2^-24, rounded to nearest even.
    float abs_value;
    std::memcpy(&abs_value, &abs_bits, 4);
    const float scaled = abs_value * 16777216.0f;  // 2^24
    const auto rounded = static_cast<std::uint32_t>(std::nearbyint(scaled));
    return static_cast<std::uint16_t>(sign | rounded);
  }
  // Normal: rebias the exponent (127 -> 15) and round the mantissa to 10 bits.
  std::uint32_t rebased = abs_bits - 0x38000000u;
  rebased += 0x0fffu + ((rebased >> 13) & 1u);
  return static_cast<std::uint16_t>(sign | (rebased >> 13));
}

float f16_to_f32(std::uint16_t value) {
  const std::uint32_t sign = (static_cast<std::uint32_t>(value) & 0x8000u) << 16;
  const std::uint32_t exponent = (value >> 10) & 0x1fu;
  const std::uint32_t mantissa = value & 0x3ffu;
  std::uint32_t bits;
  if (exponent == 0) {
    const float magnitude = static_cast<float>(mantissa) / 16777216.0f;
    std::memcpy(&bits, &magnitude, 4);
    bits |= sign;
  } else if (exponent == 31) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  }
  float result;
  std::memcpy(&result, &bits, 4);
  return result;
}

void bf16_to_f32_n(const std::uint16_t* src, float* dst, std::size_t count) {
  std::size_t i = 0;
#if defined(__AVX2__)
  for (; i + 8 <= count; i += 8) {
    const __m128i half = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m256i wide = _mm256_slli_epi32(_mm256_cvtepu16_epi32(half), 16);
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(wide));
  }
#endif
  for (; i < count; ++i) dst[i] = bf16_to_f32(src[i]);
}

void f16_to_f32_n(const std::uint16_t* src, float* dst, std::size_t count) {
  std::size_t i = 0;
#if defined(__F16C__) && defined(__AVX2__)
  for (; i + 8 <= count; i += 8) {
    const __m128i half = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(half));
  }
#endif
  for (; i < count; ++i) dst[i] = f16_to_f32(src[i]);
}

void f32_to_bf16_n(const float* src, std::uint16_t* dst, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) dst[i] = f32_to_bf16(src[i]);
}

}  // namespace acefit
