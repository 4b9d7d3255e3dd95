// acefit selfcheck: a quick proof that this machine runs acefit correctly:
// ops against naive references, the budget's hard cap, and planned peak
// equal to measured peak on the selected device.
#include <cmath>
#include <cstdio>
#include <functional>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "core/rng.h"
#include "core/timer.h"
#include "device/planning/planning_device.h"
#include "device/sim/sim_device.h"
#include "ops/attention.h"
#include "ops/linear.h"
#include "ops/sample_workload.h"
#include "runtime.h"

namespace acefit::cli {

namespace {

using Check = std::function<std::string()>;  // empty string = pass, else the failure

Expected<Tensor> host_tensor(Device& device, const std::vector<float>& values, Shape shape) {
  ACEFIT_ASSIGN(Tensor t, device.empty(DType::f32, shape, MemoryTag::io));
  ACEFIT_TRY(device.copy_from_host(t.raw_data(), values.data(), values.size() * sizeof(float)));
  return t;
}

std::vector<float> to_host(const Tensor& t) {
  std::vector<float> out(static_cast<std::size_t>(t.numel()));
  if (t.device()->copy_to_host(out.data(), t.raw_data(), out.size() * sizeof(float)).ok())
    return out;
  return {};
}

std::vector<float> random_values(Rng& rng, std::size_t n) {
  std::vector<float> v(n);
  for (float& x : v) x = rng.normal();
  return v;
}

std::string check_linear(const ops::OpContext& ctx) {
  Rng rng(1);
  const std::int64_t m = 5, n = 7, k = 33;
  auto xs = random_values(rng, m * k), ws = random_values(rng, n * k);
  auto x = host_tensor(ctx.device, xs, Shape{m, k});
  auto w = host_tensor(ctx.device, ws, Shape{n, k});
  if (!x.ok() || !w.ok()) return "upload failed";
  auto y = ops::linear(ctx, *x, *w);
  if (!y.ok()) return y.status().to_string();
  const auto ys = to_host(*y);
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double ref = 0;
      for (std::int64_t p = 0; p < k; ++p)
        ref += static_cast<double>(xs[i * k + p]) * ws[j * k + p];
      if (std::fabs(ref - ys[static_cast<std::size_t>(i * n + j)]) > 1e-4 * (1 + std::fabs(ref))) {
        return "linear differs from the naive product at (" + std::to_string(i) + ", " +
               std::to_string(j) + ")";
      }
    }
  }
  return {};
}

std::string check_attention(const ops::OpContext& ctx) {
  Rng rng(2);
  const std::int64_t s = 9, hq = 4, hkv = 2, d = 8;
  auto qs = random_values(rng, s * hq * d), ks = random_values(rng, s * hkv * d),
       vs = random_values(rng, s * hkv * d);
  auto q = host_tensor(ctx.device, qs, Shape{1, s, hq, d});
  auto k = host_tensor(ctx.device, ks, Shape{1, s, hkv, d});
  auto v = host_tensor(ctx.device, vs, Shape{1, s, hkv, d});
  if (!q.ok() || !k.ok() || !v.ok()) return "upload failed";
  ops::AttentionOptions options;
  options.mask = ops::AttentionMask::causal;
  auto out = ops::attention(ctx, *q, *k, *v, options);
  if (!out.ok()) return out.status().to_string();
  const auto os = to_host(*out);
  for (std::int64_t i = 0; i < s; ++i) {
    for (std::int64_t h = 0; h < hq; ++h) {
      std::vector<double> p(static_cast<std::size_t>(i + 1));
      double peak = -1e300, sum = 0;
      for (std::int64_t j = 0; j <= i; ++j) {
        double dot = 0;
        for (std::int64_t c = 0; c < d; ++c)
          dot += qs[(i * hq + h) * d + c] * ks[(j * hkv + h / 2) * d + c];
        p[static_cast<std::size_t>(j)] = dot / std::sqrt(static_cast<double>(d));
        peak = std::max(peak, p[static_cast<std::size_t>(j)]);
      }
      for (auto& e : p) sum += (e = std::exp(e - peak));
      for (std::int64_t c = 0; c < d; ++c) {
        double ref = 0;
        for (std::int64_t j = 0; j <= i; ++j)
          ref += p[static_cast<std::size_t>(j)] / sum * vs[(j * hkv + h / 2) * d + c];
        if (std::fabs(ref - os[static_cast<std::size_t>((i * hq + h) * d + c)]) > 1e-4)
          return "causal GQA attention differs";
      }
    }
  }
  return {};
}

std::string check_plan_equals_run(const ops::OpContext& ctx) {
  const std::uint64_t base = ctx.device.budget().used_bytes();
  ctx.device.budget().reset_peaks();
  {
    auto out = ops::run_sample_workload(ctx, {}, 7);
    if (!out.ok()) return out.status().to_string();
  }
  const std::uint64_t measured = ctx.device.budget().peak_bytes() - base;
  auto planner = make_planning_device(ctx.device);
  {
    auto out = ops::run_sample_workload(ops::OpContext{*planner, ctx.pool}, {}, 7);
    if (!out.ok()) return out.status().to_string();
  }
  const PlanReport plan = plan_report(*planner);
  if (plan.peak_bytes != measured) {
    return "planned peak " + std::to_string(plan.peak_bytes) + " != measured peak " +
           std::to_string(measured);
  }
  if (ctx.device.budget().used_bytes() != base) return "the workload leaked device memory";
  return {};
}

std::string check_hard_cap(ThreadPool& pool) {
  auto planner = make_planning_device(*make_sim_device(1ull << 30));
  if (!ops::run_sample_workload(ops::OpContext{*planner, pool}, {}, 7).ok())
    return "planning failed";
  const std::uint64_t peak = plan_report(*planner).peak_bytes;
  for (std::uint64_t cap : {peak, peak - 1}) {
    auto device = make_sim_device(cap);
    auto out = ops::run_sample_workload(ops::OpContext{*device, pool}, {}, 7);
    const bool should_fit = cap == peak;
    if (out.ok() != should_fit) {
      return "cap of " + std::to_string(cap) + " bytes: expected " +
             (should_fit ? "success" : "out_of_memory") + ", got " +
             (out.ok() ? "success" : out.status().to_string());
    }
    if (!out.ok() && out.status().code() != ErrorCode::out_of_memory)
      return out.status().to_string();
    out = Status(ErrorCode::cancelled, "released");
    if (device->budget().used_bytes() != 0) return "memory left allocated after an out_of_memory";
  }
  return {};
}

int run_selfcheck(const std::optional<std::string>& device_flag) {
  auto runtime = open_runtime(device_flag);
  if (!runtime.ok()) {
    return report_error("selfcheck", runtime.status().to_string());
  }
  for (const auto& warning : runtime->warnings) report_warning("selfcheck", warning);
  Device& device = *runtime->device;
  ops::OpContext ctx{device, *runtime->pool};
  std::printf("self-check on %s (%d threads)\n", device.name().c_str(), runtime->pool->size());
  const std::vector<std::pair<const char*, Check>> checks = {
      {"linear matches a naive product", [&] { return check_linear(ctx); }},
      {"causal GQA attention matches a naive softmax", [&] { return check_attention(ctx); }},
      {"planned peak equals measured peak", [&] { return check_plan_equals_run(ctx); }},
      {"hard cap: fits at the planned peak, out_of_memory one byte below",
       [&] { return check_hard_cap(*runtime->pool); }},
  };
  int passed = 0, failed = 0;
  for (const auto& [name, check] : checks) {
    Stopwatch watch;
    const std::string failure = check();
    if (failure.empty()) {
      ++passed;
      std::printf("  PASS  %s (%.1f ms)\n", name, watch.elapsed_ms());
    } else {
      ++failed;
      std::printf("  FAIL  %s: %s\n", name, failure.c_str());
    }
  }
  std::printf("selfcheck: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace

void add_selfcheck_command(CLI::App& app, int& exit_code) {
  auto* command =
      app.add_subcommand("selfcheck", "Check ops, memory caps and planning on this machine");
  auto device = std::make_shared<std::string>();
  command->add_option(
      "--device", *device,
      "auto, cpu, sim, vulkan, vulkan:N, cuda or cuda:N (default: ACEFIT_DEVICE or auto)");
  command->callback([device, &exit_code] {
    exit_code = run_selfcheck(device->empty() ? std::nullopt : std::optional<std::string>(*device));
  });
}

}  // namespace acefit::cli
