// JsonReporter: a Google Benchmark display reporter for acefit-bench. It
// collects the mean real time per iteration of every run and, when all runs
// are done, prints one JSON document on stdout that pairs each acefit figure
// with the OpenBLAS figure for the same shape, plus the tokenizer's speed. Progress goes to stderr.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "vulkan_bench_cases.h"

namespace acefit::bench {

// One "gemm" row: y[M,N] = x[M,K] w[N,K]^T, acefit linear against cblas_sgemm.
struct GemmRow {
  std::int64_t m = 0, n = 0, k = 0;
  std::string weights;      // f32, bf16 or int8
  std::string acefit_name;  // benchmark names, as registered
  std::string openblas_name;
};

// One "attention" row: acefit attention against per-head OpenBLAS attention.
struct AttentionRow {
  std::int64_t seq = 0, q_heads = 0, kv_heads = 0, head_dim = 0;
  std::string mask;           // full or sliding_window
  std::int64_t window = -1;   // reported for sliding_window only
  double acefit_flops = 0;    // useful flops: visible (query, key) pairs only
  double openblas_flops = 0;  // flops the reference performs
  std::string reference;
  std::string acefit_name;
  std::string openblas_name;
};

// The "tokenizer" section: Qwen3 encoding speed on a multilingual lyrics
// text. With no tokenizer files, only `note` is set and the section says why.
struct TokenizerRow {
  std::string name;  // benchmark name, as registered ("" when skipped)
  std::string tokenizer_dir;
  std::int64_t text_bytes = 0;
  std::int64_t tokens = 0;
  std::string note;
  // The same text encoded by @lenml/tokenizers under node in the same run
  // (tests/reference/tokenizer_speed.mjs); reference_seconds < 0 when node or
  // the package is missing, with reference_note saying why.
  double reference_seconds = -1;
  std::int64_t reference_tokens = 0;
  bool reference_ids_match = false;
  std::string reference_note;
};

class JsonReporter final : public benchmark::BenchmarkReporter {
 public:
  JsonReporter(nlohmann::ordered_json machine, std::vector<GemmRow> gemm,
               std::vector<AttentionRow> attention);

  bool ReportContext(const Context& context) override;
  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;

  void set_tokenizer(TokenizerRow row) { tokenizer_ = std::move(row); }
  // The vulkan section (acefit-bench --vulkan): `device` describes it.
  void set_vulkan(nlohmann::ordered_json device, std::vector<VulkanRow> rows) {
    vulkan_device_ = std::move(device);
    vulkan_ = std::move(rows);
  }

  // True when a benchmark reported an error (SkipWithError).
  bool failed() const { return failed_; }

 private:
  struct Timing {
    std::vector<double> samples;         // seconds per iteration, one per repetition
    std::optional<double> mean_seconds;  // from a "mean" aggregate, if reported
  };

  // Median over repetitions of the real seconds per iteration, if it ran.
  std::optional<double> seconds(const std::string& name) const;
  nlohmann::ordered_json document() const;

  nlohmann::ordered_json machine_;
  std::vector<GemmRow> gemm_;
  std::vector<AttentionRow> attention_;
  TokenizerRow tokenizer_;
  nlohmann::ordered_json vulkan_device_;
  std::vector<VulkanRow> vulkan_;
  std::map<std::string, Timing> timings_;
  int name_width_ = 0;  // for the progress lines on stderr
  bool failed_ = false;
};

}  // namespace acefit::bench
