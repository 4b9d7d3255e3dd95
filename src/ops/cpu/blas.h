// The BLAS calls the CPU kernels make (OpenBLAS's cblas), behind plain
// functions so the rest of the code does not include cblas.h.
//
// Reproducibility: the same inputs give the same bytes whatever the thread
// count. OpenBLAS splits a multi-threaded GEMM by the thread count, which
// changes its kernels' edge handling and so the float rounding of some
// outputs. acefit therefore keeps OpenBLAS single-threaded and splits each
// GEMM itself into blocks whose size depends only on the matrix shape; our
// pool runs the blocks, each one single-threaded GEMM.
#pragma once

#include <cstdint>

#include "core/thread_pool.h"

namespace acefit::cpu {

// OpenBLAS runs single-threaded: our pool provides the parallelism (see
// above). `threads` is the pool's size, kept for reports.
void blas_set_threads(int threads);
int blas_threads();  // the pool size given to blas_set_threads
const char* blas_name();

// C[M,N] = alpha * op(A) op(B) + beta * C, row-major, where op(A) is [M,K]
// and op(B) is [K,N]. trans_a: A is stored [K,M]; trans_b: B is stored [N,K].
// Split into shape-determined blocks of C run on `pool`.
void sgemm(ThreadPool& pool, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n,
           std::int64_t k, float alpha, const float* a, std::int64_t lda, const float* b,
           std::int64_t ldb, float beta, float* c, std::int64_t ldc);

// How sgemm splits C: blocks of `rows` x `columns` (one of them the whole
// extent). Depends on the shape only.
struct GemmSplit {
  std::int64_t rows = 0;
  std::int64_t columns = 0;
};
GemmSplit gemm_split(std::int64_t m, std::int64_t n, std::int64_t k);

}  // namespace acefit::cpu
