// SafetensorsFile::read_tensor_as: conversion on load among F32, F16 and
// BF16 against the element-wise conversions of core/dtype.h, through more
// than one staging chunk; same-dtype loads; refused pairs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/rng.h"
#include "io/safetensors/safetensors.h"
#include "io/safetensors/safetensors_writer.h"
#include "safetensors_test_util.h"

namespace acefit {
namespace {

class SafetensorsConvert : public ::testing::Test {
 protected:
  void SetUp() override {
    Rng rng(7);
    f32_.resize(kCount);
    for (float& v : f32_) v = rng.normal() * 3.0f;
    f32_[1] = INFINITY;
    f32_[2] = 1e-7f;  // subnormal in f16
    bf16_.resize(kCount);
    f16_.resize(kCount);
    for (std::size_t i = 0; i < kCount; ++i) {
      bf16_[i] = f32_to_bf16(f32_[i]);
      f16_[i] = f32_to_f16(f32_[i]);
    }
    const std::int32_t ints[] = {1, -2, 3};
    const std::uint8_t bytes[] = {1, 2};
    const std::vector<SafetensorsEntry> entries = {
        {"f32", SafetensorsDtype::f32, {kCount}, std::as_bytes(std::span(f32_))},
        {"bf16", SafetensorsDtype::bf16, {kCount}, std::as_bytes(std::span(bf16_))},
        {"f16", SafetensorsDtype::f16, {kCount}, std::as_bytes(std::span(f16_))},
        {"i32", SafetensorsDtype::i32, {3}, std::as_bytes(std::span(ints))},
        {"u8", SafetensorsDtype::u8, {2}, std::as_bytes(std::span(bytes))},
    };
    path_ = dir_.path() + "/c.safetensors";
    ASSERT_TRUE(write_safetensors(path_, entries).ok());
    auto file = open_safetensors(path_);
    ASSERT_TRUE(file.ok()) << file.status().to_string();
    file_ = std::make_unique<SafetensorsFile>(std::move(file).value());
  }

  // 600k elements: more than one 1 MiB staging chunk for every source dtype.
  static constexpr std::uint64_t kCount = 600'000;
  testing::TempDir dir_;
  std::string path_;
  std::vector<float> f32_;
  std::vector<std::uint16_t> bf16_, f16_;
  std::unique_ptr<SafetensorsFile> file_;
};

TEST_F(SafetensorsConvert, FloatPairsMatchElementwiseConversion) {
  std::vector<float> as_f32(kCount);
  ASSERT_TRUE(
      file_->read_tensor_as("bf16", DType::f32, std::as_writable_bytes(std::span(as_f32))).ok());
  for (std::size_t i = 0; i < kCount; ++i) ASSERT_EQ(as_f32[i], bf16_to_f32(bf16_[i])) << i;
  ASSERT_TRUE(
      file_->read_tensor_as("f16", DType::f32, std::as_writable_bytes(std::span(as_f32))).ok());
  for (std::size_t i = 0; i < kCount; ++i) ASSERT_EQ(as_f32[i], f16_to_f32(f16_[i])) << i;

  std::vector<std::uint16_t> half(kCount);
  ASSERT_TRUE(
      file_->read_tensor_as("f32", DType::bf16, std::as_writable_bytes(std::span(half))).ok());
  EXPECT_EQ(half, bf16_);
  ASSERT_TRUE(
      file_->read_tensor_as("f32", DType::f16, std::as_writable_bytes(std::span(half))).ok());
  EXPECT_EQ(half, f16_);
  ASSERT_TRUE(
      file_->read_tensor_as("bf16", DType::bf16, std::as_writable_bytes(std::span(half))).ok());
  EXPECT_EQ(half, bf16_);
}

TEST_F(SafetensorsConvert, IntegersLoadOnlyAsThemselves) {
  std::int32_t ints[3] = {};
  ASSERT_TRUE(
      file_->read_tensor_as("i32", DType::i32, std::as_writable_bytes(std::span(ints))).ok());
  EXPECT_EQ(ints[1], -2);
  float floats[3];
  const Status status =
      file_->read_tensor_as("i32", DType::f32, std::as_writable_bytes(std::span(floats)));
  EXPECT_EQ(safetensors_error_code(status), "unsupported_dtype") << status.to_string();
  float two[2];
  EXPECT_EQ(safetensors_error_code(
                file_->read_tensor_as("u8", DType::f32, std::as_writable_bytes(std::span(two)))),
            "unsupported_dtype");
}

TEST_F(SafetensorsConvert, DestinationSizeAndNamesAreChecked) {
  std::vector<float> short_buffer(kCount - 1);
  EXPECT_EQ(
      file_->read_tensor_as("bf16", DType::f32, std::as_writable_bytes(std::span(short_buffer)))
          .code(),
      ErrorCode::invalid_argument);
  EXPECT_EQ(file_->read_tensor_as("nope", DType::f32, {}).code(), ErrorCode::not_found);
}

}  // namespace
}  // namespace acefit
