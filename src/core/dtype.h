// Element types and the scalar conversions between them.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace acefit {

enum class DType : int { f32 = 0, f16, bf16, i8, i32, i64 };

constexpr std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return 4;
    case DType::f16:
      return 2;
    case DType::bf16:
      return 2;
    case DType::i8:
      return 1;
    case DType::i32:
      return 4;
    case DType::i64:
      return 8;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "f32";
    case DType::f16:
      return "f16";
    case DType::bf16:
      return "bf16";
    case DType::i8:
      return "i8";
    case DType::i32:
      return "i32";
    case DType::i64:
      return "i64";
  }
  return "unknown";
}

std::optional<DType> parse_dtype(std::string_view name);

// bf16 is the upper half of an IEEE f32. Rounding is to nearest even; NaN
// stays NaN (quiet).
inline std::uint16_t f32_to_bf16(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) {
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
  }
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>(bits >> 16);
}

inline float bf16_to_f32(std::uint16_t value) {
  std::uint32_t bits = static_cast<std::uint32_t>(value) << 16;
  float result;
  std::memcpy(&result, &bits, 4);
  return result;
}

// IEEE binary16, round to nearest even, with subnormals, inf and NaN.
std::uint16_t f32_to_f16(float value);
float f16_to_f32(std::uint16_t value);

// Bulk conversions to f32 (the CPU kernels' working type).
void bf16_to_f32_n(const std::uint16_t* src, float* dst, std::size_t count);
void f16_to_f32_n(const std::uint16_t* src, float* dst, std::size_t count);
void f32_to_bf16_n(const float* src, std::uint16_t* dst, std::size_t count);

}  // namespace acefit
