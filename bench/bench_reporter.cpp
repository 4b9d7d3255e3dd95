// JsonReporter: turns Google Benchmark runs into acefit-bench's JSON document
// (machine, gemm rows, attention rows; each acefit figure beside OpenBLAS's;
// the tokenizer's encoding speed).
#include "bench_reporter.h"

#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <utility>

namespace acefit::bench {

namespace {

// A number for the document, or null when the benchmark did not run (for
// example because --benchmark_filter left it out).
nlohmann::ordered_json number_or_null(std::optional<double> value) {
  if (!value) return nullptr;
  return *value;
}

std::optional<double> gflops(double flops, std::optional<double> seconds) {
  if (!seconds || *seconds <= 0) return std::nullopt;
  return flops / *seconds / 1e9;
}

std::optional<double> milliseconds(std::optional<double> seconds) {
  if (!seconds) return std::nullopt;
  return *seconds * 1e3;
}

std::optional<double> quotient(std::optional<double> a, std::optional<double> b) {
  if (!a || !b || *b <= 0) return std::nullopt;
  return *a / *b;
}

}  // namespace

JsonReporter::JsonReporter(nlohmann::ordered_json machine, std::vector<GemmRow> gemm,
                           std::vector<AttentionRow> attention)
    : machine_(std::move(machine)), gemm_(std::move(gemm)), attention_(std::move(attention)) {
  for (const GemmRow& row : gemm_) {
    for (const auto* name : {&row.acefit_name, &row.openblas_name}) {
      name_width_ = std::max(name_width_, static_cast<int>(name->size()) + 2);
    }
  }
  for (const AttentionRow& row : attention_) {
    for (const auto* name : {&row.acefit_name, &row.openblas_name}) {
      name_width_ = std::max(name_width_, static_cast<int>(name->size()) + 2);
    }
  }
}

bool JsonReporter::ReportContext(const Context& context) {
  PrintBasicContext(&GetErrorStream(), context);
  return true;
}

void JsonReporter::ReportRuns(const std::vector<Run>& runs) {
  for (const Run& run : runs) {
    const std::string& name = run.run_name.function_name;
    if (run.error_occurred) {
      failed_ = true;
      GetErrorStream() << name << ": error: " << run.error_message << "\n";
      continue;
    }
    Timing& timing = timings_[name];
    if (run.run_type == Run::RT_Aggregate) {
      // Used only when no per-repetition run came (--benchmark_report_aggregates_only).
      if (run.aggregate_name == "mean" && run.aggregate_unit == benchmark::kTime) {
        timing.mean_seconds =
            run.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(run.time_unit);
      }
      continue;
    }
    if (run.iterations <= 0) continue;
    const double seconds = run.real_accumulated_time / static_cast<double>(run.iterations);
    timing.samples.push_back(seconds);
    char line[64];
    std::snprintf(line, sizeof line, "%10.3f ms  (%lld iterations)", seconds * 1e3,
                  static_cast<long long>(run.iterations));
    GetErrorStream() << std::left << std::setw(name_width_) << name << line << "\n";
  }
}

std::optional<double> JsonReporter::seconds(const std::string& name) const {
  auto it = timings_.find(name);
  if (it == timings_.end()) return std::nullopt;
  std::vector<double> samples = it->second.samples;
  if (!samples.empty()) {
    std::sort(samples.begin(), samples.end());
    const std::size_t mid = samples.size() / 2;
    return samples.size() % 2 == 1 ? samples[mid] : 0.5 * (samples[mid - 1] + samples[mid]);
  }
  return it->second.mean_seconds;
}

nlohmann::ordered_json JsonReporter::document() const {
  nlohmann::ordered_json gemm = nlohmann::ordered_json::array();
  for (const GemmRow& row : gemm_) {
    const auto acefit = seconds(row.acefit_name);
    const auto openblas = seconds(row.openblas_name);
    if (!acefit && !openblas) continue;
    const double flops =
        2.0 * static_cast<double>(row.m) * static_cast<double>(row.n) * static_cast<double>(row.k);
    const auto acefit_gflops = gflops(flops, acefit);
    const auto openblas_gflops = gflops(flops, openblas);
    gemm.push_back({{"m", row.m},
                    {"n", row.n},
                    {"k", row.k},
                    {"weights", row.weights},
                    {"acefit_gflops", number_or_null(acefit_gflops)},
                    {"openblas_sgemm_gflops", number_or_null(openblas_gflops)},
                    {"ratio", number_or_null(quotient(acefit_gflops, openblas_gflops))},
                    {"acefit_ms", number_or_null(milliseconds(acefit))},
                    {"openblas_ms", number_or_null(milliseconds(openblas))}});
  }
  nlohmann::ordered_json attention = nlohmann::ordered_json::array();
  for (const AttentionRow& row : attention_) {
    const auto acefit = seconds(row.acefit_name);
    const auto openblas = seconds(row.openblas_name);
    if (!acefit && !openblas) continue;
    nlohmann::ordered_json entry = {{"seq", row.seq},
                                    {"q_heads", row.q_heads},
                                    {"kv_heads", row.kv_heads},
                                    {"head_dim", row.head_dim},
                                    {"mask", row.mask}};
    if (row.window >= 0) entry["window"] = row.window;
    entry["acefit_ms"] = number_or_null(milliseconds(acefit));
    entry["acefit_gflops"] = number_or_null(gflops(row.acefit_flops, acefit));
    entry["openblas_ms"] = number_or_null(milliseconds(openblas));
    entry["openblas_gflops"] = number_or_null(gflops(row.openblas_flops, openblas));
    entry["ratio"] = number_or_null(quotient(openblas, acefit));
    entry["reference"] = row.reference;
    attention.push_back(std::move(entry));
  }
  nlohmann::ordered_json tokenizer = {{"tokenizer_dir", tokenizer_.tokenizer_dir}};
  if (!tokenizer_.note.empty()) tokenizer["note"] = tokenizer_.note;
  if (!tokenizer_.name.empty()) {
    const auto encode = seconds(tokenizer_.name);
    tokenizer["text_bytes"] = tokenizer_.text_bytes;
    tokenizer["tokens"] = tokenizer_.tokens;
    tokenizer["encode_ms"] = number_or_null(milliseconds(encode));
    tokenizer["tokens_per_second"] =
        number_or_null(quotient(static_cast<double>(tokenizer_.tokens), encode));
    tokenizer["mb_per_second"] =
        number_or_null(quotient(static_cast<double>(tokenizer_.text_bytes) / 1e6, encode));
    nlohmann::ordered_json reference = {{"implementation", "@lenml/tokenizers (node)"}};
    if (tokenizer_.reference_seconds >= 0) {
      reference["encode_ms"] = tokenizer_.reference_seconds * 1e3;
      reference["tokens_per_second"] =
          static_cast<double>(tokenizer_.reference_tokens) / tokenizer_.reference_seconds;
      reference["ids_match"] = tokenizer_.reference_ids_match;
      tokenizer["speedup_vs_reference"] =
          number_or_null(quotient(tokenizer_.reference_seconds, encode));
    } else {
      reference["note"] = tokenizer_.reference_note;
    }
    tokenizer["reference"] = std::move(reference);
  }
  nlohmann::ordered_json out = {{"machine", machine_},
                                {"gemm", std::move(gemm)},
                                {"attention", std::move(attention)},
                                {"tokenizer", std::move(tokenizer)}};
  if (!vulkan_device_.is_null()) {
    // Each op on the vulkan device beside the same op on the CPU device (and
    // cblas_sgemm for the gemm rows), measured in this run.
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const VulkanRow& row : vulkan_) {
      const auto vulkan = seconds(row.vulkan_name);
      const auto cpu = seconds(row.cpu_name);
      if (!vulkan && !cpu) continue;  // filtered out
      nlohmann::ordered_json entry = {{"section", row.section},
                                      {"shape", row.shape},
                                      {"variant", row.variant},
                                      {"vulkan_ms", number_or_null(milliseconds(vulkan))},
                                      {"vulkan_gflops", number_or_null(gflops(row.flops, vulkan))},
                                      {"cpu_ms", number_or_null(milliseconds(cpu))},
                                      {"cpu_gflops", number_or_null(gflops(row.flops, cpu))},
                                      {"speedup_vs_cpu", number_or_null(quotient(cpu, vulkan))}};
      if (!row.reference_name.empty()) {
        entry["openblas_sgemm_gflops"] =
            number_or_null(gflops(row.flops, seconds(row.reference_name)));
      }
      rows.push_back(std::move(entry));
    }
    out["vulkan"] = {{"device", vulkan_device_}, {"rows", std::move(rows)}};
  }
  return out;
}

void JsonReporter::Finalize() {
  GetOutputStream() << document().dump(2) << std::endl;
}

}  // namespace acefit::bench
