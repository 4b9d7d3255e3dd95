#include "engine/runtime.h"

#include <charconv>

#include "ops/cpu/blas.h"

namespace acefit {

int thread_count(const EnvLookup& environment, std::vector<std::string>& warnings) {
  const auto raw = environment ? environment("ACEFIT_THREADS") : std::nullopt;
  if (!raw || raw->empty()) return ThreadPool::hardware_threads();
  int n = 0;
  const auto [ptr, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), n);
  if (ec != std::errc() || ptr != raw->data() + raw->size() || n < 1 || n > 1024) {
    warnings.push_back("Invalid ACEFIT_THREADS value: " + *raw + " (expected 1..1024), using " +
                       std::to_string(ThreadPool::hardware_threads()));
    return ThreadPool::hardware_threads();
  }
  return n;
}

Expected<Runtime> open_runtime_for(const DeviceRequest& request, const EnvLookup& environment) {
  Runtime runtime;
  const int threads = thread_count(environment, runtime.warnings);
  runtime.pool = std::make_unique<ThreadPool>(threads);
  cpu::blas_set_threads(threads);
  ACEFIT_ASSIGN(runtime.device, open_device(request, runtime.warnings));
  return runtime;
}

}  // namespace acefit
