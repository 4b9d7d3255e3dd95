// contiguous, transpose, slice, concat, pad, cast and embedding.
#include "ops/layout.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "device/planning/planning_device.h"
#include "test_support.h"

namespace acefit {
namespace {

class LayoutTest : public testing::DeviceTest {};
ACEFIT_DEVICE_TEST_SUITE(LayoutTest);

std::vector<float> iota(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i);
  return v;
}

TEST_P(LayoutTest, TransposeAndContiguous) {
  Tensor x = up(iota(24), Shape{2, 3, 4});
  Tensor t = testing::unwrap(ops::transpose(ctx(), x, 0, 2));
  EXPECT_EQ(t.shape(), (Shape{4, 3, 2}));
  EXPECT_TRUE(t.is_contiguous());
  std::vector<double> ref;
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 2; ++c) ref.push_back(c * 12 + b * 4 + a);
  testing::expect_close(testing::download(t), ref, 0, 0, "transpose(0, 2)");
  Tensor view = testing::unwrap(x.transpose(1, 2));
  Tensor c = testing::unwrap(ops::contiguous(ctx(), view));
  std::vector<double> ref2;
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 4; ++b)
      for (int cc = 0; cc < 3; ++cc) ref2.push_back(a * 12 + cc * 4 + b);
  testing::expect_close(testing::download(c), ref2, 0, 0, "contiguous of a transposed view");
}

TEST_P(LayoutTest, SliceConcatPad) {
  Tensor x = up(iota(24), Shape{2, 3, 4});
  Tensor s = testing::unwrap(ops::slice(ctx(), x, 1, 1, 3));
  testing::expect_close(testing::download(s),
                        {4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23}, 0, 0, "slice");
  EXPECT_EQ(testing::unwrap(ops::slice(ctx(), x, -1, 2, 2)).numel(), 0);
  EXPECT_FALSE(ops::slice(ctx(), x, 1, 2, 4).ok());
  EXPECT_FALSE(ops::slice(ctx(), x, 3, 0, 1).ok());

  Tensor a = up(iota(4), Shape{2, 2});
  Tensor b = up({10, 11, 12, 13, 14, 15}, Shape{2, 3});
  testing::expect_close(testing::download(testing::unwrap(ops::concat(ctx(), {a, b}, 1))),
                        {0, 1, 10, 11, 12, 2, 3, 13, 14, 15}, 0, 0, "concat axis 1");
  testing::expect_close(testing::download(testing::unwrap(ops::concat(ctx(), {a, a, a}, 0))),
                        {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3}, 0, 0, "concat axis 0");
  EXPECT_FALSE(ops::concat(ctx(), {a, b}, 0).ok());
  EXPECT_FALSE(ops::concat(ctx(), {}, 0).ok());

  testing::expect_close(testing::download(testing::unwrap(ops::pad(ctx(), a, 1, 1, 2))),
                        {0, 0, 1, 0, 0, 0, 2, 3, 0, 0}, 0, 0, "pad zeros");
  testing::expect_close(testing::download(testing::unwrap(ops::pad(ctx(), a, 0, 0, 1, -1.0f))),
                        {0, 1, 2, 3, -1, -1}, 0, 0, "pad value");
  EXPECT_FALSE(ops::pad(ctx(), a, 0, -1, 0).ok());
}

// Raw bytes of a tensor of any dtype.
template <typename T>
std::vector<T> download_as(const Tensor& t) {
  std::vector<T> values(static_cast<std::size_t>(t.numel()));
  const Status status = t.device()->copy_to_host(values.data(), t.raw_data(), t.nbytes());
  if (!status.ok()) throw std::runtime_error(status.to_string());
  return values;
}

// The element of `view` at flat (row-major) index i, read from `base` by strides.
template <typename T>
T element_of_view(const std::vector<T>& base, const Tensor& view, std::int64_t i) {
  std::int64_t offset = view.offset();
  for (int axis = view.rank() - 1; axis >= 0; --axis) {
    offset += (i % view.dim(axis)) * view.stride(axis);
    i /= view.dim(axis);
  }
  return base[static_cast<std::size_t>(offset)];
}

// contiguous of a transposed and narrowed view, checked element by element.
template <typename T>
void expect_contiguous_matches(const ops::OpContext& ctx, const std::vector<T>& values,
                               const Tensor& base, const Tensor& view, const std::string& what) {
  ASSERT_EQ(base.offset(), 0);
  Tensor c = testing::unwrap(ops::contiguous(ctx, view));
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.shape(), view.shape());
  const std::vector<T> got = download_as<T>(c);
  std::int64_t bad = 0;
  for (std::int64_t i = 0; i < view.numel(); ++i) {
    if (got[static_cast<std::size_t>(i)] != element_of_view(values, view, i)) ++bad;
  }
  EXPECT_EQ(bad, 0) << what;
}

TEST_P(LayoutTest, ContiguousOfTransposedNarrowedViewsInEveryElementSize) {
  const Shape shape{3, 5, 7, 9};
  const auto n = static_cast<std::size_t>(shape.numel());
  auto view_of = [&](const Tensor& base) {
    Tensor v = testing::unwrap(base.transpose(1, 3));  // [3, 9, 7, 5]
    v = testing::unwrap(v.narrow(1, 2, 6));            // [3, 6, 7, 5]
    v = testing::unwrap(v.narrow(3, 1, 3));            // [3, 6, 7, 3]
    return testing::unwrap(v.transpose(0, 2));         // [7, 6, 3, 3]
  };
  std::vector<std::uint16_t> bf16(n);
  std::vector<std::int64_t> i64(n);
  std::vector<std::int8_t> i8(n);
  for (std::size_t i = 0; i < n; ++i) {
    bf16[i] = f32_to_bf16(static_cast<float>(i) * 0.25f);
    i64[i] = (static_cast<std::int64_t>(i) << 33) - static_cast<std::int64_t>(i) * 7;
    i8[i] = static_cast<std::int8_t>(i * 37);
  }
  Tensor tb = testing::upload_bytes(*device_, bf16.data(), DType::bf16, shape);
  Tensor tl = testing::upload_bytes(*device_, i64.data(), DType::i64, shape);
  Tensor t8 = testing::upload_bytes(*device_, i8.data(), DType::i8, shape);
  expect_contiguous_matches(ctx(), bf16, tb, view_of(tb), "bf16");
  expect_contiguous_matches(ctx(), i64, tl, view_of(tl), "i64");
  expect_contiguous_matches(ctx(), i8, t8, view_of(t8), "i8");
  // Every dim strided (nothing merges): rank 8, 8-byte elements.
  const Shape rank8{2, 3, 2, 3, 2, 2, 3, 2};
  std::vector<std::int64_t> big(static_cast<std::size_t>(rank8.numel()));
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = -static_cast<std::int64_t>(i) * 1000003;
  Tensor t = testing::upload_bytes(*device_, big.data(), DType::i64, rank8);
  Tensor v = testing::unwrap(testing::unwrap(t.transpose(0, 7)).transpose(2, 5));
  v = testing::unwrap(v.narrow(6, 1, 2));
  expect_contiguous_matches(ctx(), big, t, v, "rank-8 i64");
  // A one-element view.
  expect_contiguous_matches(ctx(), i64, tl, testing::unwrap(view_of(tl).narrow(0, 4, 1)),
                            "i64 narrowed");
  EXPECT_EQ(testing::unwrap(ops::contiguous(ctx(), testing::unwrap(tl.narrow(2, 3, 0)))).numel(),
            0);
}

TEST_P(LayoutTest, ConcatThreePartsAlongFirstAndLastAxis) {
  // Parts [2, 3, 4], [2, 3, 1] and a transposed view [2, 3, 5] (from [2, 5, 3]).
  const auto a = testing::random_floats(24, 1), b = testing::random_floats(6, 2),
             c = testing::random_floats(30, 3);
  Tensor ta = up(a, Shape{2, 3, 4}), tb = up(b, Shape{2, 3, 1});
  Tensor tc = testing::unwrap(up(c, Shape{2, 5, 3}).transpose(1, 2));
  Tensor last = testing::unwrap(ops::concat(ctx(), {ta, tb, tc}, -1));
  EXPECT_EQ(last.shape(), (Shape{2, 3, 10}));
  std::vector<double> ref;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      for (int k = 0; k < 4; ++k) ref.push_back(a[static_cast<std::size_t>((i * 3 + j) * 4 + k)]);
      ref.push_back(b[static_cast<std::size_t>(i * 3 + j)]);
      for (int k = 0; k < 5; ++k) ref.push_back(c[static_cast<std::size_t>((i * 5 + k) * 3 + j)]);
    }
  }
  testing::expect_close(testing::download(last), ref, 0, 0, "concat along the last axis");

  // Along axis 0: [1, 3, 10], [2, 3, 10] (the result above) and [3, 3, 10].
  const auto d = testing::random_floats(30, 4), e = testing::random_floats(90, 5);
  Tensor first = testing::unwrap(
      ops::concat(ctx(), {up(d, Shape{1, 3, 10}), last, up(e, Shape{3, 3, 10})}, 0));
  EXPECT_EQ(first.shape(), (Shape{6, 3, 10}));
  std::vector<double> ref0(d.begin(), d.end());
  ref0.insert(ref0.end(), ref.begin(), ref.end());
  ref0.insert(ref0.end(), e.begin(), e.end());
  testing::expect_close(testing::download(first), ref0, 0, 0, "concat along the first axis");

  // i64 along the middle axis, one part empty.
  const std::vector<std::int64_t> p{1, 2, 3, 4}, q{-5, -6}, none{};
  Tensor joined = testing::unwrap(
      ops::concat(ctx(),
                  {testing::upload_bytes(*device_, p.data(), DType::i64, Shape{2, 2}),
                   testing::upload_bytes(*device_, none.data(), DType::i64, Shape{2, 0}),
                   testing::upload_bytes(*device_, q.data(), DType::i64, Shape{2, 1})},
                  1));
  EXPECT_EQ(download_as<std::int64_t>(joined), (std::vector<std::int64_t>{1, 2, -5, 3, 4, -6}));
}

TEST_P(LayoutTest, PadEveryElementSize) {
  const std::vector<std::uint16_t> h{1, 2, 3, 4, 5, 6};
  Tensor hb = testing::upload_bytes(*device_, h.data(), DType::bf16, Shape{3, 2});
  EXPECT_EQ(download_as<std::uint16_t>(testing::unwrap(ops::pad(ctx(), hb, 1, 2, 1))),
            (std::vector<std::uint16_t>{0, 0, 1, 2, 0, 0, 0, 3, 4, 0, 0, 0, 5, 6, 0}));
  const std::vector<std::int64_t> l{-1, 1LL << 40};
  Tensor tl = testing::upload_bytes(*device_, l.data(), DType::i64, Shape{2});
  EXPECT_EQ(download_as<std::int64_t>(testing::unwrap(ops::pad(ctx(), tl, 0, 1, 2))),
            (std::vector<std::int64_t>{0, -1, 1LL << 40, 0, 0}));
  const std::vector<std::int8_t> b{-3, 4, 5, -6};
  Tensor t8 = testing::upload_bytes(*device_, b.data(), DType::i8, Shape{2, 1, 2});
  EXPECT_EQ(download_as<std::int8_t>(testing::unwrap(ops::pad(ctx(), t8, 1, 1, 0))),
            (std::vector<std::int8_t>{0, 0, -3, 4, 0, 0, 5, -6}));
  // f32 with a value, a long axis (several workgroups), -0 pads as +0 like the CPU.
  const auto x = testing::random_floats(3 * 700, 6);
  Tensor y = testing::unwrap(ops::pad(ctx(), up(x, Shape{3, 700}), 1, 5, 300, 2.5f));
  std::vector<double> ref;
  for (int r = 0; r < 3; ++r) {
    for (int t = 0; t < 1005; ++t)
      ref.push_back(t >= 5 && t < 705 ? x[static_cast<std::size_t>(r * 700 + t - 5)] : 2.5);
  }
  testing::expect_close(testing::download(y), ref, 0, 0, "pad f32 with a value");
  const std::vector<float> zero_pad =
      testing::download(testing::unwrap(ops::pad(ctx(), up({1, 2}, Shape{2}), 0, 1, 0, -0.0f)));
  EXPECT_GT(1.0f / zero_pad[0], 0.0f);  // +0
}

// What a run of `body` adds to the device's peak, overall and in workspace.
template <typename Body>
std::pair<std::uint64_t, std::uint64_t> layout_peak_of(Device& device, Body body) {
  device.budget().reset_peaks();
  const std::uint64_t used = device.budget().used_bytes();
  const std::uint64_t workspace = device.budget().current_bytes(MemoryTag::workspace);
  body(ops::OpContext{device, testing::test_pool()});
  return {device.budget().peak_bytes() - used,
          device.budget().peak_bytes(MemoryTag::workspace) - workspace};
}

// The planning device of a device sees exactly what a concat allocates: on
// the host a workspace for each non-contiguous part, on vulkan none.
TEST_P(LayoutTest, ConcatPlansWhatItAllocates) {
  auto body = [](const ops::OpContext& c) {
    Tensor a = testing::unwrap(c.device.empty(DType::f32, Shape{4, 6}, MemoryTag::activations));
    Tensor b = testing::unwrap(c.device.empty(DType::f32, Shape{6, 4}, MemoryTag::activations));
    Tensor bt = testing::unwrap(b.transpose(0, 1));
    Tensor y = testing::unwrap(ops::concat(c, {a, bt, a, bt}, 1));
    EXPECT_EQ(y.shape(), (Shape{4, 24}));
  };
  auto planner = make_planning_device(*device_);
  const auto planned = layout_peak_of(*planner, body);
  const auto measured = layout_peak_of(*device_, body);
  EXPECT_EQ(planned, measured);
  EXPECT_EQ(measured.second > 0, device_->kind() != DeviceKind::vulkan);
}

TEST_P(LayoutTest, CastRoundTrips) {
  const auto values = testing::random_floats(333, 3, 100.0f);
  Tensor x = up(values, Shape{333});
  for (DType narrow : {DType::bf16, DType::f16}) {
    Tensor n = testing::unwrap(ops::cast(ctx(), x, narrow));
    EXPECT_EQ(n.dtype(), narrow);
    Tensor back = testing::unwrap(ops::cast(ctx(), n, DType::f32));
    std::vector<double> ref(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      ref[i] = narrow == DType::bf16 ? bf16_to_f32(f32_to_bf16(values[i]))
                                     : f16_to_f32(f32_to_f16(values[i]));
    }
    testing::expect_close(testing::download(back), ref, 0, 0,
                          std::string(dtype_name(narrow)) + " cast");
  }
  EXPECT_FALSE(ops::cast(ctx(), x, DType::i32).ok());
}

TEST_P(LayoutTest, EmbeddingLookup) {
  const std::int64_t vocab = 11, width = 6;
  const auto table = testing::random_floats(vocab * width, 4);
  const std::vector<std::int32_t> ids32 = {3, 0, 10, 3, 7, 1};
  const std::vector<std::int64_t> ids64(ids32.begin(), ids32.end());
  std::vector<double> ref;
  for (std::int32_t id : ids32)
    for (std::int64_t j = 0; j < width; ++j) ref.push_back(table[id * width + j]);
  Tensor t = up(table, Shape{vocab, width});
  Tensor e = testing::unwrap(ops::embedding(
      ctx(), t, testing::upload_bytes(*device_, ids32.data(), DType::i32, Shape{2, 3})));
  EXPECT_EQ(e.shape(), (Shape{2, 3, width}));
  testing::expect_close(testing::download(e), ref, 0, 0, "embedding i32");
  Tensor e64 = testing::unwrap(ops::embedding(
      ctx(), t, testing::upload_bytes(*device_, ids64.data(), DType::i64, Shape{6})));
  testing::expect_close(testing::download(e64), ref, 0, 0, "embedding i64");
  Tensor tb = testing::unwrap(ops::cast(ctx(), t, DType::bf16));
  std::vector<double> ref_bf16;
  for (double v : ref) ref_bf16.push_back(bf16_to_f32(f32_to_bf16(static_cast<float>(v))));
  testing::expect_close(
      testing::download(testing::unwrap(ops::embedding(
          ctx(), tb, testing::upload_bytes(*device_, ids32.data(), DType::i32, Shape{6})))),
      ref_bf16, 0, 0, "embedding bf16 table");
  const std::vector<std::int32_t> bad = {2, 11};
  const Status out_of_range =
      ops::embedding(ctx(), t, testing::upload_bytes(*device_, bad.data(), DType::i32, Shape{2}))
          .status();
  EXPECT_EQ(out_of_range.code(), ErrorCode::invalid_argument);
  EXPECT_NE(out_of_range.message().find("id 11"), std::string::npos);
  const std::vector<std::int32_t> negative = {-1};
  EXPECT_FALSE(ops::embedding(
                   ctx(), t, testing::upload_bytes(*device_, negative.data(), DType::i32, Shape{1}))
                   .ok());
  EXPECT_FALSE(ops::embedding(ctx(), t, up({1.0f}, Shape{1})).ok());
}

}  // namespace
}  // namespace acefit

namespace acefit {
namespace {

std::uint32_t layout_float_bits(float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, 4);
  return bits;
}

float layout_bits_float(std::uint32_t bits) {
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

// A tensor's raw 16- or 32-bit words.
template <typename Word>
std::vector<Word> download_words(const Tensor& t) {
  std::vector<Word> out(static_cast<std::size_t>(t.numel()));
  EXPECT_EQ(t.nbytes(), out.size() * sizeof(Word));
  const Status status = t.device()->copy_to_host(out.data(), t.raw_data(), t.nbytes());
  if (!status.ok()) throw std::runtime_error(status.to_string());
  return out;
}

// Every f16 and bf16 bit pattern widens to the f32 the host gives; f32
// specials (inf, NaN, subnormals, f16 subnormal range, ties, overflow) and a
// sweep over the f32 bit patterns narrow bit for bit as the host does.
TEST_P(LayoutTest, CastSpecialValuesBitExact) {
  std::vector<std::uint16_t> all(65536);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint16_t>(i);
  for (DType narrow : {DType::f16, DType::bf16}) {
    const std::string name(dtype_name(narrow));
    Tensor t = testing::upload_bytes(*device_, all.data(), narrow, Shape{65536});
    const auto wide =
        download_words<std::uint32_t>(testing::unwrap(ops::cast(ctx(), t, DType::f32)));
    std::size_t bad = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
      const float expected = narrow == DType::f16 ? f16_to_f32(all[i]) : bf16_to_f32(all[i]);
      const bool same = std::isnan(expected) ? std::isnan(layout_bits_float(wide[i]))
                                             : wide[i] == layout_float_bits(expected);
      if (!same && bad++ < 5) ADD_FAILURE() << name << " -> f32 of 0x" << std::hex << all[i];
    }
    EXPECT_EQ(bad, 0u) << name << " -> f32";
    // Between the two 16-bit types (through f32, as the host does).
    const DType other = narrow == DType::f16 ? DType::bf16 : DType::f16;
    const auto crossed = download_words<std::uint16_t>(testing::unwrap(ops::cast(ctx(), t, other)));
    bad = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
      const float v = narrow == DType::f16 ? f16_to_f32(all[i]) : bf16_to_f32(all[i]);
      if (std::isnan(v)) continue;  // the host's bulk widening may quiet a NaN
      const std::uint16_t expected = other == DType::f16 ? f32_to_f16(v) : f32_to_bf16(v);
      if (crossed[i] != expected && bad++ < 5)
        ADD_FAILURE() << name << " -> " << dtype_name(other) << " of 0x" << std::hex << all[i];
    }
    EXPECT_EQ(bad, 0u) << name << " -> " << dtype_name(other);
  }
  std::vector<float> values = {0.0f,
                               -0.0f,
                               INFINITY,
                               -INFINITY,
                               NAN,
                               -NAN,
                               layout_bits_float(0x7f800001u),  // signalling NaN
                               1e-40f,
                               -1e-40f,
                               1.4e-45f,  // f32 subnormals
                               3.4028235e38f,
                               -3.4028235e38f,
                               65504.0f,
                               65519.0f,
                               65520.0f,
                               -65520.0f,
                               6.1035156e-5f,
                               6.0e-5f,
                               5.9604645e-8f,
                               2.9802322e-8f,  // 2^-25: tie between 0 and 2^-24
                               4.4703484e-8f,  // 3 * 2^-26: rounds up to 2^-24
                               8.940697e-8f,   // 1.5 * 2^-24: tie, to even (2^-23)
                               1.0f + 1.0f / 256,
                               1.0f + 3.0f / 256,  // bf16 ties
                               1.0f + 1.0f / 2048,
                               1.0f + 3.0f / 2048,  // f16 ties
                               -1.0f - 1.0f / 2048,
                               1.0009766f,
                               3.14159265f};
  for (std::uint64_t bits = 0; bits < (1ull << 32); bits += 4093) {
    values.push_back(layout_bits_float(static_cast<std::uint32_t>(bits)));
  }
  Tensor x = testing::upload_bytes(*device_, values.data(), DType::f32,
                                   Shape{static_cast<std::int64_t>(values.size())});
  for (DType narrow : {DType::f16, DType::bf16}) {
    const auto got = download_words<std::uint16_t>(testing::unwrap(ops::cast(ctx(), x, narrow)));
    std::size_t bad = 0;
    for (std::size_t i = 0; i < values.size(); ++i) {
      const std::uint16_t expected =
          narrow == DType::f16 ? f32_to_f16(values[i]) : f32_to_bf16(values[i]);
      if (got[i] != expected && bad++ < 5) {
        ADD_FAILURE() << "f32 0x" << std::hex << layout_float_bits(values[i]) << " -> "
                      << dtype_name(narrow) << " gave 0x" << got[i] << ", expected 0x" << expected;
      }
    }
    EXPECT_EQ(bad, 0u) << "f32 -> " << dtype_name(narrow);
  }
  // Same dtype: a copy.
  const auto same = download_words<std::uint32_t>(testing::unwrap(ops::cast(ctx(), x, DType::f32)));
  EXPECT_TRUE(std::equal(same.begin(), same.end(), download_words<std::uint32_t>(x).begin()));
}

// More ids than one workgroup checks, bad ids past the first workgroup,
// i64 ids whose low word alone would look valid, and an odd-width bf16 table.
TEST_P(LayoutTest, EmbeddingManyIdsAndBadIds) {
  const std::int64_t vocab = 37, width = 5;
  const auto table = testing::random_floats(vocab * width, 17);
  std::vector<std::int32_t> ids(1000);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int32_t>((i * 7) % 37);
  std::vector<double> ref, ref_bf16;
  for (std::int32_t id : ids) {
    for (std::int64_t j = 0; j < width; ++j) {
      ref.push_back(table[static_cast<std::size_t>(id * width + j)]);
      ref_bf16.push_back(bf16_to_f32(f32_to_bf16(table[static_cast<std::size_t>(id * width + j)])));
    }
  }
  Tensor t = up(table, Shape{vocab, width});
  Tensor tb = testing::unwrap(ops::cast(ctx(), t, DType::bf16));
  Tensor ids32 = testing::upload_bytes(*device_, ids.data(), DType::i32, Shape{10, 100});
  Tensor e = testing::unwrap(ops::embedding(ctx(), t, ids32));
  EXPECT_EQ(e.shape(), (Shape{10, 100, width}));
  testing::expect_close(testing::download(e), ref, 0, 0, "embedding of 1000 ids");
  testing::expect_close(testing::download(testing::unwrap(ops::embedding(ctx(), tb, ids32))),
                        ref_bf16, 0, 0, "embedding of 1000 ids, bf16 table");

  auto bad_ids = ids;
  bad_ids[900] = -5;
  bad_ids[700] = 37;
  const Status first =
      ops::embedding(ctx(), t,
                     testing::upload_bytes(*device_, bad_ids.data(), DType::i32, Shape{1000}))
          .status();
  EXPECT_EQ(first.code(), ErrorCode::invalid_argument);
  EXPECT_NE(first.message().find("id 37 at index 700"), std::string::npos) << first.message();

  std::vector<std::int64_t> ids64(ids.begin(), ids.end());
  ids64[513] = (std::int64_t{1} << 32) + 3;  // low word 3: valid if only it were read
  const Status wide =
      ops::embedding(ctx(), t,
                     testing::upload_bytes(*device_, ids64.data(), DType::i64, Shape{1000}))
          .status();
  EXPECT_EQ(wide.code(), ErrorCode::invalid_argument);
  EXPECT_NE(wide.message().find("id 4294967299 at index 513"), std::string::npos) << wide.message();
  ids64[513] = -1;
  const Status negative =
      ops::embedding(ctx(), t,
                     testing::upload_bytes(*device_, ids64.data(), DType::i64, Shape{1000}))
          .status();
  EXPECT_NE(negative.message().find("id -1 at index 513"), std::string::npos) << negative.message();
  ids64[513] = 36;
  testing::expect_close(
      testing::download(testing::unwrap(ops::embedding(
          ctx(), t, testing::upload_bytes(*device_, ids64.data(), DType::i64, Shape{1000})))),
      [&] {
        auto r = ref;
        for (std::int64_t j = 0; j < width; ++j)
          r[static_cast<std::size_t>(513 * width + j)] =
              table[static_cast<std::size_t>(36 * width + j)];
        return r;
      }(),
      0, 0, "embedding i64");
}

// The planning device sees the same allocations as the device (on vulkan,
// embedding's status word too).
TEST_P(LayoutTest, EmbeddingPlannedEqualsMeasured) {
  auto planner = make_planning_device(*device_);
  std::uint64_t peaks[2] = {0, 0};
  const std::vector<std::int32_t> ids = {1, 2, 3, 4, 5, 6, 7};
  for (int planned = 0; planned < 2; ++planned) {
    Device& device = planned ? *planner : *device_;
    Tensor table = testing::unwrap(device.empty(DType::f32, Shape{9, 4}, MemoryTag::weights));
    Tensor id_tensor = testing::unwrap(device.empty(DType::i32, Shape{7}, MemoryTag::io));
    if (!planned) {
      ASSERT_TRUE(device.copy_from_host(id_tensor.raw_data(), ids.data(), 28).ok());
      const std::vector<float> zeros(36);
      ASSERT_TRUE(device.copy_from_host(table.raw_data(), zeros.data(), 144).ok());
    }
    device.budget().reset_peaks();
    const std::uint64_t base = device.budget().used_bytes();
    Tensor y = testing::unwrap(
        ops::embedding(ops::OpContext{device, testing::test_pool()}, table, id_tensor));
    peaks[planned] = device.budget().peak_bytes() - base;
  }
  EXPECT_EQ(peaks[1], peaks[0]);
  EXPECT_GT(peaks[0], 0u);
}

}  // namespace
}  // namespace acefit
