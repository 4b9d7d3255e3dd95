#include "vulkan_bench_cases.h"

#include <benchmark/benchmark.h>

#include <cmath>
#include <initializer_list>
#include <string_view>

#include "core/rng.h"
#include "ops/attention.h"
#include "ops/conv.h"
#include "ops/layout.h"
#include "ops/linear.h"

namespace acefit::bench {

namespace {

// The CPU rows' shapes (bench_cases.cpp), so their names pair up.
constexpr std::int64_t kVkGemmK = 2048;
constexpr std::int64_t kVkGemmM[] = {375, 1500};
constexpr std::int64_t kVkGemmN[] = {2048, 6144};
constexpr std::int64_t kVkSeq = 1500, kVkQHeads = 16, kVkKvHeads = 8, kVkHeadDim = 128;
constexpr std::int64_t kVkWindow = 128;
// A VAE residual unit's conv: 512 channels, kernel 7, dilation 3, 4096 samples.
constexpr std::int64_t kConvChannels = 512, kConvLength = 4096, kConvKernel = 7, kConvDilation = 3;

std::string vk_join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) out += part;
  return out;
}

Expected<Tensor> vk_random(const ops::OpContext& ctx, Shape shape, MemoryTag tag,
                           std::uint64_t seed, float stddev) {
  std::vector<float> values(static_cast<std::size_t>(shape.numel()));
  Rng rng(seed);
  for (float& v : values) v = rng.normal() * stddev;
  ACEFIT_ASSIGN(Tensor t, ctx.device.empty(DType::f32, shape, tag));
  ACEFIT_TRY(ctx.device.copy_from_host(t.raw_data(), values.data(), t.nbytes()));
  return t;
}

// Registers `op` (returning Expected<Tensor>) on ctx; the time includes
// waiting for the device.
template <typename Op>
void register_op(const std::string& name, double min_time, const ops::OpContext& ctx, Op op) {
  auto body = [&ctx, op](benchmark::State& state) {
    for (auto _ : state) {
      auto y = op(ctx);
      const Status done = y.ok() ? ctx.device.synchronize() : y.status();
      if (!done.ok()) {
        state.SkipWithError(done.to_string().c_str());
        break;
      }
    }
  };
  benchmark::RegisterBenchmark(name.c_str(), body)
      ->MinTime(min_time)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

Status register_vk_gemm(const ops::OpContext& vk, double min_time, std::vector<VulkanRow>& rows) {
  const float w_stddev = 1.0f / std::sqrt(static_cast<float>(kVkGemmK));
  for (std::int64_t n : kVkGemmN) {
    ACEFIT_ASSIGN(Tensor w, vk_random(vk, Shape{n, kVkGemmK}, MemoryTag::weights,
                                      static_cast<std::uint64_t>(2000 + n), w_stddev));
    ACEFIT_ASSIGN(Tensor w_bf16, ops::cast(vk, w, DType::bf16));
    ACEFIT_ASSIGN(auto quantized, ops::quantize_int8(vk, w));
    for (std::int64_t m : kVkGemmM) {
      ACEFIT_ASSIGN(Tensor x, vk_random(vk, Shape{m, kVkGemmK}, MemoryTag::activations,
                                        static_cast<std::uint64_t>(1000 + m), 1.0f));
      const std::string shape = vk_join(
          {"m", std::to_string(m), "_n", std::to_string(n), "_k", std::to_string(kVkGemmK)});
      const std::pair<std::string, Tensor> variants[] = {
          {"f32", w}, {"bf16", w_bf16}, {"int8", quantized.first}};
      for (const auto& [weights, weight] : variants) {
        const std::string name = vk_join({"vulkan/gemm/", shape, "/", weights});
        const Tensor scale = weights == "int8" ? quantized.second : Tensor{};
        register_op(name, min_time, vk, [x, weight, scale](const ops::OpContext& ctx) {
          return ops::linear(ctx, x, weight, {}, scale);
        });
        rows.push_back({"gemm", shape, weights,
                        2.0 * static_cast<double>(m) * static_cast<double>(n) * kVkGemmK, name,
                        vk_join({"gemm/", shape, "/acefit_", weights}),
                        vk_join({"gemm/", shape, "/openblas_sgemm"})});
      }
    }
  }
  return {};
}

Status register_vk_attention(const ops::OpContext& vk, double min_time,
                             std::vector<VulkanRow>& rows) {
  ACEFIT_ASSIGN(Tensor q, vk_random(vk, Shape{1, kVkSeq, kVkQHeads, kVkHeadDim},
                                    MemoryTag::activations, 3001, 1.0f));
  ACEFIT_ASSIGN(Tensor k, vk_random(vk, Shape{1, kVkSeq, kVkKvHeads, kVkHeadDim},
                                    MemoryTag::activations, 3002, 1.0f));
  ACEFIT_ASSIGN(Tensor v, vk_random(vk, Shape{1, kVkSeq, kVkKvHeads, kVkHeadDim},
                                    MemoryTag::activations, 3003, 1.0f));
  const std::string shape =
      vk_join({"s", std::to_string(kVkSeq), "_hq", std::to_string(kVkQHeads), "_hkv",
               std::to_string(kVkKvHeads), "_d", std::to_string(kVkHeadDim)});
  const double per_pair = 4.0 * kVkHeadDim * kVkQHeads;
  double window_pairs = 0;
  for (std::int64_t p = 0; p < kVkSeq; ++p) {
    window_pairs += static_cast<double>(std::min(kVkSeq - 1, p + kVkWindow) -
                                        std::max<std::int64_t>(0, p - kVkWindow) + 1);
  }
  struct Mask {
    const char* name;
    ops::AttentionOptions options;
    double flops;
  };
  const Mask masks[] = {
      {"full", ops::AttentionOptions{}, per_pair * kVkSeq * kVkSeq},
      {"sliding_window",
       ops::AttentionOptions{ops::AttentionMask::sliding_window, kVkWindow, 0.0f, -1, {}},
       per_pair * window_pairs}};
  for (const Mask& mask : masks) {
    const std::string name = vk_join({"vulkan/attention/", shape, "/", mask.name});
    register_op(name, min_time, vk, [q, k, v, options = mask.options](const ops::OpContext& ctx) {
      return ops::attention(ctx, q, k, v, options);
    });
    rows.push_back({"attention", shape, mask.name, mask.flops, name,
                    vk_join({"attention/", shape, "/acefit_", mask.name}), ""});
  }
  return {};
}

// conv1d and a residual unit (snake, conv k7, snake, conv k1) on one device.
struct ConvInputs {
  Tensor x, w7, w1, bias, alpha, beta;
};

Expected<ConvInputs> conv_inputs(const ops::OpContext& ctx) {
  ConvInputs in;
  const float scale = 1.0f / std::sqrt(static_cast<float>(kConvChannels * kConvKernel));
  ACEFIT_ASSIGN(in.x, vk_random(ctx, Shape{1, kConvChannels, kConvLength}, MemoryTag::activations,
                                4001, 1.0f));
  ACEFIT_ASSIGN(in.w7, vk_random(ctx, Shape{kConvChannels, kConvChannels, kConvKernel},
                                 MemoryTag::weights, 4002, scale));
  ACEFIT_ASSIGN(in.w1, vk_random(ctx, Shape{kConvChannels, kConvChannels, 1}, MemoryTag::weights,
                                 4003, scale));
  ACEFIT_ASSIGN(in.bias, vk_random(ctx, Shape{kConvChannels}, MemoryTag::weights, 4004, 0.1f));
  ACEFIT_ASSIGN(in.alpha, vk_random(ctx, Shape{kConvChannels}, MemoryTag::weights, 4005, 0.1f));
  ACEFIT_ASSIGN(in.beta, vk_random(ctx, Shape{kConvChannels}, MemoryTag::weights, 4006, 0.1f));
  return in;
}

Expected<Tensor> residual_unit(const ops::OpContext& ctx, const ConvInputs& in) {
  ACEFIT_ASSIGN(Tensor h, ops::snake(ctx, in.x, in.alpha, in.beta));
  ops::Conv1dOptions options;
  options.padding = kConvDilation * (kConvKernel - 1) / 2;
  options.dilation = kConvDilation;
  ACEFIT_ASSIGN(h, ops::conv1d(ctx, h, in.w7, in.bias, options));
  ACEFIT_ASSIGN(h, ops::snake(ctx, h, in.alpha, in.beta));
  return ops::conv1d(ctx, h, in.w1, in.bias);
}

Status register_vk_conv(const ops::OpContext& vk, const ops::OpContext& cpu, double min_time,
                        std::vector<VulkanRow>& rows) {
  const std::string shape =
      vk_join({"c", std::to_string(kConvChannels), "_l", std::to_string(kConvLength), "_k",
               std::to_string(kConvKernel), "_d", std::to_string(kConvDilation)});
  const double conv_flops = 2.0 * kConvChannels * kConvChannels * kConvKernel * kConvLength;
  const double unit_flops = conv_flops + 2.0 * kConvChannels * kConvChannels * kConvLength;
  for (const ops::OpContext* ctx : {&vk, &cpu}) {
    const std::string side = ctx == &vk ? "vulkan" : "cpu";
    ACEFIT_ASSIGN(ConvInputs in, conv_inputs(*ctx));
    register_op(vk_join({side, "/conv/", shape, "/conv1d"}), min_time, *ctx,
                [in](const ops::OpContext& c) {
                  ops::Conv1dOptions options;
                  options.padding = kConvDilation * (kConvKernel - 1) / 2;
                  options.dilation = kConvDilation;
                  return ops::conv1d(c, in.x, in.w7, in.bias, options);
                });
    register_op(vk_join({side, "/vae_block/", shape, "/residual_unit"}), min_time, *ctx,
                [in](const ops::OpContext& c) { return residual_unit(c, in); });
  }
  rows.push_back({"conv", shape, "conv1d", conv_flops, vk_join({"vulkan/conv/", shape, "/conv1d"}),
                  vk_join({"cpu/conv/", shape, "/conv1d"}), ""});
  rows.push_back({"vae_block", shape, "residual_unit", unit_flops,
                  vk_join({"vulkan/vae_block/", shape, "/residual_unit"}),
                  vk_join({"cpu/vae_block/", shape, "/residual_unit"}), ""});
  return {};
}

}  // namespace

Expected<std::vector<VulkanRow>> register_vulkan_cases(const ops::OpContext& vulkan,
                                                       const ops::OpContext& cpu, double min_time) {
  std::vector<VulkanRow> rows;
  ACEFIT_TRY(register_vk_gemm(vulkan, min_time, rows));
  ACEFIT_TRY(register_vk_attention(vulkan, min_time, rows));
  ACEFIT_TRY(register_vk_conv(vulkan, cpu, min_time, rows));
  ACEFIT_TRY(vulkan.device.synchronize());
  return rows;
}

}  // namespace acefit::bench
