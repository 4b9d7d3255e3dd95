// linear (f32, bf16, int8 weights), quantize_int8 and matmul against naive
// double-precision references.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "device/planning/planning_device.h"
#include "device/vulkan/vulkan_device.h"
#include "ops/layout.h"
#include "ops/linear.h"
#include "ops/vulkan/linear_kernels.h"
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

// W rounded to bf16: the stored bits and the float values they stand for.
struct Bf16Weights {
  std::vector<std::uint16_t> narrow;
  std::vector<float> rounded;
};

Bf16Weights bf16_weights(const std::vector<float>& ws) {
  Bf16Weights out{std::vector<std::uint16_t>(ws.size()), std::vector<float>(ws.size())};
  for (std::size_t i = 0; i < ws.size(); ++i) {
    out.narrow[i] = f32_to_bf16(ws[i]);
    out.rounded[i] = bf16_to_f32(out.narrow[i]);
  }
  return out;
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
    const auto [narrow, rounded] = bf16_weights(ws);
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

// Sizes around the GPU kernels' edges: tiles of 64, and of 128 for large
// products (not multiples, one partial tile, several per dim), K slices of
// 8 and 16, K past 1000, the few-row kernel (M <= 4, 4 columns a workgroup)
// and just past it.
TEST_P(LinearTest, TileEdgesMatchNaive) {
  for (const GemmCase c : {GemmCase{65, 130, 17},
                           {70, 63, 1031},
                           {1, 7, 1500},
                           {4, 13, 129},
                           {5, 67, 33},
                           {2, 1, 3},
                           {128, 64, 16},
                           {3, 5, 0},
                           {600, 1030, 9}}) {
    const auto xs = testing::random_floats(c.m * c.k, 30),
               ws = testing::random_floats(c.n * c.k, 31), bs = testing::random_floats(c.n, 32);
    Tensor y = testing::unwrap(
        ops::linear(ctx(), up(xs, Shape{c.m, c.k}), up(ws, Shape{c.n, c.k}), up(bs, Shape{c.n})));
    const double tol = 1e-5 * std::sqrt(static_cast<double>(c.k) + 1);
    testing::expect_close(testing::download(y), naive_linear(xs, ws, &bs, c.m, c.n, c.k), tol, 1e-4,
                          "f32 linear " + std::to_string(c.m) + "x" + std::to_string(c.n) + "x" +
                              std::to_string(c.k));
  }
}

TEST_P(LinearTest, ManyRowsWithoutBias) {
  const std::int64_t m = 3 * 150, n = 40, k = 24;
  const auto xs = testing::random_floats(m * k, 33), ws = testing::random_floats(n * k, 34);
  Tensor y = testing::unwrap(ops::linear(ctx(), up(xs, Shape{3, 150, k}), up(ws, Shape{n, k})));
  EXPECT_EQ(y.shape(), (Shape{3, 150, n}));
  testing::expect_close(testing::download(y), naive_linear(xs, ws, nullptr, m, n, k), 1e-5, 1e-5,
                        "many rows");
}

TEST_P(LinearTest, NarrowWeightsAtOddK) {
  for (const GemmCase c : {GemmCase{1, 9, 1001}, {9, 70, 33}, {3, 5, 7}, {66, 3, 129}}) {
    const auto xs = testing::random_floats(c.m * c.k, 35),
               ws = testing::random_floats(c.n * c.k, 36, 0.1f),
               bs = testing::random_floats(c.n, 37);
    const auto [narrow, rounded] = bf16_weights(ws);
    Tensor w = testing::upload_bytes(*device_, narrow.data(), DType::bf16, Shape{c.n, c.k});
    const double tol = 1e-5 * std::sqrt(static_cast<double>(c.k));
    Tensor y = testing::unwrap(ops::linear(ctx(), up(xs, Shape{c.m, c.k}), w, up(bs, Shape{c.n})));
    testing::expect_close(testing::download(y), naive_linear(xs, rounded, &bs, c.m, c.n, c.k), tol,
                          1e-4, "bf16 linear at odd K");

    auto [q, scale] = testing::unwrap(ops::quantize_int8(ctx(), up(ws, Shape{c.n, c.k})));
    std::vector<std::int8_t> qs(static_cast<std::size_t>(q.numel()));
    ASSERT_TRUE(device_->copy_to_host(qs.data(), q.raw_data(), q.nbytes()).ok());
    const auto ss = testing::download(scale);
    std::vector<float> dequant(ws.size());
    for (std::size_t i = 0; i < ws.size(); ++i)
      dequant[i] = static_cast<float>(qs[i]) * ss[i / static_cast<std::size_t>(c.k)];
    Tensor yq = testing::unwrap(ops::linear(ctx(), up(xs, Shape{c.m, c.k}), q, {}, scale));
    testing::expect_close(testing::download(yq), naive_linear(xs, dequant, nullptr, c.m, c.n, c.k),
                          tol, 1e-4, "int8 linear at odd K");
  }
}

// What quantize_int8 must give, computed as the CPU does.
void expect_quantized(const std::vector<float>& ws, std::int64_t rows, std::int64_t cols,
                      const std::vector<std::int8_t>& qs, const std::vector<float>& ss) {
  int mismatches = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    float peak = 0.0f;
    for (std::int64_t j = 0; j < cols; ++j)
      peak = std::max(peak, std::fabs(ws[static_cast<std::size_t>(r * cols + j)]));
    const float s = peak > 0.0f ? peak / 127.0f : 1.0f;
    const float inv = 1.0f / s;
    std::uint32_t got_bits = 0, want_bits = 0;
    std::memcpy(&got_bits, &ss[static_cast<std::size_t>(r)], 4);
    std::memcpy(&want_bits, &s, 4);
    if (got_bits != want_bits && ++mismatches <= 5)
      ADD_FAILURE() << "scale[" << r << "] = " << ss[static_cast<std::size_t>(r)] << ", want " << s;
    for (std::int64_t j = 0; j < cols; ++j) {
      const std::size_t i = static_cast<std::size_t>(r * cols + j);
      const float v = std::clamp(std::nearbyint(ws[i] * inv), -127.0f, 127.0f);
      if (qs[i] != static_cast<std::int8_t>(v) && ++mismatches <= 5)
        ADD_FAILURE() << "q[" << r << ", " << j << "] = " << int{qs[i]} << ", want " << v;
    }
  }
  EXPECT_EQ(mismatches, 0);
}

// quantize_int8 gives the same bits on every device, from f32 and bf16: the
// scale is max|row| / 127 correctly rounded, q rounds half to even, a zero
// row keeps scale 1; rows longer than a workgroup, scales across binades.
TEST_P(LinearTest, QuantizeIsBitExact) {
  const std::int64_t rows = 300, cols = 613;
  auto ws = testing::random_floats(static_cast<std::size_t>(rows * cols), 40);
  for (std::int64_t j = 0; j < cols; ++j) ws[static_cast<std::size_t>(5 * cols + j)] = 0.0f;
  // Row 6 has scale 1: its values x.5 are ties, rounded to even.
  for (std::int64_t j = 0; j < cols; ++j) {
    ws[static_cast<std::size_t>(6 * cols + j)] = static_cast<float>(j % 254) - 127.0f + 0.5f;
  }
  ws[static_cast<std::size_t>(6 * cols)] = -127.0f;
  for (std::int64_t r = 7; r < rows; ++r) {
    const float f = std::ldexp(1.0f, static_cast<int>(r % 60) - 30);
    for (std::int64_t j = 0; j < cols; ++j) ws[static_cast<std::size_t>(r * cols + j)] *= f;
  }
  const auto [narrow, rounded] = bf16_weights(ws);
  for (const bool bf16 : {false, true}) {
    SCOPED_TRACE(bf16 ? "bf16" : "f32");
    const Tensor w =
        bf16 ? testing::upload_bytes(*device_, narrow.data(), DType::bf16, Shape{rows, cols})
             : up(ws, Shape{rows, cols});
    auto [q, scale] = testing::unwrap(ops::quantize_int8(ctx(), w));
    std::vector<std::int8_t> qs(static_cast<std::size_t>(q.numel()));
    ASSERT_TRUE(device_->copy_to_host(qs.data(), q.raw_data(), q.nbytes()).ok());
    const auto ss = testing::download(scale);
    expect_quantized(bf16 ? rounded : ws, rows, cols, qs, ss);
    EXPECT_EQ(ss[5], 1.0f);
    EXPECT_EQ(qs[static_cast<std::size_t>(6 * cols + 1)], -126);  // -125.5 -> -126
    EXPECT_EQ(qs[static_cast<std::size_t>(6 * cols + 2)], -124);  // -124.5 -> -124
  }
}

// More rows than one grid dimension holds workgroups (65535).
TEST_P(LinearTest, QuantizesManyShortRows) {
  const std::int64_t rows = 66000, cols = 3;
  const auto ws = testing::random_floats(static_cast<std::size_t>(rows * cols), 43);
  auto [q, scale] = testing::unwrap(ops::quantize_int8(ctx(), up(ws, Shape{rows, cols})));
  std::vector<std::int8_t> qs(static_cast<std::size_t>(q.numel()));
  ASSERT_TRUE(device_->copy_to_host(qs.data(), q.raw_data(), q.nbytes()).ok());
  expect_quantized(ws, rows, cols, qs, testing::download(scale));
}

// matmul past one tile in every dim, batched with a shared 2-D b, b plain and
// transposed, and with few rows (the few-row kernel reads b transposed).
TEST_P(LinearTest, MatmulTilesAndSharedB) {
  for (const GemmCase c : {GemmCase{70, 66, 37}, {2, 9, 130}, {1, 65, 17}, {260, 520, 5}}) {
    const std::int64_t z = 3;
    const auto as = testing::random_floats(z * c.m * c.k, 41),
               bs = testing::random_floats(z * c.k * c.n, 42);
    std::vector<double> ref(static_cast<std::size_t>(z * c.m * c.n)), ref_t(ref.size()),
        ref_s(ref.size()), ref_st(ref.size());
    for (std::int64_t b = 0; b < z; ++b) {
      for (std::int64_t i = 0; i < c.m; ++i) {
        for (std::int64_t j = 0; j < c.n; ++j) {
          double s = 0, st = 0, ss = 0, sst = 0;
          for (std::int64_t p = 0; p < c.k; ++p) {
            const double a = as[static_cast<std::size_t>((b * c.m + i) * c.k + p)];
            s += a * bs[static_cast<std::size_t>((b * c.k + p) * c.n + j)];
            st += a * bs[static_cast<std::size_t>((b * c.n + j) * c.k + p)];
            ss += a * bs[static_cast<std::size_t>(p * c.n + j)];
            sst += a * bs[static_cast<std::size_t>(j * c.k + p)];
          }
          const auto o = static_cast<std::size_t>((b * c.m + i) * c.n + j);
          ref[o] = s;
          ref_t[o] = st;
          ref_s[o] = ss;
          ref_st[o] = sst;
        }
      }
    }
    const Tensor a = up(as, Shape{z, c.m, c.k});
    const std::vector<float> first(bs.begin(), bs.begin() + c.k * c.n);
    const double tol = 1e-5 * std::sqrt(static_cast<double>(c.k));
    testing::expect_close(
        testing::download(testing::unwrap(ops::matmul(ctx(), a, up(bs, Shape{z, c.k, c.n})))), ref,
        tol, 1e-4, "batched matmul");
    testing::expect_close(
        testing::download(testing::unwrap(ops::matmul(ctx(), a, up(bs, Shape{z, c.n, c.k}), true))),
        ref_t, tol, 1e-4, "batched matmul, b transposed");
    testing::expect_close(
        testing::download(testing::unwrap(ops::matmul(ctx(), a, up(first, Shape{c.k, c.n})))),
        ref_s, tol, 1e-4, "matmul, shared b");
    testing::expect_close(
        testing::download(testing::unwrap(ops::matmul(ctx(), a, up(first, Shape{c.n, c.k}), true))),
        ref_st, tol, 1e-4, "matmul, shared b transposed");
  }
}

// bf16 weights times 1-4 rows of x (the LM's decode steps; the CPU takes a
// GEMV there) and just above, at K with and without a tail past the
// vector steps, N over several chunks of the pool.
TEST_P(LinearTest, Bf16FewRowsMatchNaive) {
  for (const GemmCase c :
       {GemmCase{1, 300, 1024}, {2, 257, 1037}, {3, 70, 45}, {4, 33, 96}, {5, 40, 64}, {2, 3, 5}}) {
    SCOPED_TRACE(std::to_string(c.m) + "x" + std::to_string(c.n) + "x" + std::to_string(c.k));
    const auto xs = testing::random_floats(c.m * c.k, 62),
               ws = testing::random_floats(c.n * c.k, 63, 0.1f),
               bs = testing::random_floats(c.n, 64);
    const auto [narrow, rounded] = bf16_weights(ws);
    Tensor w = testing::upload_bytes(*device_, narrow.data(), DType::bf16, Shape{c.n, c.k});
    const double tol = 1e-5 * std::sqrt(static_cast<double>(c.k));
    Tensor y =
        testing::unwrap(ops::linear(ctx(), up(xs, Shape{c.m, 1, c.k}), w, up(bs, Shape{c.n})));
    EXPECT_EQ(y.shape(), (Shape{c.m, 1, c.n}));
    testing::expect_close(testing::download(y), naive_linear(xs, rounded, &bs, c.m, c.n, c.k), tol,
                          1e-4, "bf16 linear, few rows");
    Tensor y0 = testing::unwrap(ops::linear(ctx(), up(xs, Shape{c.m, c.k}), w));
    testing::expect_close(testing::download(y0), naive_linear(xs, rounded, nullptr, c.m, c.n, c.k),
                          tol, 1e-4, "bf16 linear, few rows, no bias");
  }
}

// A bf16 linear over a few rows of x (an LM decode step) reserves what an f32
// one does, its output alone: no f32 copy of the weight rows on any device.
TEST_P(LinearTest, Bf16FewRowsReserveOnlyTheOutput) {
  const std::int64_t n = 64, k = 48;
  std::vector<std::uint16_t> narrow(static_cast<std::size_t>(n * k));
  const auto ws = testing::random_floats(narrow.size(), 65);
  for (std::size_t i = 0; i < narrow.size(); ++i) narrow[i] = f32_to_bf16(ws[i]);
  const Tensor w16 = testing::upload_bytes(*device_, narrow.data(), DType::bf16, Shape{n, k});
  const Tensor w32 = up(ws, Shape{n, k});
  auto reserved = [&](const Tensor& x, const Tensor& w) {
    device_->budget().reset_peaks();
    const BudgetStats before = device_->budget().stats();
    Tensor y = testing::unwrap(ops::linear(ctx(), x, w));
    const BudgetStats after = device_->budget().stats();
    return std::pair{after.reservations - before.reservations,
                     after.peak_bytes - before.used_bytes};
  };
  for (const std::int64_t m : {1, 2, 4}) {
    const Tensor x = up(testing::random_floats(m * k, 66), Shape{m, k});
    EXPECT_EQ(reserved(x, w16), reserved(x, w32)) << "m = " << m;
  }
}

// A plan made on the planning device holds on every device: the narrow-weight
// linear and the bf16 quantization reserve the same memory everywhere.
TEST_P(LinearTest, PlanningAllocatesWhatTheRunAllocates) {
  const std::int64_t m = 3, n = 10, k = 20;
  std::vector<std::uint16_t> narrow(static_cast<std::size_t>(n * k));
  const auto ws = testing::random_floats(narrow.size(), 60);
  for (std::size_t i = 0; i < narrow.size(); ++i) narrow[i] = f32_to_bf16(ws[i]);
  auto run = [&](Device& device) {
    Tensor x = testing::upload(device, testing::random_floats(m * k, 61), Shape{m, k});
    Tensor w = testing::upload_bytes(device, narrow.data(), DType::bf16, Shape{n, k});
    device.budget().reset_peaks();
    const BudgetStats before = device.budget().stats();
    const ops::OpContext ctx{device, testing::test_pool()};
    Tensor y = testing::unwrap(ops::linear(ctx, x, w));
    auto [q, scale] = testing::unwrap(ops::quantize_int8(ctx, w));
    Tensor yq = testing::unwrap(ops::linear(ctx, x, q, {}, scale));
    const BudgetStats after = device.budget().stats();
    return std::pair{after.reservations - before.reservations,
                     after.peak_bytes - before.used_bytes};
  };
  auto planner = make_planning_device(*device_);
  EXPECT_EQ(run(*planner), run(*device_));
}

// The kernels other devices get, run on this one through the launchers:
// y = x W^T + b for W f32, bf16 and int8 (values and scales made on the
// host), and a batched matmul, with `options` choosing tiles and paths.
class LinearVulkanTest : public DeviceTest {
 protected:
  void SetUp() override {
    DeviceTest::SetUp();
    if (device_ && as_vulkan(*device_) == nullptr) GTEST_SKIP() << "vulkan only";
  }

  VulkanLimits limits() { return as_vulkan(*device_)->limits(); }

  void check_linear(const ops::vulkan::LinearOptions& options, GemmCase c, DType dtype,
                    const std::string& what) {
    SCOPED_TRACE(what + " " + std::to_string(c.m) + "x" + std::to_string(c.n) + "x" +
                 std::to_string(c.k) + " " + std::string(dtype_name(dtype)));
    const auto xs = testing::random_floats(c.m * c.k, 50),
               ws = testing::random_floats(c.n * c.k, 51), bs = testing::random_floats(c.n, 52);
    std::vector<float> values(ws.size());
    Tensor w, scale;
    if (dtype == DType::bf16) {
      std::vector<std::uint16_t> narrow(ws.size());
      for (std::size_t i = 0; i < ws.size(); ++i) {
        narrow[i] = f32_to_bf16(ws[i]);
        values[i] = bf16_to_f32(narrow[i]);
      }
      w = testing::upload_bytes(*device_, narrow.data(), DType::bf16, Shape{c.n, c.k});
    } else if (dtype == DType::i8) {
      std::vector<std::int8_t> q(ws.size());
      std::vector<float> ss(static_cast<std::size_t>(c.n));
      for (std::size_t r = 0; r < ss.size(); ++r) ss[r] = 0.01f * static_cast<float>(r + 1);
      for (std::size_t i = 0; i < ws.size(); ++i) {
        q[i] = static_cast<std::int8_t>(static_cast<int>(i * 37 % 255) - 127);
        values[i] = static_cast<float>(q[i]) * ss[i / static_cast<std::size_t>(c.k)];
      }
      w = testing::upload_bytes(*device_, q.data(), DType::i8, Shape{c.n, c.k});
      scale = up(ss, Shape{c.n});
    } else {
      values = ws;
      w = up(ws, Shape{c.n, c.k});
    }
    Tensor y = testing::unwrap(device_->empty(DType::f32, Shape{c.m, c.n}, MemoryTag::io));
    ASSERT_TRUE(ops::vulkan::linear(*as_vulkan(*device_), up(xs, Shape{c.m, c.k}), w,
                                    up(bs, Shape{c.n}), scale, y, options)
                    .ok());
    const double tol = 1e-4 * std::sqrt(static_cast<double>(c.k) + 1);
    testing::expect_close(testing::download(y), naive_linear(xs, values, &bs, c.m, c.n, c.k), tol,
                          1e-4, what);
  }

  // a [z, m, k] times b [z, k, n] (shared [k, n] with shared_b).
  void check_matmul(const ops::vulkan::LinearOptions& options, std::int64_t z, GemmCase c,
                    bool shared_b, const std::string& what) {
    SCOPED_TRACE(what);
    const auto as = testing::random_floats(z * c.m * c.k, 53),
               bs = testing::random_floats((shared_b ? 1 : z) * c.k * c.n, 54);
    std::vector<double> ref(static_cast<std::size_t>(z * c.m * c.n));
    for (std::int64_t b = 0; b < z; ++b) {
      const std::int64_t bz = shared_b ? 0 : b;
      for (std::int64_t i = 0; i < c.m; ++i) {
        for (std::int64_t j = 0; j < c.n; ++j) {
          double s = 0;
          for (std::int64_t p = 0; p < c.k; ++p) {
            s += static_cast<double>(as[static_cast<std::size_t>((b * c.m + i) * c.k + p)]) *
                 bs[static_cast<std::size_t>((bz * c.k + p) * c.n + j)];
          }
          ref[static_cast<std::size_t>((b * c.m + i) * c.n + j)] = s;
        }
      }
    }
    Tensor y = testing::unwrap(device_->empty(DType::f32, Shape{z, c.m, c.n}, MemoryTag::io));
    const Tensor b = shared_b ? up(bs, Shape{c.k, c.n}) : up(bs, Shape{z, c.k, c.n});
    ASSERT_TRUE(
        ops::vulkan::matmul(*as_vulkan(*device_), up(as, Shape{z, c.m, c.k}), b, false, y, options)
            .ok());
    testing::expect_close(testing::download(y), ref, 1e-4, 1e-4, what);
  }
};
ACEFIT_DEVICE_TEST_SUITE(LinearVulkanTest);

// Devices with fewer invocations or less shared memory get smaller tiles
// (32x32 or 16x16 of 64 invocations, 8x8 of 16) and a narrower few-row kernel
// (32 invocations).
TEST_P(LinearVulkanTest, SmallerTiles) {
  for (const auto& [invocations, shared_bytes] :
       {std::pair{64u, 8192u}, std::pair{64u, 2048u}, std::pair{16u, 1024u}}) {
    ops::vulkan::LinearOptions options;
    options.limits = limits();
    options.limits->max_workgroup_invocations = invocations;
    options.limits->shared_memory_bytes = shared_bytes;
    const std::string what = std::to_string(invocations) + " invocations, " +
                             std::to_string(shared_bytes) + " shared bytes";
    check_linear(options, {37, 35, 19}, DType::f32, what);
    if (shared_bytes == 2048) check_linear(options, {3, 6, 41}, DType::bf16, what);
  }
}

// The few-row kernel's partial sums through shared memory (no subgroup
// arithmetic), and few rows through the tiled kernel.
TEST_P(LinearVulkanTest, FewRowPaths) {
  ops::vulkan::LinearOptions shared;
  shared.limits = limits();
  shared.limits->subgroup_arithmetic = false;
  ops::vulkan::LinearOptions tiled;
  tiled.few_row_kernel = false;
  for (const DType dtype : {DType::f32, DType::bf16, DType::i8}) {
    check_linear(shared, {3, 9, 300}, dtype, "shared-memory sums");
    check_linear(tiled, {2, 9, 300}, dtype, "tiled");
  }
  check_linear(shared, {1, 5, 1}, DType::f32, "shared-memory sums");
}

// Grids past the limits are split: rows over several dispatches, batch
// items over several (and one item at a time when its rows are split).
TEST_P(LinearVulkanTest, GridsSplitPastTheLimits) {
  ops::vulkan::LinearOptions options;
  options.limits = limits();
  options.limits->max_workgroup_count = {65535, 2, 2};  // 64-row tiles: 128 rows a dispatch
  check_linear(options, {150, 20, 9}, DType::f32, "rows split");
  check_linear(options, {150, 7, 33}, DType::i8, "rows split");
  check_matmul(options, 5, {10, 6, 7}, false, "batches split");
  check_matmul(options, 3, {130, 6, 7}, true, "batches and rows split");
}

}  // namespace
}  // namespace acefit
