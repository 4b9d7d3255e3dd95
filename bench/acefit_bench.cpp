// acefit-bench: times acefit's CPU GEMM (linear with f32, bf16 and int8
// weights) and attention (full and sliding-window masks) against OpenBLAS on
// the same shapes in the same run, plus the Qwen3 tokenizer's encoding speed,
// and prints one JSON document on stdout.
//   acefit-bench [--quick] [--benchmark_filter=REGEX] [other --benchmark_* flags]
// Each benchmark runs 5 repetitions, interleaved at random with the others so
// that drift in the machine's speed hits acefit and OpenBLAS alike; the JSON
// gives the median repetition. --quick runs one short repetition each, for
// smoke runs. --benchmark_repetitions=N overrides the count.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bench_cases.h"
#include "bench_machine.h"
#include "bench_reporter.h"
#include "core/thread_pool.h"
#include "device/cpu/cpu_device.h"
#include "ops/cpu/blas.h"
#include "ops/op_context.h"

namespace {

constexpr double kMinTime = 0.15;
constexpr double kQuickMinTime = 0.05;
constexpr const char* kRepetitions = "--benchmark_repetitions=5";
constexpr const char* kInterleave = "--benchmark_enable_random_interleaving=true";

// "OpenBLAS 0.3.21 ..." from openblas_get_config(), which may or may not
// start with the library's name.
std::string blas_description() {
  std::string config = openblas_get_config();
  const std::string_view prefix = "OpenBLAS ";
  if (config.rfind(prefix, 0) == 0) config.erase(0, prefix.size());
  return "OpenBLAS " + config;
}

// Removes --quick from argv; returns whether it was there.
bool take_quick_flag(int& argc, char** argv) {
  bool quick = false;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  argv[argc] = nullptr;
  return quick;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = take_quick_flag(argc, argv);
  // Defaults first, so that flags given on the command line win.
  std::vector<char*> args(argv, argv + argc);
  if (!quick) {
    args.insert(args.begin() + 1, const_cast<char*>(kInterleave));
    args.insert(args.begin() + 1, const_cast<char*>(kRepetitions));
  }
  args.push_back(nullptr);
  argc = static_cast<int>(args.size()) - 1;
  argv = args.data();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  acefit::ThreadPool pool(0);
  acefit::cpu::blas_set_threads(pool.size());
  auto device = acefit::make_cpu_device();
  const acefit::ops::OpContext ctx{*device, pool};

  auto cases = acefit::bench::register_cases(ctx, quick ? kQuickMinTime : kMinTime);
  if (!cases.ok()) {
    std::fprintf(stderr, "acefit-bench: %s\n", cases.status().to_string().c_str());
    return 1;
  }
  const nlohmann::ordered_json machine = {
      {"cpu", acefit::bench::cpu_model()}, {"threads", pool.size()}, {"blas", blas_description()}};
  acefit::bench::JsonReporter reporter(machine, std::move(cases->gemm),
                                       std::move(cases->attention));
  reporter.set_tokenizer(std::move(cases->tokenizer));
  const std::size_t ran = benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  if (ran == 0) {
    std::fprintf(stderr, "acefit-bench: no benchmark ran (check --benchmark_filter)\n");
    return 1;
  }
  return reporter.failed() ? 1 : 0;
}
