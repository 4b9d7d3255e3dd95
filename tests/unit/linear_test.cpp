// linear (f32, bf16, int8 weights), quantize_int8 and matmul against naive
// double-precision references.
#include <cmath>

#include "core/dtype.h"
#include "ops/layout.h"
#include "ops/linear.h"
#include "test_support.h"

namespace acefit {
namespace {

using testing::DeviceTest;

// y = x W^T + b in double, W given as float values.
std::vector<double> naive_linear(const std::vector<float>& x, const std::vector<float>& w,
                                 const std::vector<float>* b, std::int64_t m, std::int64_t n,
                                 std::int64_t k) {
  std::vector<double> y(static_cast<std::size_t>(m * n));
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double s = b ? (*b)[static_cast<std::size_t>(j)] : 0.0;
      for (std::int64_t p = 0; p < k; ++p) s += static_cast<double>(x[i * k + p]) * w[j * k + p];
      y[static_cast<std::size_t>(i * n + j)] = s;
    }
  }
  return y;
}

class LinearTest : public DeviceTest {};
ACEFIT_DEVICE_TEST_SUITE(LinearTest);

struct GemmCase {
  std::int64_t m, n, k;
};

TEST_P(LinearTest, F32MatchesNaive) {
  for (const GemmCase c :
       {GemmCase{1, 1, 1}, {3, 5, 7}, {17, 9, 33}, {64, 48, 130}, {1, 300, 2}, {129, 1, 65}}) {
    const auto xs = testing::random_floats(c.m * c.k, 1), ws = testing::random_floats(c.n * c.k, 2),
               bs = testing::random_floats(c.n, 3);
    Tensor y = testing::unwrap(
        ops::linear(ctx(), up(xs, Shape{c.m, c.k}), up(ws, Shape{c.n, c.k}), up(bs, Shape{c.n})));
    EXPECT_EQ(y.shape(), (Shape{c.m, c.n}));
    testing::expect_close(testing::download(y), naive_linear(xs, ws, &bs, c.m, c.n, c.k), 1e-4,
                          1e-4, "f32 linear");
  }
}

TEST_P(LinearTest, LeadingDimsAreFlattened) {
  const auto xs = testing::random_floats(2 * 3 * 5, 4), ws = testing::random_floats(4 * 5, 5);
  Tensor y = testing::unwrap(ops::linear(ctx(), up(xs, Shape{2, 3, 5}), up(ws, Shape{4, 5})));
  EXPECT_EQ(y.shape(), (Shape{2, 3, 4}));
  testing::expect_close(testing::download(y), naive_linear(xs, ws, nullptr, 6, 4, 5), 1e-5, 1e-5,
                        "3-D x");
}

TEST_P(LinearTest, Bf16WeightsMatchTheirRoundedValues) {
  // Several blocks of rows: N larger than the conversion block for this K.
  for (const GemmCase c : {GemmCase{5, 3, 9}, {7, 1100, 2048}, {2, 40, 31}}) {
    const auto xs = testing::random_floats(c.m * c.k, 6), ws = testing::random_floats(c.n * c.k, 7),
               bs = testing::random_floats(c.n, 8);
    std::vector<std::uint16_t> narrow(ws.size());
    std::vector<float> rounded(ws.size());
    for (std::size_t i = 0; i < ws.size(); ++i) {
      narrow[i] = f32_to_bf16(ws[i]);
      rounded[i] = bf16_to_f32(narrow[i]);
    }
    Tensor w = testing::upload_bytes(*device_, narrow.data(), DType::bf16, Shape{c.n, c.k});
    Tensor y = testing::unwrap(ops::linear(ctx(), up(xs, Shape{c.m, c.k}), w, up(bs, Shape{c.n})));
    const double tol = 1e-4 * std::sqrt(static_cast<double>(c.k));
    testing::expect_close(testing::download(y), naive_linear(xs, rounded, &bs, c.m, c.n, c.k), tol,
                          1e-4, "bf16 linear");
  }
}

TEST_P(LinearTest, Int8WeightsMatchTheirDequantizedValues) {
  for (const GemmCase c : {GemmCase{4, 6, 10}, {3, 1030, 2048}, {9, 17, 1}}) {
    const auto xs = testing::random_floats(c.m * c.k, 9),
               ws = testing::random_floats(c.n * c.k, 10, 0.05f),
               bs = testing::random_floats(c.n, 11);
    auto [q, scale] = testing::unwrap(ops::quantize_int8(ctx(), up(ws, Shape{c.n, c.k})));
    EXPECT_EQ(q.dtype(), DType::i8);
    EXPECT_EQ(device_->budget().current_bytes(MemoryTag::weights),
              device_->budget().accounted_bytes(q.nbytes()) +
                  device_->budget().accounted_bytes(scale.nbytes()));
    // The quantization itself: scale = max|row| / 127, error at most scale / 2.
    std::vector<std::int8_t> qs(static_cast<std::size_t>(q.numel()));
    ASSERT_TRUE(device_->copy_to_host(qs.data(), q.raw_data(), q.nbytes()).ok());
    const auto ss = testing::download(scale);
    std::vector<float> dequant(ws.size());
    for (std::int64_t r = 0; r < c.n; ++r) {
      float peak = 0;
      for (std::int64_t j = 0; j < c.k; ++j) peak = std::max(peak, std::fabs(ws[r * c.k + j]));
      EXPECT_FLOAT_EQ(ss[static_cast<std::size_t>(r)], peak / 127.0f);
      for (std::int64_t j = 0; j < c.k; ++j) {
        const std::size_t i = static_cast<std::size_t>(r * c.k + j);
        dequant[i] = static_cast<float>(qs[i]) * ss[static_cast<std::size_t>(r)];
        ASSERT_LE(std::fabs(dequant[i] - ws[i]), ss[static_cast<std::size_t>(r)] * 0.5f + 1e-7f);
      }
    }
    Tensor y =
        testing::unwrap(ops::linear(ctx(), up(xs, Shape{c.m, c.k}), q, up(bs, Shape{c.n}), scale));
    const double tol = 1e-5 * std::sqrt(static_cast<double>(c.k));
    testing::expect_close(testing::download(y), naive_linear(xs, dequant, &bs, c.m, c.n, c.k), tol,
                          1e-4, "int8 linear");
  }
}

TEST_P(LinearTest, QuantizesBf16AndZeroRows) {
  std::vector<float> ws(2 * 8, 0.0f);
  for (int j = 0; j < 8; ++j) ws[static_cast<std::size_t>(8 + j)] = static_cast<float>(j) - 3.5f;
  Tensor w = testing::unwrap(ops::cast(ctx(), up(ws, Shape{2, 8}), DType::bf16));
  auto [q, scale] = testing::unwrap(ops::quantize_int8(ctx(), w));
  const auto ss = testing::download(scale);
  EXPECT_EQ(ss[0], 1.0f);  // an all-zero row keeps a harmless scale
  EXPECT_FLOAT_EQ(ss[1], 3.5f / 127.0f);
  std::vector<std::int8_t> qs(16);
  ASSERT_TRUE(device_->copy_to_host(qs.data(), q.raw_data(), 16).ok());
  EXPECT_EQ(qs[0], 0);
  EXPECT_EQ(qs[8], -127);
  EXPECT_EQ(qs[15], 127);
}

TEST_P(LinearTest, RejectsBadArguments) {
  Tensor x = up(testing::random_floats(6, 1), Shape{2, 3});
  Tensor w = up(testing::random_floats(12, 2), Shape{4, 3});
  EXPECT_EQ(ops::linear(ctx(), x, up(testing::random_floats(8, 3), Shape{4, 2})).status().code(),
            ErrorCode::invalid_argument);
  EXPECT_EQ(ops::linear(ctx(), x, w, up({1, 2, 3}, Shape{3})).status().code(),
            ErrorCode::invalid_argument);
  EXPECT_EQ(ops::linear(ctx(), x, w, {}, up({1, 2, 3, 4}, Shape{4})).status().code(),
            ErrorCode::invalid_argument);
  EXPECT_EQ(ops::linear(ctx(), x, Tensor()).status().code(), ErrorCode::invalid_argument);
  Tensor i8 = testing::unwrap(device_->empty(DType::i8, Shape{4, 3}, MemoryTag::weights));
  const Status no_scale = ops::linear(ctx(), x, i8).status();
  EXPECT_NE(no_scale.message().find("weight_scale"), std::string::npos);
  Tensor strided = testing::unwrap(x.transpose(0, 1));
  EXPECT_NE(ops::linear(ctx(), strided, w).status().message().find("contiguous"),
            std::string::npos);
  auto other = testing::make_test_device("cpu");
  Tensor elsewhere = testing::upload(*other, testing::random_floats(12, 2), Shape{4, 3});
  if (device_->kind() != DeviceKind::cpu) {
    EXPECT_NE(ops::linear(ctx(), x, elsewhere).status().message().find("is on device"),
              std::string::npos);
  }
}

TEST_P(LinearTest, MatmulBatchedTransposedAndShared) {
  const std::int64_t b = 3, m = 5, k = 7, n = 4;
  const auto as = testing::random_floats(b * m * k, 20), bs = testing::random_floats(b * k * n, 21);
  Tensor y = testing::unwrap(ops::matmul(ctx(), up(as, Shape{b, m, k}), up(bs, Shape{b, k, n})));
  std::vector<double> ref(static_cast<std::size_t>(b * m * n)), ref_t(ref.size()),
      ref_s(ref.size());
  for (std::int64_t z = 0; z < b; ++z) {
    for (std::int64_t i = 0; i < m; ++i) {
      for (std::int64_t j = 0; j < n; ++j) {
        double s = 0, st = 0, ss = 0;
        for (std::int64_t p = 0; p < k; ++p) {
          const double a = as[(z * m + i) * k + p];
          s += a * bs[(z * k + p) * n + j];
          st += a * bs[(z * n + j) * k + p];  // b read as [b, n, k]
          ss += a * bs[p * n + j];            // first [k, n] matrix shared
        }
        ref[static_cast<std::size_t>((z * m + i) * n + j)] = s;
        ref_t[static_cast<std::size_t>((z * m + i) * n + j)] = st;
        ref_s[static_cast<std::size_t>((z * m + i) * n + j)] = ss;
      }
    }
  }
  testing::expect_close(testing::download(y), ref, 1e-5, 1e-5, "batched matmul");
  Tensor yt =
      testing::unwrap(ops::matmul(ctx(), up(as, Shape{b, m, k}), up(bs, Shape{b, n, k}), true));
  testing::expect_close(testing::download(yt), ref_t, 1e-5, 1e-5, "matmul with transposed b");
  std::vector<float> first(bs.begin(), bs.begin() + k * n);
  Tensor ys = testing::unwrap(ops::matmul(ctx(), up(as, Shape{b, m, k}), up(first, Shape{k, n})));
  testing::expect_close(testing::download(ys), ref_s, 1e-5, 1e-5, "matmul with a shared b");
  EXPECT_FALSE(ops::matmul(ctx(), up(as, Shape{b, m, k}), up(bs, Shape{b, n, k})).ok());
  EXPECT_FALSE(ops::matmul(ctx(), up(as, Shape{b, m, k}), up(bs, Shape{1, b * k, n})).ok());
}

}  // namespace
}  // namespace acefit
