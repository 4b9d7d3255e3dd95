// Status/Expected, dtypes, shapes, tensor views, RNG and the thread pool.
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/dtype.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/status.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "device/cpu/cpu_device.h"
#include "test_support.h"

namespace acefit {
namespace {

Expected<int> half_of(int x) {
  if (x % 2 != 0) return invalid_argument("odd: " + std::to_string(x));
  return x / 2;
}

Expected<int> quarter_of(int x) {
  ACEFIT_ASSIGN(int half, half_of(x));
  ACEFIT_ASSIGN(int quarter, half_of(half));
  return quarter;
}

TEST(Status, CodesMessagesAndPropagation) {
  EXPECT_TRUE(Status().ok());
  EXPECT_EQ(quarter_of(8).value(), 2);
  const Status odd = quarter_of(6).status();
  EXPECT_EQ(odd.code(), ErrorCode::invalid_argument);
  EXPECT_EQ(odd.message(), "odd: 3");
  EXPECT_EQ(odd.to_string(), "invalid_argument: odd: 3");
  EXPECT_EQ(odd.with_context("loading").message(), "loading: odd: 3");
  for (ErrorCode code : {ErrorCode::invalid_argument, ErrorCode::not_found,
                         ErrorCode::out_of_memory, ErrorCode::corrupt, ErrorCode::unsupported,
                         ErrorCode::cancelled, ErrorCode::io, ErrorCode::internal}) {
    EXPECT_NE(error_code_name(code), "unknown");
  }
}

TEST(Status, ExpectedFromOkStatusIsAnInternalError) {
  Expected<int> bad{Status()};
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::internal);
}

TEST(Status, OutOfMemoryCarriesItsFacts) {
  const Status oom = Status::out_of_memory({1000, 300, 1200, "sim:0", MemoryTag::kv_cache});
  ASSERT_EQ(oom.code(), ErrorCode::out_of_memory);
  ASSERT_TRUE(oom.oom().has_value());
  EXPECT_EQ(oom.oom()->requested_bytes, 1000u);
  EXPECT_EQ(oom.oom()->used_bytes, 300u);
  EXPECT_EQ(oom.oom()->cap_bytes, 1200u);
  EXPECT_EQ(oom.oom()->device, "sim:0");
  EXPECT_EQ(oom.oom()->tag, MemoryTag::kv_cache);
  EXPECT_NE(oom.message().find("kv_cache"), std::string::npos);
  EXPECT_NE(oom.message().find("sim:0"), std::string::npos);
}

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::f32), 4u);
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_EQ(dtype_size(DType::f16), 2u);
  EXPECT_EQ(dtype_size(DType::i8), 1u);
  EXPECT_EQ(dtype_size(DType::i32), 4u);
  EXPECT_EQ(dtype_size(DType::i64), 8u);
  for (DType d : {DType::f32, DType::f16, DType::bf16, DType::i8, DType::i32, DType::i64}) {
    EXPECT_EQ(parse_dtype(dtype_name(d)), d);
  }
  EXPECT_FALSE(parse_dtype("F32").has_value());
}

TEST(DType, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  // 1 + 2^-8 lies exactly between two bf16 values: ties to even (down).
  EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3f80);
  // 1 + 3 * 2^-8 ties up to the even neighbour.
  EXPECT_EQ(f32_to_bf16(1.01171875f), 0x3f82);
  EXPECT_EQ(bf16_to_f32(0xc0a0), -5.0f);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::isinf(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::infinity()))));
  std::vector<std::uint16_t> in(37);
  for (std::size_t i = 0; i < in.size(); ++i)
    in[i] = f32_to_bf16(static_cast<float>(i) * 0.37f - 3.0f);
  std::vector<float> out(in.size());
  bf16_to_f32_n(in.data(), out.data(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) EXPECT_EQ(out[i], bf16_to_f32(in[i]));
}

TEST(DType, F16RoundTripsEveryValue) {
  // Every f16 bit pattern converts to f32 and back unchanged (NaNs stay NaN).
  std::vector<std::uint16_t> all(65536);
  for (std::uint32_t bits = 0; bits < 65536; ++bits) all[bits] = static_cast<std::uint16_t>(bits);
  std::vector<float> wide(all.size());
  f16_to_f32_n(all.data(), wide.data(), all.size());
  for (std::uint32_t bits = 0; bits < 65536; ++bits) {
    const float f = f16_to_f32(static_cast<std::uint16_t>(bits));
    ASSERT_TRUE(std::memcmp(&f, &wide[bits], 4) == 0 || (std::isnan(f) && std::isnan(wide[bits])))
        << bits;
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f))));
    } else {
      ASSERT_EQ(f32_to_f16(f), bits) << "f16 bits " << bits;
    }
  }
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);       // rounds to infinity
  EXPECT_EQ(f32_to_f16(5.9604645e-8f), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_f16(2.9802322e-8f), 0x0000);  // half of it ties to even (zero)
}

TEST(Shape, ValidityAndStrides) {
  Shape s{2, 3, 4};
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s.to_string(), "[2, 3, 4]");
  const auto strides = contiguous_strides(s);
  EXPECT_EQ(strides[0], 12);
  EXPECT_EQ(strides[1], 4);
  EXPECT_EQ(strides[2], 1);
  EXPECT_FALSE((Shape{2, -1}).valid());
  EXPECT_FALSE((Shape{std::numeric_limits<std::int64_t>::max(), 2}).valid());
  EXPECT_TRUE((Shape{0, std::numeric_limits<std::int64_t>::max()}).valid());
  EXPECT_FALSE((Shape{1, 1, 1, 1, 1, 1, 1, 1, 1}).valid());  // rank 9
  EXPECT_EQ(Shape{}.numel(), 1);
}

TEST(Tensor, ViewsShareStorage) {
  auto device = make_cpu_device();
  Tensor t = testing::unwrap(device->empty(DType::f32, Shape{2, 3, 4}, MemoryTag::activations));
  for (int i = 0; i < 24; ++i) t.data<float>()[i] = static_cast<float>(i);
  Tensor r = testing::unwrap(t.reshape(Shape{6, -1}));
  EXPECT_EQ(r.shape(), (Shape{6, 4}));
  EXPECT_EQ(r.data<float>(), t.data<float>());
  Tensor n = testing::unwrap(t.narrow(1, 1, 2));
  EXPECT_EQ(n.shape(), (Shape{2, 2, 4}));
  EXPECT_EQ(n.data<float>()[0], 4.0f);
  EXPECT_FALSE(n.is_contiguous());
  EXPECT_FALSE(n.reshape(Shape{16}).ok());
  Tensor tr = testing::unwrap(t.transpose(0, 2));
  EXPECT_EQ(tr.shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(tr.stride(0), 1);
  EXPECT_EQ(tr.stride(2), 12);
  EXPECT_FALSE(t.reshape(Shape{5, 5}).ok());
  EXPECT_FALSE(t.reshape(Shape{-1, -1}).ok());
  EXPECT_FALSE(t.narrow(1, 2, 2).ok());
  EXPECT_FALSE(t.narrow(3, 0, 1).ok());
  EXPECT_FALSE(t.transpose(0, 3).ok());
  EXPECT_TRUE(testing::unwrap(t.narrow(0, 1, 1)).is_contiguous());
}

TEST(Tensor, OverRejectsShapesLargerThanStorage) {
  auto device = make_cpu_device();
  auto storage = testing::unwrap(device->allocate(16, MemoryTag::io));
  EXPECT_TRUE(Tensor::over(storage, DType::f32, Shape{4}).ok());
  EXPECT_FALSE(Tensor::over(storage, DType::f32, Shape{5}).ok());
  EXPECT_FALSE(Tensor::over(storage, DType::i64, Shape{std::int64_t{1} << 61}).ok());
  EXPECT_FALSE(Tensor::over(nullptr, DType::f32, Shape{1}).ok());
}

TEST(Rng, DeterministicPerSeed) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const float x = a.normal();
    EXPECT_EQ(x, b.normal());
    (void)c;
  }
  Rng d(42), e(43);
  EXPECT_NE(d.next_u64(), e.next_u64());
  Rng stats(7);
  double sum = 0, sum2 = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const double v = stats.normal();
    sum += v;
    sum2 += v * v;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.03);
  EXPECT_NEAR(sum2 / n, 1.0, 0.05);
}

TEST(ThreadPool, CoversEveryIndexOnce) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (std::int64_t count : {0, 1, 7, 1000, 100003}) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(count));
      pool.parallel_for(count, 5, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) hits[static_cast<std::size_t>(i)]++;
      });
      for (std::int64_t i = 0; i < count; ++i)
        ASSERT_EQ(hits[static_cast<std::size_t>(i)].load(), 1);
    }
  }
}

TEST(ThreadPool, NestedAndRepeatedCalls) {
  ThreadPool pool(3);
  std::atomic<std::int64_t> total{0};
  for (int round = 0; round < 200; ++round) {
    pool.parallel_for(16, 1, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) {
        pool.parallel_for(10, 1, [&](std::int64_t b2, std::int64_t e2) { total += e2 - b2; });
      }
    });
  }
  EXPECT_EQ(total.load(), 200 * 16 * 10);
}

TEST(Logger, CallbackReceivesLevelsAtOrAboveTheMinimum) {
  std::vector<std::pair<LogLevel, std::string>> seen;
  Logger logger(
      [&](LogLevel level, std::string_view m) { seen.emplace_back(level, std::string(m)); },
      LogLevel::warning);
  logger.info("hidden");
  logger.warning("shown");
  logger.error("also shown");
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].first, LogLevel::warning);
  EXPECT_EQ(seen[1].second, "also shown");
  Logger().error("a default logger discards");
}

}  // namespace
}  // namespace acefit
