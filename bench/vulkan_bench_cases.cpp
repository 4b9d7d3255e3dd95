#include "vulkan_bench_cases.h"

#include <benchmark/benchmark.h>

#include <cmath>
#include <initializer_list>
#include <string_view>

#include "bench_support.h"
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
  configure(benchmark::RegisterBenchmark(name.c_str(), body), min_time);
}

Status register_vk_gemm(const ops::OpContext& vk, double min_time, std::vector<VulkanRow>& rows) {
  const float w_stddev = 1.0f / std::sqrt(static_cast<float>(kVkGemmK));
  for (std::int64_t n : kVkGemmN) {
    ACEFIT_ASSIGN(Tensor w, random_tensor(vk, Shape{n, kVkGemmK}, MemoryTag::weights,
                                          static_cast<std::uint64_t>(2000 + n), w_stddev));
    ACEFIT_ASSIGN(Tensor w_bf16, ops::cast(vk, w, DType::bf16));
    ACEFIT_ASSIGN(auto quantized, ops::quantize_int8(vk, w));
    for (std::int64_t m : kVkGemmM) {
      ACEFIT_ASSIGN(Tensor x, random_tensor(vk, Shape{m, kVkGemmK}, MemoryTag::activations,
                                            static_cast<std::uint64_t>(1000 + m), 1.0f));
      const std::string shape =
          join({"m", std::to_string(m), "_n", std::to_string(n), "_k", std::to_string(kVkGemmK)});
      const std::pair<std::string, Tensor> variants[] = {
          {"f32", w}, {"bf16", w_bf16}, {"int8", quantized.first}};
      for (const auto& [weights, weight] : variants) {
        const std::string name = join({"vulkan/gemm/", shape, "/", weights});
        const Tensor scale = weights == "int8" ? quantized.second : Tensor{};
        register_op(name, min_time, vk, [x, weight, scale](const ops::OpContext& ctx) {
          return ops::linear(ctx, x, weight, {}, scale);
        });
        rows.push_back({"gemm", shape, weights,
                        2.0 * static_cast<double>(m) * static_cast<double>(n) * kVkGemmK, name,
                        join({"gemm/", shape, "/acefit_", weights}),
                        join({"gemm/", shape, "/openblas_sgemm"})});
      }
    }
  }
  return {};
}

Status register_vk_attention(const ops::OpContext& vk, double min_time,
                             std::vector<VulkanRow>& rows) {
  ACEFIT_ASSIGN(Tensor q, random_tensor(vk, Shape{1, kVkSeq, kVkQHeads, kVkHeadDim},
                                        MemoryTag::activations, 3001, 1.0f));
  ACEFIT_ASSIGN(Tensor k, random_tensor(vk, Shape{1, kVkSeq, kVkKvHeads, kVkHeadDim},
                                        MemoryTag::activations, 3002, 1.0f));
  ACEFIT_ASSIGN(Tensor v, random_tensor(vk, Shape{1, kVkSeq, kVkKvHeads, kVkHeadDim},
                                        MemoryTag::activations, 3003, 1.0f));
  const std::string shape =
      join({"s", std::to_string(kVkSeq), "_hq", std::to_string(kVkQHeads), "_hkv",
            std::to_string(kVkKvHeads), "_d", std::to_string(kVkHeadDim)});
  const double per_pair = 4.0 * kVkHeadDim * kVkQHeads;
  struct Mask {
    const char* name;
    ops::AttentionOptions options;
    double flops;
  };
  const Mask masks[] = {
      {"full", ops::AttentionOptions{}, per_pair * kVkSeq * kVkSeq},
      {"sliding_window",
       ops::AttentionOptions{ops::AttentionMask::sliding_window, kVkWindow, 0.0f, -1, {}},
       per_pair * visible_pairs(kVkSeq, kVkWindow)}};
  for (const Mask& mask : masks) {
    const std::string name = join({"vulkan/attention/", shape, "/", mask.name});
    register_op(name, min_time, vk, [q, k, v, options = mask.options](const ops::OpContext& ctx) {
      return ops::attention(ctx, q, k, v, options);
    });
    rows.push_back({"attention", shape, mask.name, mask.flops, name,
                    join({"attention/", shape, "/acefit_", mask.name}), ""});
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
  ACEFIT_ASSIGN(in.x, random_tensor(ctx, Shape{1, kConvChannels, kConvLength},
                                    MemoryTag::activations, 4001, 1.0f));
  ACEFIT_ASSIGN(in.w7, random_tensor(ctx, Shape{kConvChannels, kConvChannels, kConvKernel},
                                     MemoryTag::weights, 4002, scale));
  ACEFIT_ASSIGN(in.w1, random_tensor(ctx, Shape{kConvChannels, kConvChannels, 1},
                                     MemoryTag::weights, 4003, scale));
  ACEFIT_ASSIGN(in.bias, random_tensor(ctx, Shape{kConvChannels}, MemoryTag::weights, 4004, 0.1f));
  ACEFIT_ASSIGN(in.alpha, random_tensor(ctx, Shape{kConvChannels}, MemoryTag::weights, 4005, 0.1f));
  ACEFIT_ASSIGN(in.beta, random_tensor(ctx, Shape{kConvChannels}, MemoryTag::weights, 4006, 0.1f));
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
      join({"c", std::to_string(kConvChannels), "_l", std::to_string(kConvLength), "_k",
            std::to_string(kConvKernel), "_d", std::to_string(kConvDilation)});
  const double conv_flops = 2.0 * kConvChannels * kConvChannels * kConvKernel * kConvLength;
  const double unit_flops = conv_flops + 2.0 * kConvChannels * kConvChannels * kConvLength;
  for (const ops::OpContext* ctx : {&vk, &cpu}) {
    const std::string side = ctx == &vk ? "vulkan" : "cpu";
    ACEFIT_ASSIGN(ConvInputs in, conv_inputs(*ctx));
    register_op(join({side, "/conv/", shape, "/conv1d"}), min_time, *ctx,
                [in](const ops::OpContext& c) {
                  ops::Conv1dOptions options;
                  options.padding = kConvDilation * (kConvKernel - 1) / 2;
                  options.dilation = kConvDilation;
                  return ops::conv1d(c, in.x, in.w7, in.bias, options);
                });
    register_op(join({side, "/vae_block/", shape, "/residual_unit"}), min_time, *ctx,
                [in](const ops::OpContext& c) { return residual_unit(c, in); });
  }
  rows.push_back({"conv", shape, "conv1d", conv_flops, join({"vulkan/conv/", shape, "/conv1d"}),
                  join({"cpu/conv/", shape, "/conv1d"}), ""});
  rows.push_back({"vae_block", shape, "residual_unit", unit_flops,
                  join({"vulkan/vae_block/", shape, "/residual_unit"}),
                  join({"cpu/vae_block/", shape, "/residual_unit"}), ""});
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
