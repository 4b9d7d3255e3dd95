// The cases acefit-bench measures, each registered with Google Benchmark
// beside its OpenBLAS reference:
//   gemm       acefit linear (f32, bf16, int8 weights) against cblas_sgemm
//   attention  acefit attention (full, sliding window) against per-head
//              OpenBLAS attention (two sgemm calls and a row softmax)
//   tokenizer  Qwen3 encoding of ~100 KB of multilingual lyrics, when the
//              tokenizer files are found (ACEFIT_QWEN3_TOKENIZER_DIR, else
//              tests/reference/node/... from the working directory or the
//              repository that holds the binary)
#pragma once

#include <vector>

#include "bench_reporter.h"
#include "core/status.h"
#include "ops/op_context.h"

namespace acefit::bench {

struct Cases {
  std::vector<GemmRow> gemm;
  std::vector<AttentionRow> attention;
  TokenizerRow tokenizer;
};

// Makes the input tensors on ctx.device and registers every benchmark with a
// minimum time of min_time seconds. ctx must outlive the benchmark run.
// Fails when an input tensor cannot be made.
Expected<Cases> register_cases(const ops::OpContext& ctx, double min_time);

}  // namespace acefit::bench
