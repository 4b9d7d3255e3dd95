// sgemm: correct for every transpose and split, and the same bytes whatever
// the thread count (the blocks depend on the shape only).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "ops/cpu/blas.h"
#include "test_support.h"

namespace acefit {
namespace {

struct GemmCase {
  bool trans_a, trans_b;
  std::int64_t m, n, k;
};

std::vector<float> run(ThreadPool& pool, const GemmCase& c, const std::vector<float>& a,
                       const std::vector<float>& b) {
  std::vector<float> out(static_cast<std::size_t>(c.m * c.n), 1.0f);
  const std::int64_t lda = c.trans_a ? c.m : c.k;
  const std::int64_t ldb = c.trans_b ? c.k : c.n;
  cpu::sgemm(pool, c.trans_a, c.trans_b, c.m, c.n, c.k, 0.5f, a.data(), lda, b.data(), ldb, 0.0f,
             out.data(), c.n);
  return out;
}

TEST(Blas, SgemmIsCorrectAndTheSameForEveryThreadCount) {
  const GemmCase cases[] = {
      {false, true, 300, 700, 129},   // column blocks
      {false, false, 1000, 64, 256},  // row blocks
      {true, false, 520, 96, 300},    // transposed A, row blocks
      {true, true, 70, 1100, 200},    // transposed both, column blocks
      {false, true, 7, 9, 5},         // one call
  };
  ThreadPool one(1), two(2), three(3);
  for (const GemmCase& c : cases) {
    const auto a = testing::random_floats(static_cast<std::size_t>(c.m * c.k), 1, 1.0f);
    const auto b = testing::random_floats(static_cast<std::size_t>(c.k * c.n), 2, 1.0f);
    const auto r1 = run(one, c, a, b);
    const auto r2 = run(two, c, a, b);
    const auto r3 = run(three, c, a, b);
    EXPECT_EQ(std::memcmp(r1.data(), r2.data(), r1.size() * sizeof(float)), 0) << c.m << "x" << c.n;
    EXPECT_EQ(std::memcmp(r1.data(), r3.data(), r1.size() * sizeof(float)), 0) << c.m << "x" << c.n;
    double worst = 0;
    for (std::int64_t i = 0; i < c.m; i += 13) {
      for (std::int64_t j = 0; j < c.n; j += 7) {
        double sum = 0;
        for (std::int64_t p = 0; p < c.k; ++p) {
          const float av = c.trans_a ? a[static_cast<std::size_t>(p * c.m + i)]
                                     : a[static_cast<std::size_t>(i * c.k + p)];
          const float bv = c.trans_b ? b[static_cast<std::size_t>(j * c.k + p)]
                                     : b[static_cast<std::size_t>(p * c.n + j)];
          sum += static_cast<double>(av) * bv;
        }
        worst = std::max(worst, std::fabs(0.5 * sum - r2[static_cast<std::size_t>(i * c.n + j)]));
      }
    }
    EXPECT_LT(worst, 1e-3) << c.m << "x" << c.n << "x" << c.k;
  }
}

}  // namespace
}  // namespace acefit
