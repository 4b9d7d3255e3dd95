// The BLAS calls the CPU kernels make (OpenBLAS's cblas), behind plain
// functions so the rest of the code does not include cblas.h.
#pragma once

#include <cstdint>

namespace acefit::cpu {

// OpenBLAS keeps its own thread pool; match it to ours once at start-up.
void blas_set_threads(int threads);
int blas_threads();
const char* blas_name();

// C[M,N] = alpha * op(A) op(B) + beta * C, row-major, where op(A) is [M,K]
// and op(B) is [K,N]. trans_a: A is stored [K,M]; trans_b: B is stored [N,K].
void sgemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
           const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
           std::int64_t ldc);

}  // namespace acefit::cpu
