// contiguous, transpose, slice, concat, pad, cast and embedding.
#include "ops/layout.h"
#include "core/dtype.h"
#include "test_support.h"

namespace acefit {
namespace {

class LayoutTest : public testing::DeviceTest {};
ACEFIT_DEVICE_TEST_SUITE(LayoutTest);

std::vector<float> iota(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i);
  return v;
}

TEST_P(LayoutTest, TransposeAndContiguous) {
  Tensor x = up(iota(24), Shape{2, 3, 4});
  Tensor t = testing::unwrap(ops::transpose(ctx(), x, 0, 2));
  EXPECT_EQ(t.shape(), (Shape{4, 3, 2}));
  EXPECT_TRUE(t.is_contiguous());
  std::vector<double> ref;
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 2; ++c) ref.push_back(c * 12 + b * 4 + a);
  testing::expect_close(testing::download(t), ref, 0, 0, "transpose(0, 2)");
  Tensor view = testing::unwrap(x.transpose(1, 2));
  Tensor c = testing::unwrap(ops::contiguous(ctx(), view));
  std::vector<double> ref2;
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 4; ++b)
      for (int cc = 0; cc < 3; ++cc) ref2.push_back(a * 12 + cc * 4 + b);
  testing::expect_close(testing::download(c), ref2, 0, 0, "contiguous of a transposed view");
}

TEST_P(LayoutTest, SliceConcatPad) {
  Tensor x = up(iota(24), Shape{2, 3, 4});
  Tensor s = testing::unwrap(ops::slice(ctx(), x, 1, 1, 3));
  testing::expect_close(testing::download(s),
                        {4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23}, 0, 0, "slice");
  EXPECT_EQ(testing::unwrap(ops::slice(ctx(), x, -1, 2, 2)).numel(), 0);
  EXPECT_FALSE(ops::slice(ctx(), x, 1, 2, 4).ok());
  EXPECT_FALSE(ops::slice(ctx(), x, 3, 0, 1).ok());

  Tensor a = up(iota(4), Shape{2, 2});
  Tensor b = up({10, 11, 12, 13, 14, 15}, Shape{2, 3});
  testing::expect_close(testing::download(testing::unwrap(ops::concat(ctx(), {a, b}, 1))),
                        {0, 1, 10, 11, 12, 2, 3, 13, 14, 15}, 0, 0, "concat axis 1");
  testing::expect_close(testing::download(testing::unwrap(ops::concat(ctx(), {a, a, a}, 0))),
                        {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3}, 0, 0, "concat axis 0");
  EXPECT_FALSE(ops::concat(ctx(), {a, b}, 0).ok());
  EXPECT_FALSE(ops::concat(ctx(), {}, 0).ok());

  testing::expect_close(testing::download(testing::unwrap(ops::pad(ctx(), a, 1, 1, 2))),
                        {0, 0, 1, 0, 0, 0, 2, 3, 0, 0}, 0, 0, "pad zeros");
  testing::expect_close(testing::download(testing::unwrap(ops::pad(ctx(), a, 0, 0, 1, -1.0f))),
                        {0, 1, 2, 3, -1, -1}, 0, 0, "pad value");
  EXPECT_FALSE(ops::pad(ctx(), a, 0, -1, 0).ok());
}

TEST_P(LayoutTest, CastRoundTrips) {
  const auto values = testing::random_floats(333, 3, 100.0f);
  Tensor x = up(values, Shape{333});
  for (DType narrow : {DType::bf16, DType::f16}) {
    Tensor n = testing::unwrap(ops::cast(ctx(), x, narrow));
    EXPECT_EQ(n.dtype(), narrow);
    Tensor back = testing::unwrap(ops::cast(ctx(), n, DType::f32));
    std::vector<double> ref(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      ref[i] = narrow == DType::bf16 ? bf16_to_f32(f32_to_bf16(values[i]))
                                     : f16_to_f32(f32_to_f16(values[i]));
    }
    testing::expect_close(testing::download(back), ref, 0, 0,
                          std::string(dtype_name(narrow)) + " cast");
  }
  EXPECT_FALSE(ops::cast(ctx(), x, DType::i32).ok());
}

TEST_P(LayoutTest, EmbeddingLookup) {
  const std::int64_t vocab = 11, width = 6;
  const auto table = testing::random_floats(vocab * width, 4);
  const std::vector<std::int32_t> ids32 = {3, 0, 10, 3, 7, 1};
  const std::vector<std::int64_t> ids64(ids32.begin(), ids32.end());
  std::vector<double> ref;
  for (std::int32_t id : ids32)
    for (std::int64_t j = 0; j < width; ++j) ref.push_back(table[id * width + j]);
  Tensor t = up(table, Shape{vocab, width});
  Tensor e = testing::unwrap(ops::embedding(
      ctx(), t, testing::upload_bytes(*device_, ids32.data(), DType::i32, Shape{2, 3})));
  EXPECT_EQ(e.shape(), (Shape{2, 3, width}));
  testing::expect_close(testing::download(e), ref, 0, 0, "embedding i32");
  Tensor e64 = testing::unwrap(ops::embedding(
      ctx(), t, testing::upload_bytes(*device_, ids64.data(), DType::i64, Shape{6})));
  testing::expect_close(testing::download(e64), ref, 0, 0, "embedding i64");
  Tensor tb = testing::unwrap(ops::cast(ctx(), t, DType::bf16));
  std::vector<double> ref_bf16;
  for (double v : ref) ref_bf16.push_back(bf16_to_f32(f32_to_bf16(static_cast<float>(v))));
  testing::expect_close(
      testing::download(testing::unwrap(ops::embedding(
          ctx(), tb, testing::upload_bytes(*device_, ids32.data(), DType::i32, Shape{6})))),
      ref_bf16, 0, 0, "embedding bf16 table");
  const std::vector<std::int32_t> bad = {2, 11};
  const Status out_of_range =
      ops::embedding(ctx(), t, testing::upload_bytes(*device_, bad.data(), DType::i32, Shape{2}))
          .status();
  EXPECT_EQ(out_of_range.code(), ErrorCode::invalid_argument);
  EXPECT_NE(out_of_range.message().find("id 11"), std::string::npos);
  const std::vector<std::int32_t> negative = {-1};
  EXPECT_FALSE(ops::embedding(
                   ctx(), t, testing::upload_bytes(*device_, negative.data(), DType::i32, Shape{1}))
                   .ok());
  EXPECT_FALSE(ops::embedding(ctx(), t, up({1.0f}, Shape{1})).ok());
}

}  // namespace
}  // namespace acefit
