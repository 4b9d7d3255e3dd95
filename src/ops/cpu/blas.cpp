#include "ops/cpu/blas.h"

#include <cblas.h>

namespace acefit::cpu {

void blas_set_threads(int threads) {
  openblas_set_num_threads(threads);
}

int blas_threads() {
  return openblas_get_num_threads();
}

const char* blas_name() {
  return "OpenBLAS";
}

void sgemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
           const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
           std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
              static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

}  // namespace acefit::cpu
