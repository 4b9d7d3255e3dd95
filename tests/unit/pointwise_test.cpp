// RMSNorm, RoPE, activations, softmax and elementwise arithmetic against
// naive references.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ops/activation.h"
#include "ops/elementwise.h"
#include "ops/modulation.h"
#include "ops/norm.h"
#include "ops/vulkan/vulkan_kernels.h"
#include "test_support.h"

namespace acefit {
namespace {

class PointwiseTest : public testing::DeviceTest {};
ACEFIT_DEVICE_TEST_SUITE(PointwiseTest);

std::vector<double> map(const std::vector<float>& x, double (*f)(double)) {
  std::vector<double> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = f(x[i]);
  return y;
}

TEST_P(PointwiseTest, RmsNorm) {
  for (std::int64_t cols : {1, 7, 64, 1027}) {
    const std::int64_t rows = 5;
    const auto x = testing::random_floats(rows * cols, 1, 3.0f),
               w = testing::random_floats(cols, 2);
    std::vector<double> ref(x.size()), ref_plain(x.size());
    for (std::int64_t r = 0; r < rows; ++r) {
      double ms = 0;
      for (std::int64_t j = 0; j < cols; ++j)
        ms += static_cast<double>(x[r * cols + j]) * x[r * cols + j];
      const double inv = 1.0 / std::sqrt(ms / static_cast<double>(cols) + 1e-6);
      for (std::int64_t j = 0; j < cols; ++j) {
        ref[static_cast<std::size_t>(r * cols + j)] = x[r * cols + j] * inv * w[j];
        ref_plain[static_cast<std::size_t>(r * cols + j)] = x[r * cols + j] * inv;
      }
    }
    testing::expect_close(testing::download(testing::unwrap(ops::rms_norm(
                              ctx(), up(x, Shape{rows, cols}), up(w, Shape{cols}), 1e-6f))),
                          ref, 1e-5, 1e-5, "rms_norm");
    testing::expect_close(testing::download(testing::unwrap(
                              ops::rms_norm(ctx(), up(x, Shape{rows, cols}), {}, 1e-6f))),
                          ref_plain, 1e-5, 1e-5, "rms_norm without weight");
  }
  EXPECT_FALSE(ops::rms_norm(ctx(), up({1, 2}, Shape{2}), up({1}, Shape{1}), 1e-6f).ok());
  EXPECT_FALSE(ops::rms_norm(ctx(), up({1, 2}, Shape{2}), {}, -1.0f).ok());
}

TEST_P(PointwiseTest, RopeRotateHalf) {
  for (const auto& [dim, offset, theta] :
       std::vector<std::tuple<std::int64_t, std::int64_t, float>>{
           {128, 0, 1e6f}, {64, 37, 1e4f}, {6, 3, 100.0f}, {2, 0, 10.0f}}) {
    const std::int64_t b = 2, s = 9, h = 3;
    const auto x = testing::random_floats(b * s * h * dim, 3);
    std::vector<double> ref(x.size());
    const std::int64_t half = dim / 2;
    for (std::int64_t t = 0; t < b * s; ++t) {
      const double p = static_cast<double>(offset + t % s);
      for (std::int64_t hh = 0; hh < h; ++hh) {
        const std::int64_t base = (t * h + hh) * dim;
        for (std::int64_t i = 0; i < half; ++i) {
          const double a = p * std::pow(static_cast<double>(theta),
                                        -2.0 * static_cast<double>(i) / static_cast<double>(dim));
          const double x1 = x[base + i], x2 = x[base + i + half];
          ref[static_cast<std::size_t>(base + i)] = x1 * std::cos(a) - x2 * std::sin(a);
          ref[static_cast<std::size_t>(base + i + half)] = x2 * std::cos(a) + x1 * std::sin(a);
        }
      }
    }
    Tensor y = testing::unwrap(ops::rope(ctx(), up(x, Shape{b, s, h, dim}), theta, offset));
    testing::expect_close(testing::download(y), ref, 2e-5, 1e-5, "rope dim " + std::to_string(dim));
  }
  EXPECT_FALSE(ops::rope(ctx(), up(testing::random_floats(15, 1), Shape{1, 1, 3, 5}), 1e4f)
                   .ok());  // odd dim
  EXPECT_FALSE(
      ops::rope(ctx(), up(testing::random_floats(16, 1), Shape{1, 1, 4, 4}), 1e4f, -1).ok());
}

TEST_P(PointwiseTest, Activations) {
  const auto x = testing::random_floats(1001, 4, 4.0f);
  Tensor t = up(x, Shape{7, 143});
  testing::expect_close(testing::download(testing::unwrap(ops::silu(ctx(), t))),
                        map(x, [](double v) { return v / (1 + std::exp(-v)); }), 1e-6, 1e-6,
                        "silu");
  testing::expect_close(
      testing::download(testing::unwrap(ops::gelu(ctx(), t))),
      map(x, [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }), 1e-6, 1e-6,
      "gelu");
  testing::expect_close(
      testing::download(testing::unwrap(ops::gelu(ctx(), t, true))),
      map(x,
          [](double v) {
            return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
          }),
      1e-6, 1e-6, "gelu tanh");
  const auto u = testing::random_floats(1001, 5);
  std::vector<double> ref(x.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    ref[i] = x[i] / (1 + std::exp(-static_cast<double>(x[i]))) * u[i];
  testing::expect_close(
      testing::download(testing::unwrap(ops::swiglu(ctx(), t, up(u, Shape{7, 143})))), ref, 1e-6,
      1e-6, "swiglu");
  EXPECT_FALSE(ops::swiglu(ctx(), t, up(u, Shape{143, 7})).ok());
  // Extreme inputs stay finite and saturate correctly.
  const std::vector<float> extreme = {-1000.0f, -88.0f, 0.0f,  88.0f, 1000.0f,
                                      -3.0f,    3.0f,   20.0f, -20.0f};
  testing::expect_close(testing::download(testing::unwrap(ops::silu(ctx(), up(extreme, Shape{9})))),
                        map(extreme, [](double v) { return v / (1 + std::exp(-v)); }), 1e-6, 1e-6,
                        "silu extremes");
}

TEST_P(PointwiseTest, SoftmaxIsStable) {
  for (std::int64_t cols : {1, 5, 8, 9, 1000}) {
    auto x = testing::random_floats(3 * cols, 6, 10.0f);
    x[0] = 1000.0f;  // would overflow a naive exp
    std::vector<double> ref(x.size());
    for (std::int64_t r = 0; r < 3; ++r) {
      double peak = -1e300, sum = 0;
      for (std::int64_t j = 0; j < cols; ++j)
        peak = std::max(peak, static_cast<double>(x[r * cols + j]));
      for (std::int64_t j = 0; j < cols; ++j) sum += std::exp(x[r * cols + j] - peak);
      for (std::int64_t j = 0; j < cols; ++j)
        ref[static_cast<std::size_t>(r * cols + j)] = std::exp(x[r * cols + j] - peak) / sum;
    }
    testing::expect_close(
        testing::download(testing::unwrap(ops::softmax(ctx(), up(x, Shape{3, cols})))), ref, 1e-7,
        1e-5, "softmax");
  }
}

TEST_P(PointwiseTest, ElementwiseWithBroadcast) {
  const auto a = testing::random_floats(2 * 3 * 5, 7), b = testing::random_floats(2 * 3 * 5, 8),
             row = testing::random_floats(5, 9);
  std::vector<double> sum(a.size()), prod(a.size()), bsum(a.size()), bprod(a.size()),
      scaled(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    sum[i] = static_cast<double>(a[i]) + b[i];
    prod[i] = static_cast<double>(a[i]) * b[i];
    bsum[i] = static_cast<double>(a[i]) + row[i % 5];
    bprod[i] = static_cast<double>(a[i]) * row[i % 5];
    scaled[i] = static_cast<double>(a[i]) * -2.5;
  }
  Tensor ta = up(a, Shape{2, 3, 5});
  testing::expect_close(
      testing::download(testing::unwrap(ops::add(ctx(), ta, up(b, Shape{2, 3, 5})))), sum, 1e-6, 0,
      "add");
  testing::expect_close(
      testing::download(testing::unwrap(ops::mul(ctx(), ta, up(b, Shape{2, 3, 5})))), prod, 1e-6, 0,
      "mul");
  testing::expect_close(testing::download(testing::unwrap(ops::add(ctx(), ta, up(row, Shape{5})))),
                        bsum, 1e-6, 0, "add row");
  testing::expect_close(testing::download(testing::unwrap(ops::mul(ctx(), ta, up(row, Shape{5})))),
                        bprod, 1e-6, 0, "mul row");
  testing::expect_close(testing::download(testing::unwrap(ops::scale(ctx(), ta, -2.5f))), scaled,
                        1e-6, 0, "scale");
  EXPECT_FALSE(ops::add(ctx(), ta, up(testing::random_floats(3, 1), Shape{3})).ok());
  EXPECT_FALSE(ops::add(ctx(), up(row, Shape{5}), ta).ok());
}

// Modulation with [B, C] and [B, 1, C] vectors, against a naive reference.
TEST_P(PointwiseTest, ModulateAndGatedAdd) {
  const std::int64_t b = 3, s = 5, c = 7;
  const auto x = testing::random_floats(b * s * c, 10), u = testing::random_floats(b * s * c, 11),
             shift = testing::random_floats(b * c, 12), scl = testing::random_floats(b * c, 13);
  std::vector<double> mod(x.size()), gated(x.size());
  for (std::int64_t i = 0; i < b * s * c; ++i) {
    const std::int64_t v = (i / (s * c)) * c + i % c;
    mod[static_cast<std::size_t>(i)] = static_cast<double>(x[i]) * (1.0 + scl[v]) + shift[v];
    gated[static_cast<std::size_t>(i)] =
        static_cast<double>(x[i]) + static_cast<double>(scl[v]) * u[i];
  }
  Tensor tx = up(x, Shape{b, s, c});
  for (const Shape& vector_shape : {Shape{b, c}, Shape{b, 1, c}}) {
    testing::expect_close(testing::download(testing::unwrap(ops::modulate(
                              ctx(), tx, up(shift, vector_shape), up(scl, vector_shape)))),
                          mod, 1e-6, 1e-6, "modulate");
    testing::expect_close(testing::download(testing::unwrap(ops::gated_add(
                              ctx(), tx, up(u, Shape{b, s, c}), up(scl, vector_shape)))),
                          gated, 1e-6, 1e-6, "gated_add");
  }
  EXPECT_FALSE(ops::modulate(ctx(), tx, up(shift, Shape{c, b}), up(scl, Shape{b, c})).ok());
  EXPECT_FALSE(ops::gated_add(ctx(), tx, up(u, Shape{b * s, c}), up(scl, Shape{b, c})).ok());
}

// Exact GELU over the whole range where it is not subnormal: the GPU's erf
// is its own (GLSL has none); it is computed as 0.5 x erfc(-x / sqrt 2), so
// it must hold a tight relative tolerance even where the value is tiny.
TEST_P(PointwiseTest, GeluExactOverWideRange) {
  std::vector<float> x;
  for (int i = -14000; i <= 14000; ++i) x.push_back(static_cast<float>(i) * 1e-3f);
  for (float v : {1e-30f, -1e-30f, 1e-7f, -1e-7f, 0.5f, -0.5f, 30.0f, -1000.0f, 1e30f})
    x.push_back(v);
  std::vector<double> ref(x.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    ref[i] = 0.5 * x[i] * std::erfc(-static_cast<double>(x[i]) / std::sqrt(2.0));
  const auto y = testing::download(
      testing::unwrap(ops::gelu(ctx(), up(x, Shape{static_cast<std::int64_t>(x.size())}))));
  // The host kernel computes 1 + erf(x) in f32, which loses the small tail
  // of negative inputs to cancellation: it is held to an absolute bound.
  const bool gpu = GetParam() == "vulkan";
  testing::expect_close(y, ref, gpu ? 1e-37 : 1e-6, gpu ? 5e-7 : 1e-6, "gelu wide range");
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::abs(ref[i]) > 1e-37)
      worst = std::max(worst, std::abs(y[i] - ref[i]) / std::abs(ref[i]));
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", worst);
  RecordProperty("gelu_max_relative_error", text);
}

// Row kernels with rows longer than one workgroup, and more rows than a grid
// dimension holds (65535). On vulkan both reduction paths run: subgroup
// arithmetic (where the device has it) through the op, the shared-memory
// tree through the launcher.
TEST_P(PointwiseTest, RowKernelsLongAndManyRows) {
  for (const auto& [rows, cols] :
       std::vector<std::pair<std::int64_t, std::int64_t>>{{3, 3000}, {70000, 3}, {2, 257}}) {
    const auto x = testing::random_floats(static_cast<std::size_t>(rows * cols), 14, 3.0f);
    const auto w = testing::random_floats(static_cast<std::size_t>(cols), 15);
    std::vector<double> norm(x.size()), soft(x.size());
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* row = x.data() + r * cols;
      double ms = 0, peak = -1e300, sum = 0;
      for (std::int64_t j = 0; j < cols; ++j) {
        ms += static_cast<double>(row[j]) * row[j];
        peak = std::max(peak, static_cast<double>(row[j]));
      }
      for (std::int64_t j = 0; j < cols; ++j) sum += std::exp(row[j] - peak);
      const double inv = 1.0 / std::sqrt(ms / static_cast<double>(cols) + 1e-6);
      for (std::int64_t j = 0; j < cols; ++j) {
        norm[static_cast<std::size_t>(r * cols + j)] = row[j] * inv * w[j];
        soft[static_cast<std::size_t>(r * cols + j)] = std::exp(row[j] - peak) / sum;
      }
    }
    const std::string what = std::to_string(rows) + " x " + std::to_string(cols);
    Tensor tx = up(x, Shape{rows, cols});
    Tensor tw = up(w, Shape{cols});
    testing::expect_close(testing::download(testing::unwrap(ops::rms_norm(ctx(), tx, tw, 1e-6f))),
                          norm, 1e-5, 1e-5, "rms_norm " + what);
    testing::expect_close(testing::download(testing::unwrap(ops::softmax(ctx(), tx))), soft, 1e-7,
                          1e-5, "softmax " + what);
    if (VulkanDevice* vk = as_vulkan(*device_)) {
      Tensor y = testing::unwrap(device_->empty(DType::f32, tx.shape(), MemoryTag::activations));
      ASSERT_TRUE(ops::vulkan::rms_norm(*vk, tx, tw, 1e-6f, y, true).ok());
      testing::expect_close(testing::download(y), norm, 1e-5, 1e-5, "shared rms_norm " + what);
      ASSERT_TRUE(ops::vulkan::softmax(*vk, tx, y, true).ok());
      testing::expect_close(testing::download(y), soft, 1e-7, 1e-5, "shared softmax " + what);
    }
  }
}

// A 1-D kernel over more elements than 65535 workgroups of 256 cover (the
// grid goes 2-D), with an odd count. Only the GPU has grids.
TEST_P(PointwiseTest, ScalePastOneGridDimension) {
  if (GetParam() != "vulkan") GTEST_SKIP() << "no grid on " << GetParam();
  const std::int64_t n = 65535 * 256 + 1001;
  std::vector<float> x(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i & 4095);
  const auto y = testing::download(testing::unwrap(ops::scale(ctx(), up(x, Shape{n}), -0.5f)));
  std::size_t bad = 0;
  for (std::size_t i = 0; i < x.size(); ++i) bad += y[i] != x[i] * -0.5f;
  EXPECT_EQ(bad, 0u);
}

// RoPE at positions in the thousands (an LM's context): the angles need a
// real range reduction (Vulkan's sin/cos are only specified on [-pi, pi]).
// The reference forms the angle as the op does (f32 position times the f32
// frequency), so only the trigonometry and the frequency's last bit differ.
TEST_P(PointwiseTest, RopeAtLargePositions) {
  const std::int64_t b = 1, s = 5, h = 2, dim = 128, offset = 40000;
  const float theta = 1e6f;
  const auto x = testing::random_floats(b * s * h * dim, 16);
  std::vector<double> ref(x.size());
  const std::int64_t half = dim / 2;
  for (std::int64_t t = 0; t < b * s; ++t) {
    for (std::int64_t i = 0; i < half; ++i) {
      const auto inv_freq = static_cast<float>(std::pow(
          static_cast<double>(theta), -2.0 * static_cast<double>(i) / static_cast<double>(dim)));
      const double a = static_cast<float>(offset + t % s) * inv_freq;
      for (std::int64_t hh = 0; hh < h; ++hh) {
        const std::int64_t base = (t * h + hh) * dim;
        const double x1 = x[base + i], x2 = x[base + i + half];
        ref[static_cast<std::size_t>(base + i)] = x1 * std::cos(a) - x2 * std::sin(a);
        ref[static_cast<std::size_t>(base + i + half)] = x2 * std::cos(a) + x1 * std::sin(a);
      }
    }
  }
  Tensor y = testing::unwrap(ops::rope(ctx(), up(x, Shape{b, s, h, dim}), theta, offset));
  testing::expect_close(testing::download(y), ref, 2e-5, 1e-5, "rope at position 40000");
}

}  // namespace
}  // namespace acefit
