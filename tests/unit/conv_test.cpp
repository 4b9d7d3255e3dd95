// conv1d, conv_transpose1d, snake and weight-norm folding against naive
// loops written from the PyTorch definitions.
#include <cmath>

#include "device/planning/planning_device.h"
#include "ops/conv.h"
#include "test_support.h"

namespace acefit {
namespace {

class ConvTest : public testing::DeviceTest {};
ACEFIT_DEVICE_TEST_SUITE(ConvTest);

struct ConvCase {
  std::int64_t batch, cin, cout, length, kernel, stride, padding, dilation;
};

TEST_P(ConvTest, Conv1dMatchesNaive) {
  for (const ConvCase c : {ConvCase{1, 3, 4, 10, 3, 1, 1, 1},
                           {2, 5, 3, 17, 7, 1, 3, 1},
                           {1, 4, 6, 20, 4, 2, 1, 1},
                           {2, 3, 2, 30, 3, 1, 9, 9},
                           {1, 8, 5, 9, 1, 1, 0, 1},
                           {1, 2, 2, 5, 5, 1, 0, 1},
                           {1, 3, 2, 1, 3, 1, 1, 1},
                           {1, 16, 8, 300, 7, 3, 2, 2}}) {
    const auto x = testing::random_floats(c.batch * c.cin * c.length, 1),
               w = testing::random_floats(c.cout * c.cin * c.kernel, 2),
               b = testing::random_floats(c.cout, 3);
    const std::int64_t lout =
        (c.length + 2 * c.padding - c.dilation * (c.kernel - 1) - 1) / c.stride + 1;
    std::vector<double> ref(static_cast<std::size_t>(c.batch * c.cout * lout));
    for (std::int64_t n = 0; n < c.batch; ++n) {
      for (std::int64_t o = 0; o < c.cout; ++o) {
        for (std::int64_t t = 0; t < lout; ++t) {
          double s = b[o];
          for (std::int64_t i = 0; i < c.cin; ++i) {
            for (std::int64_t k = 0; k < c.kernel; ++k) {
              const std::int64_t pos = t * c.stride - c.padding + k * c.dilation;
              if (pos >= 0 && pos < c.length)
                s += static_cast<double>(w[(o * c.cin + i) * c.kernel + k]) *
                     x[(n * c.cin + i) * c.length + pos];
            }
          }
          ref[static_cast<std::size_t>((n * c.cout + o) * lout + t)] = s;
        }
      }
    }
    Tensor y = testing::unwrap(ops::conv1d(
        ctx(), up(x, Shape{c.batch, c.cin, c.length}), up(w, Shape{c.cout, c.cin, c.kernel}),
        up(b, Shape{c.cout}), ops::Conv1dOptions{c.stride, c.padding, c.dilation}));
    EXPECT_EQ(y.shape(), (Shape{c.batch, c.cout, lout}));
    testing::expect_close(testing::download(y), ref, 1e-5, 1e-5, "conv1d");
  }
}

TEST_P(ConvTest, Conv1dRejectsBadArguments) {
  Tensor x = up(testing::random_floats(12, 1), Shape{1, 3, 4});
  Tensor w = up(testing::random_floats(2 * 3 * 5, 2), Shape{2, 3, 5});
  EXPECT_FALSE(ops::conv1d(ctx(), x, w, {}).ok());  // kernel longer than the input
  EXPECT_TRUE(ops::conv1d(ctx(), x, w, {}, ops::Conv1dOptions{1, 1, 1}).ok());
  EXPECT_FALSE(ops::conv1d(ctx(), x, up(testing::random_floats(12, 2), Shape{2, 2, 3}), {}).ok());
  EXPECT_FALSE(ops::conv1d(ctx(), x, w, {}, ops::Conv1dOptions{0, 1, 1}).ok());
  EXPECT_FALSE(ops::conv1d(ctx(), x, w, up({1, 2, 3}, Shape{3}), ops::Conv1dOptions{1, 2, 1}).ok());
}

TEST_P(ConvTest, ConvTranspose1dMatchesNaive) {
  for (const ConvCase c : {ConvCase{1, 3, 4, 6, 4, 2, 1, 1},
                           {2, 5, 2, 9, 3, 1, 0, 1},
                           {1, 4, 3, 7, 10, 5, 3, 1},
                           {1, 2, 2, 1, 3, 2, 0, 1},
                           {1, 6, 4, 40, 20, 10, 5, 1},
                           {2, 3, 3, 5, 2, 3, 0, 1}}) {
    const auto x = testing::random_floats(c.batch * c.cin * c.length, 4),
               w = testing::random_floats(c.cin * c.cout * c.kernel, 5),
               b = testing::random_floats(c.cout, 6);
    const std::int64_t lout = (c.length - 1) * c.stride - 2 * c.padding + c.kernel;
    std::vector<double> ref(static_cast<std::size_t>(c.batch * c.cout * lout));
    for (std::int64_t n = 0; n < c.batch; ++n) {
      for (std::int64_t o = 0; o < c.cout; ++o) {
        for (std::int64_t t = 0; t < lout; ++t)
          ref[static_cast<std::size_t>((n * c.cout + o) * lout + t)] = b[o];
      }
      for (std::int64_t i = 0; i < c.cin; ++i) {
        for (std::int64_t l = 0; l < c.length; ++l) {
          for (std::int64_t o = 0; o < c.cout; ++o) {
            for (std::int64_t k = 0; k < c.kernel; ++k) {
              const std::int64_t pos = l * c.stride - c.padding + k;
              if (pos < 0 || pos >= lout) continue;
              ref[static_cast<std::size_t>((n * c.cout + o) * lout + pos)] +=
                  static_cast<double>(x[(n * c.cin + i) * c.length + l]) *
                  w[(i * c.cout + o) * c.kernel + k];
            }
          }
        }
      }
    }
    Tensor y = testing::unwrap(ops::conv_transpose1d(ctx(), up(x, Shape{c.batch, c.cin, c.length}),
                                                     up(w, Shape{c.cin, c.cout, c.kernel}),
                                                     up(b, Shape{c.cout}), c.stride, c.padding));
    EXPECT_EQ(y.shape(), (Shape{c.batch, c.cout, lout}));
    testing::expect_close(testing::download(y), ref, 1e-5, 1e-5, "conv_transpose1d");
  }
  Tensor x = up(testing::random_floats(6, 1), Shape{1, 3, 2});
  EXPECT_FALSE(
      ops::conv_transpose1d(ctx(), x, up(testing::random_floats(12, 2), Shape{2, 3, 2}), {}, 1, 0)
          .ok());
  EXPECT_FALSE(
      ops::conv_transpose1d(ctx(), x, up(testing::random_floats(6, 2), Shape{3, 1, 2}), {}, 1, 5)
          .ok());
}

TEST_P(ConvTest, SnakeLogScaleAndLinear) {
  const std::int64_t b = 2, c = 3, l = 19;
  const auto x = testing::random_floats(b * c * l, 7, 2.0f),
             alpha = testing::random_floats(c, 8, 0.5f), beta = testing::random_floats(c, 9, 0.5f);
  for (bool log_scale : {true, false}) {
    std::vector<float> beta_used = beta;
    if (!log_scale) {
      for (float& v : beta_used) v = std::fabs(v) + 0.5f;
    }
    std::vector<double> ref(x.size());
    for (std::int64_t i = 0; i < b * c * l; ++i) {
      const std::int64_t ch = (i / l) % c;
      const double a = log_scale ? std::exp(static_cast<double>(alpha[ch])) : alpha[ch];
      const double be = log_scale ? std::exp(static_cast<double>(beta_used[ch])) : beta_used[ch];
      const double s = std::sin(a * x[i]);
      ref[static_cast<std::size_t>(i)] = x[i] + 1.0 / (be + 1e-9) * s * s;
    }
    // alpha and beta as the checkpoint stores them: [1, C, 1].
    Tensor y = testing::unwrap(ops::snake(ctx(), up(x, Shape{b, c, l}), up(alpha, Shape{1, c, 1}),
                                          up(beta_used, Shape{1, c, 1}), log_scale));
    testing::expect_close(testing::download(y), ref, 1e-5, 1e-5,
                          log_scale ? "snake (log scale)" : "snake");
  }
  EXPECT_FALSE(
      ops::snake(ctx(), up(x, Shape{b, c, l}), up({1, 2}, Shape{2}), up(beta, Shape{c})).ok());
}

TEST_P(ConvTest, WeightNormFoldsOverAllButDimZero) {
  const std::int64_t out = 4, in = 3, k = 5;
  const auto v = testing::random_floats(out * in * k, 10), g = testing::random_floats(out, 11);
  std::vector<double> ref(v.size());
  for (std::int64_t o = 0; o < out; ++o) {
    double norm = 0;
    for (std::int64_t j = 0; j < in * k; ++j)
      norm += static_cast<double>(v[o * in * k + j]) * v[o * in * k + j];
    norm = std::sqrt(norm);
    for (std::int64_t j = 0; j < in * k; ++j)
      ref[static_cast<std::size_t>(o * in * k + j)] = g[o] * v[o * in * k + j] / norm;
  }
  Tensor w = testing::unwrap(
      ops::weight_norm_fold(ctx(), up(g, Shape{out, 1, 1}), up(v, Shape{out, in, k})));
  EXPECT_EQ(w.shape(), (Shape{out, in, k}));
  testing::expect_close(testing::download(w), ref, 1e-6, 1e-5, "weight_norm");
  EXPECT_FALSE(ops::weight_norm_fold(ctx(), up(g, Shape{out}),
                                     up(testing::random_floats(15, 1), Shape{5, 3}))
                   .ok());
}

// conv1d by the definition, in double.
std::vector<double> conv1d_reference(const ConvCase& c, const std::vector<float>& x,
                                     const std::vector<float>& w, const std::vector<float>& b) {
  const std::int64_t lout =
      (c.length + 2 * c.padding - c.dilation * (c.kernel - 1) - 1) / c.stride + 1;
  std::vector<double> ref(static_cast<std::size_t>(c.batch * c.cout * lout));
  for (std::int64_t n = 0; n < c.batch; ++n) {
    for (std::int64_t o = 0; o < c.cout; ++o) {
      for (std::int64_t t = 0; t < lout; ++t) {
        double s = b[static_cast<std::size_t>(o)];
        for (std::int64_t i = 0; i < c.cin; ++i) {
          for (std::int64_t k = 0; k < c.kernel; ++k) {
            const std::int64_t pos = t * c.stride - c.padding + k * c.dilation;
            if (pos >= 0 && pos < c.length)
              s +=
                  static_cast<double>(w[static_cast<std::size_t>((o * c.cin + i) * c.kernel + k)]) *
                  x[static_cast<std::size_t>((n * c.cin + i) * c.length + pos)];
          }
        }
        ref[static_cast<std::size_t>((n * c.cout + o) * lout + t)] = s;
      }
    }
  }
  return ref;
}

// conv_transpose1d by the definition (scatter form), in double.
std::vector<double> conv_transpose1d_reference(const ConvCase& c, const std::vector<float>& x,
                                               const std::vector<float>& w,
                                               const std::vector<float>& b) {
  const std::int64_t lout = (c.length - 1) * c.stride - 2 * c.padding + c.kernel;
  std::vector<double> ref(static_cast<std::size_t>(c.batch * c.cout * lout));
  for (std::int64_t n = 0; n < c.batch; ++n) {
    for (std::int64_t o = 0; o < c.cout; ++o) {
      for (std::int64_t t = 0; t < lout; ++t)
        ref[static_cast<std::size_t>((n * c.cout + o) * lout + t)] = b[static_cast<std::size_t>(o)];
    }
    for (std::int64_t i = 0; i < c.cin; ++i) {
      for (std::int64_t l = 0; l < c.length; ++l) {
        for (std::int64_t o = 0; o < c.cout; ++o) {
          for (std::int64_t k = 0; k < c.kernel; ++k) {
            const std::int64_t pos = l * c.stride - c.padding + k;
            if (pos < 0 || pos >= lout) continue;
            ref[static_cast<std::size_t>((n * c.cout + o) * lout + pos)] +=
                static_cast<double>(x[static_cast<std::size_t>((n * c.cin + i) * c.length + l)]) *
                w[static_cast<std::size_t>((i * c.cout + o) * c.kernel + k)];
          }
        }
      }
    }
  }
  return ref;
}

// Shapes where a tiled GPU kernel has edges the naive loops lack: lengths
// and channel counts that are not multiples of a tile, more than one tile
// of Cout and of L_out, reductions (Cin*K) over several slices, the three
// tile shapes (Cout <= 4, <= 32, more), strides with dilations, no bias.
TEST_P(ConvTest, Conv1dTileEdges) {
  std::uint64_t seed = 100;
  for (const ConvCase c : {ConvCase{1, 16, 70, 67, 7, 1, 3, 1},
                           {2, 9, 3, 300, 3, 1, 9, 9},
                           {1, 20, 17, 150, 3, 2, 3, 3},
                           {1, 5, 33, 200, 1, 1, 0, 1},
                           {3, 4, 8, 50, 5, 3, 2, 2},
                           {1, 40, 6, 100, 7, 1, 27, 9},
                           {1, 2, 130, 9, 3, 1, 1, 3}}) {
    const auto x = testing::random_floats(c.batch * c.cin * c.length, ++seed),
               w = testing::random_floats(c.cout * c.cin * c.kernel, ++seed),
               b = testing::random_floats(c.cout, ++seed);
    const std::vector<double> ref = conv1d_reference(c, x, w, b);
    Tensor y = testing::unwrap(ops::conv1d(
        ctx(), up(x, Shape{c.batch, c.cin, c.length}), up(w, Shape{c.cout, c.cin, c.kernel}),
        up(b, Shape{c.cout}), ops::Conv1dOptions{c.stride, c.padding, c.dilation}));
    testing::expect_close(testing::download(y), ref, 1e-4, 1e-5,
                          "conv1d cin " + std::to_string(c.cin) + " cout " +
                              std::to_string(c.cout) + " L " + std::to_string(c.length));
  }
  // Without a bias.
  const ConvCase c{1, 6, 5, 40, 3, 1, 1, 1};
  const auto x = testing::random_floats(c.cin * c.length, 1),
             w = testing::random_floats(c.cout * c.cin * c.kernel, 2);
  const std::vector<double> ref =
      conv1d_reference(c, x, w, std::vector<float>(static_cast<std::size_t>(c.cout), 0.0f));
  Tensor y = testing::unwrap(ops::conv1d(ctx(), up(x, Shape{1, c.cin, c.length}),
                                         up(w, Shape{c.cout, c.cin, c.kernel}), {}, {1, 1, 1}));
  testing::expect_close(testing::download(y), ref, 1e-4, 1e-5, "conv1d without bias");
}

// The VAE's upsampling form (K = 2 stride, padding ceil(stride / 2)) past
// one tile, kernels shorter than the stride (phases no tap reaches: bias
// only), padding past the stride, no bias.
TEST_P(ConvTest, ConvTranspose1dTileEdges) {
  std::uint64_t seed = 200;
  for (const ConvCase c : {ConvCase{1, 24, 70, 37, 16, 8, 4, 1},
                           {2, 33, 5, 45, 4, 2, 1, 1},
                           {1, 3, 2, 300, 20, 10, 5, 1},
                           {1, 4, 3, 7, 3, 5, 0, 1},
                           {1, 5, 4, 9, 7, 3, 6, 1},
                           {1, 10, 40, 30, 12, 6, 3, 1},
                           {1, 6, 40, 64, 5, 2, 1, 1}}) {  // phase 0: one column past 64
    const auto x = testing::random_floats(c.batch * c.cin * c.length, ++seed),
               w = testing::random_floats(c.cin * c.cout * c.kernel, ++seed),
               b = testing::random_floats(c.cout, ++seed);
    const std::vector<double> ref = conv_transpose1d_reference(c, x, w, b);
    Tensor y = testing::unwrap(ops::conv_transpose1d(ctx(), up(x, Shape{c.batch, c.cin, c.length}),
                                                     up(w, Shape{c.cin, c.cout, c.kernel}),
                                                     up(b, Shape{c.cout}), c.stride, c.padding));
    testing::expect_close(testing::download(y), ref, 1e-4, 1e-5,
                          "conv_transpose1d stride " + std::to_string(c.stride) + " kernel " +
                              std::to_string(c.kernel));
  }
  const ConvCase c{1, 3, 2, 11, 6, 3, 2, 1};
  const auto x = testing::random_floats(c.cin * c.length, 1),
             w = testing::random_floats(c.cin * c.cout * c.kernel, 2);
  const std::vector<double> ref = conv_transpose1d_reference(
      c, x, w, std::vector<float>(static_cast<std::size_t>(c.cout), 0.0f));
  Tensor y = testing::unwrap(ops::conv_transpose1d(ctx(), up(x, Shape{1, c.cin, c.length}),
                                                   up(w, Shape{c.cin, c.cout, c.kernel}), {},
                                                   c.stride, c.padding));
  testing::expect_close(testing::download(y), ref, 1e-4, 1e-5, "conv_transpose1d without bias");
}

TEST_P(ConvTest, WeightNormLongRowsAndAZeroRow) {
  const std::int64_t rows = 5, cols = 1000;
  auto v = testing::random_floats(rows * cols, 12);
  for (std::int64_t j = 0; j < cols; ++j) v[static_cast<std::size_t>(2 * cols + j)] = 0.0f;
  const auto g = testing::random_floats(rows, 13);
  std::vector<double> ref(v.size());
  for (std::int64_t r = 0; r < rows; ++r) {
    double norm = 0;
    for (std::int64_t j = 0; j < cols; ++j)
      norm += static_cast<double>(v[static_cast<std::size_t>(r * cols + j)]) *
              v[static_cast<std::size_t>(r * cols + j)];
    norm = std::sqrt(norm);
    for (std::int64_t j = 0; j < cols; ++j) {
      ref[static_cast<std::size_t>(r * cols + j)] =
          norm > 0
              ? g[static_cast<std::size_t>(r)] * v[static_cast<std::size_t>(r * cols + j)] / norm
              : 0.0;
    }
  }
  Tensor w = testing::unwrap(
      ops::weight_norm_fold(ctx(), up(g, Shape{rows}), up(v, Shape{rows, 10, cols / 10})));
  EXPECT_EQ(w.shape(), (Shape{rows, 10, cols / 10}));
  testing::expect_close(testing::download(w), ref, 1e-6, 1e-5, "weight_norm long rows");
}

// The planning device of a device sees exactly what the convolutions
// allocate (an im2col workspace on the host, none on vulkan).
TEST_P(ConvTest, PlanningSeesWhatTheConvolutionsAllocate) {
  auto peak_of = [](Device& device) {
    device.budget().reset_peaks();
    const std::uint64_t used = device.budget().used_bytes();
    const std::uint64_t workspace = device.budget().current_bytes(MemoryTag::workspace);
    const ops::OpContext c{device, testing::test_pool()};
    auto empty = [&](Shape shape) {
      return testing::unwrap(device.empty(DType::f32, shape, MemoryTag::activations));
    };
    Tensor x = empty(Shape{2, 8, 50});
    Tensor y = testing::unwrap(
        ops::conv1d(c, x, empty(Shape{6, 8, 3}), empty(Shape{6}), ops::Conv1dOptions{1, 3, 3}));
    x = Tensor();
    Tensor z = testing::unwrap(ops::conv_transpose1d(c, y, empty(Shape{6, 4, 8}), {}, 4, 2));
    EXPECT_EQ(z.shape(), (Shape{2, 4, 200}));
    return std::pair{device.budget().peak_bytes() - used,
                     device.budget().peak_bytes(MemoryTag::workspace) - workspace};
  };
  auto planner = make_planning_device(*device_);
  const auto planned = peak_of(*planner);
  const auto measured = peak_of(*device_);
  EXPECT_EQ(planned, measured);
  EXPECT_EQ(measured.second > 0, device_->kind() != DeviceKind::vulkan);
}

}  // namespace
}  // namespace acefit
