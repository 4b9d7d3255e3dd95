#include "ops/cpu/blas.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>

namespace acefit::cpu {

namespace {

// Below this many multiply-adds one call is cheaper than splitting.
constexpr std::int64_t kSplitWork = std::int64_t{1} << 21;
constexpr std::int64_t kColumnBlock = 256;
constexpr std::int64_t kRowBlock = 64;
constexpr std::int64_t kMaxBlocks = 8;

std::atomic<int> g_threads{1};

void sgemm_one(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
               float alpha, const float* a, std::int64_t lda, const float* b, std::int64_t ldb,
               float beta, float* c, std::int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
              static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

}  // namespace

void blas_set_threads(int threads) {
  openblas_set_num_threads(1);
  g_threads = std::max(1, threads);
}

int blas_threads() {
  return g_threads;
}

const char* blas_name() {
  return "OpenBLAS";
}

GemmSplit gemm_split(std::int64_t m, std::int64_t n, std::int64_t k) {
  if (m * n * std::max<std::int64_t>(k, 1) < kSplitWork) return {m, n};
  // Column blocks re-pack A once per block, row blocks re-pack B: split the
  // longer side.
  // Blocks of at least the minimum, and at most kMaxBlocks of them: small
  // blocks starve OpenBLAS's own cache blocking (1500 x 6144 x 2048 in
  // 256-column blocks ran at 0.72 of a threaded sgemm). The count depends on
  // the shape only, never on the thread count.
  const auto block_of = [](std::int64_t size, std::int64_t minimum, std::int64_t align) {
    const std::int64_t share = (size + kMaxBlocks - 1) / kMaxBlocks;
    return std::max(minimum, (share + align - 1) / align * align);
  };
  if (n >= 2 * kColumnBlock && n >= m) return {m, block_of(n, kColumnBlock, 64)};
  if (m >= 2 * kRowBlock) return {block_of(m, kRowBlock, 16), n};
  if (n >= 2 * kColumnBlock) return {m, block_of(n, kColumnBlock, 64)};
  return {m, n};
}

void sgemm(ThreadPool& pool, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n,
           std::int64_t k, float alpha, const float* a, std::int64_t lda, const float* b,
           std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  const GemmSplit split = gemm_split(m, n, k);
  if (split.rows >= m && split.columns >= n) {
    sgemm_one(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  if (split.columns < n) {
    const std::int64_t blocks = (n + split.columns - 1) / split.columns;
    pool.parallel_for(blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
      for (std::int64_t block = b0; block < b1; ++block) {
        const std::int64_t j0 = block * split.columns;
        const std::int64_t nb = std::min(split.columns, n - j0);
        // Columns j0.. of op(B): B[N,K] rows when transposed, else B[K,N] columns.
        const float* bj = trans_b ? b + j0 * ldb : b + j0;
        sgemm_one(trans_a, trans_b, m, nb, k, alpha, a, lda, bj, ldb, beta, c + j0, ldc);
      }
    });
    return;
  }
  const std::int64_t blocks = (m + split.rows - 1) / split.rows;
  pool.parallel_for(blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t block = b0; block < b1; ++block) {
      const std::int64_t i0 = block * split.rows;
      const std::int64_t mb = std::min(split.rows, m - i0);
      // Rows i0.. of op(A): A[K,M] columns when transposed, else A[M,K] rows.
      const float* ai = trans_a ? a + i0 : a + i0 * lda;
      sgemm_one(trans_a, trans_b, mb, n, k, alpha, ai, lda, b, ldb, beta, c + i0 * ldc, ldc);
    }
  });
}

}  // namespace acefit::cpu
