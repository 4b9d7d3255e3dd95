// acefit-bench: times acefit's CPU GEMM (linear with f32, bf16 and int8
// weights) and attention (full and sliding-window masks) against OpenBLAS on
// the same shapes in the same run, plus the Qwen3 tokenizer's encoding speed,
// and prints one JSON document on stdout.
//   acefit-bench [--quick] [--vulkan[=N]] [--benchmark_filter=REGEX] [other --benchmark_* flags]
// --vulkan adds the "vulkan" section (vulkan_bench_cases.h): GEMM per
// precision, attention, conv1d and a VAE residual unit on the Vulkan GPU
// `auto` would pick (or vulkan:N, e.g. lavapipe), beside the CPU figures.
// Each benchmark runs 5 repetitions, interleaved at random with the others so
// that drift in the machine's speed hits acefit and OpenBLAS alike; the JSON
// gives the median repetition. --quick runs one short repetition each, for
// smoke runs. --benchmark_repetitions=N overrides the count.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bench_cases.h"
#include "bench_machine.h"
#include "bench_reporter.h"
#include "core/thread_pool.h"
#include "device/cpu/cpu_device.h"
#include "device/vulkan/vulkan_device.h"
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

// Removes --vulkan / --vulkan=N from argv. -2: absent; -1: the preferred GPU.
int take_vulkan_flag(int& argc, char** argv) {
  int vulkan = -2;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--vulkan") == 0) {
      vulkan = -1;
    } else if (std::strncmp(argv[i], "--vulkan=", 9) == 0) {
      char* end = nullptr;
      const long index = std::strtol(argv[i] + 9, &end, 10);
      vulkan = (*end == '\0' && end != argv[i] + 9 && index >= 0 && index < 1000)
                   ? static_cast<int>(index)
                   : -3;
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  argv[argc] = nullptr;
  return vulkan;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = take_quick_flag(argc, argv);
  int vulkan_index = take_vulkan_flag(argc, argv);
  if (vulkan_index == -3) {
    std::fprintf(stderr, "acefit-bench: --vulkan=N needs N a device index (acefit devices)\n");
    return 2;
  }
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
  std::shared_ptr<acefit::Device> vulkan_device;
  std::vector<acefit::bench::VulkanRow> vulkan_rows;
  nlohmann::ordered_json vulkan_json;
  if (vulkan_index != -2) {
    if (vulkan_index == -1) {
      auto listed = acefit::list_vulkan_devices();
      vulkan_index = listed.ok() ? acefit::preferred_vulkan_device(listed.value()) : -1;
      if (vulkan_index < 0) {
        std::fprintf(stderr,
                     "acefit-bench: --vulkan: no Vulkan GPU found (%s); name a device with "
                     "--vulkan=N (acefit devices lists them)\n",
                     listed.ok() ? "only CPU implementations or unusable devices"
                                 : listed.status().to_string().c_str());
        return 1;
      }
    }
    auto opened = acefit::make_vulkan_device(vulkan_index);
    if (!opened.ok()) {
      std::fprintf(stderr, "acefit-bench: %s\n", opened.status().to_string().c_str());
      return 1;
    }
    vulkan_device = opened.value();
    const auto& info = acefit::as_vulkan(*vulkan_device)->info();
    vulkan_json = {{"name", vulkan_device->name()},
                   {"device_name", info.name},
                   {"vendor", info.vendor},
                   {"driver", info.driver},
                   {"api_version", info.api_version}};
  }
  static std::unique_ptr<acefit::ops::OpContext> vulkan_ctx;
  if (vulkan_device) {
    vulkan_ctx =
        std::make_unique<acefit::ops::OpContext>(acefit::ops::OpContext{*vulkan_device, pool});
    auto rows =
        acefit::bench::register_vulkan_cases(*vulkan_ctx, ctx, quick ? kQuickMinTime : kMinTime);
    if (!rows.ok()) {
      std::fprintf(stderr, "acefit-bench: vulkan: %s\n", rows.status().to_string().c_str());
      return 1;
    }
    vulkan_rows = std::move(rows).value();
  }
  const nlohmann::ordered_json machine = {
      {"cpu", acefit::bench::cpu_model()}, {"threads", pool.size()}, {"blas", blas_description()}};
  acefit::bench::JsonReporter reporter(machine, std::move(cases->gemm),
                                       std::move(cases->attention));
  reporter.set_tokenizer(std::move(cases->tokenizer));
  if (vulkan_device) reporter.set_vulkan(vulkan_json, std::move(vulkan_rows));
  const std::size_t ran = benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  if (ran == 0) {
    std::fprintf(stderr, "acefit-bench: no benchmark ran (check --benchmark_filter)\n");
    return 1;
  }
  return reporter.failed() ? 1 : 0;
}
