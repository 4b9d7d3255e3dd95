// Helpers the acefit-bench case files share.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "core/status.h"
#include "ops/op_context.h"

namespace acefit::bench {

// An f32 tensor of N(0, stddev^2) values from `seed` on ctx.device (any
// device: the values are copied from the host).
Expected<Tensor> random_tensor(const ops::OpContext& ctx, Shape shape, MemoryTag tag,
                               std::uint64_t seed, float stddev);

// Concatenates parts (GCC 12 warns, falsely, on some `"literal" + std::string`).
std::string join(std::initializer_list<std::string_view> parts);

// Minimum time, real time, milliseconds: every benchmark's settings.
benchmark::internal::Benchmark* configure(benchmark::internal::Benchmark* b, double min_time);

// Keys query p sees under |p - j| <= window, summed over all queries.
double visible_pairs(std::int64_t seq, std::int64_t window);

}  // namespace acefit::bench
