#include "bench_support.h"

#include <algorithm>
#include <vector>

#include "core/rng.h"

namespace acefit::bench {

Expected<Tensor> random_tensor(const ops::OpContext& ctx, Shape shape, MemoryTag tag,
                               std::uint64_t seed, float stddev) {
  ACEFIT_ASSIGN(Tensor t, ctx.device.empty(DType::f32, shape, tag));
  std::vector<float> values(static_cast<std::size_t>(t.numel()));
  Rng rng(seed);
  for (float& v : values) v = stddev * rng.normal();
  ACEFIT_TRY(ctx.device.copy_from_host(t.raw_data(), values.data(), t.nbytes()));
  return t;
}

std::string join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) out += part;
  return out;
}

benchmark::internal::Benchmark* configure(benchmark::internal::Benchmark* b, double min_time) {
  return b->MinTime(min_time)->UseRealTime()->Unit(benchmark::kMillisecond);
}

double visible_pairs(std::int64_t seq, std::int64_t window) {
  double pairs = 0;
  for (std::int64_t p = 0; p < seq; ++p) {
    pairs += static_cast<double>(std::min(seq - 1, p + window) -
                                 std::max<std::int64_t>(0, p - window) + 1);
  }
  return pairs;
}

}  // namespace acefit::bench
