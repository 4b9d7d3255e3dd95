// ops::copy_into: writing a tensor into a view of an existing one, against a
// naive reference, on every device.
#include <cstdint>
#include <vector>

#include "device/planning/planning_device.h"
#include "ops/layout.h"
#include "test_support.h"

namespace acefit::copy_into_tests {
namespace {

class CopyIntoTest : public testing::DeviceTest {};
ACEFIT_DEVICE_TEST_SUITE(CopyIntoTest);

// The flat index into the base storage of element i (row-major) of `view`.
std::int64_t storage_index(const Tensor& view, std::int64_t i) {
  std::int64_t offset = view.offset();
  for (int axis = view.rank() - 1; axis >= 0; --axis) {
    offset += (i % view.dim(axis)) * view.stride(axis);
    i /= view.dim(axis);
  }
  return offset;
}

// What the base holds after writing `src` (read through `src_view`'s
// strides from `src_base`) into `dst_view`.
template <typename T>
std::vector<T> reference_write(std::vector<T> base, const Tensor& dst_view,
                               const std::vector<T>& src_base, const Tensor& src_view) {
  for (std::int64_t i = 0; i < dst_view.numel(); ++i) {
    base[static_cast<std::size_t>(storage_index(dst_view, i))] =
        src_base[static_cast<std::size_t>(storage_index(src_view, i))];
  }
  return base;
}

template <typename T>
std::vector<T> download_as(const Tensor& t) {
  std::vector<T> values(static_cast<std::size_t>(t.numel()));
  const Status status = t.device()->copy_to_host(values.data(), t.raw_data(), t.nbytes());
  if (!status.ok()) throw std::runtime_error(status.to_string());
  return values;
}

std::vector<double> as_doubles(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}

TEST_P(CopyIntoTest, IntoAnOffsetViewAcrossManyWorkgroups) {
  // A KV-cache-like pool [3, 300, 2, 4]: write [1, 290, 2, 4] at sequence 1,
  // token 7 (2320 elements: several workgroups).
  const auto base = testing::random_floats(3 * 300 * 8, 11);
  const auto fresh = testing::random_floats(290 * 8, 12);
  Tensor pool = up(base, Shape{3, 300, 2, 4});
  Tensor src = up(fresh, Shape{1, 290, 2, 4});
  Tensor dst = testing::unwrap(testing::unwrap(pool.narrow(0, 1, 1)).narrow(1, 7, 290));
  ASSERT_GT(dst.offset(), 0);
  ASSERT_TRUE(ops::copy_into(ctx(), dst, src).ok());
  testing::expect_close(testing::download(pool), as_doubles(reference_write(base, dst, fresh, src)),
                        0, 0, "pool after copy_into");
}

TEST_P(CopyIntoTest, StridedOnBothSidesInEveryElementSize) {
  // dst: the inner columns [1, 4) of a [40, 9] matrix's rows [2, 37);
  // src: a transposed view [35, 3] of a [3, 35] matrix.
  const auto base = testing::random_floats(40 * 9, 21);
  const auto fresh = testing::random_floats(3 * 35, 22);
  Tensor target = up(base, Shape{40, 9});
  Tensor dst = testing::unwrap(testing::unwrap(target.narrow(0, 2, 35)).narrow(1, 1, 3));
  Tensor src = testing::unwrap(up(fresh, Shape{3, 35}).transpose(0, 1));
  ASSERT_TRUE(ops::copy_into(ctx(), dst, src).ok());
  testing::expect_close(testing::download(target),
                        as_doubles(reference_write(base, dst, fresh, src)), 0, 0, "f32 strided");

  std::vector<std::uint16_t> h(40 * 9), hs(3 * 35);
  std::vector<std::int64_t> l(40 * 9), ls(3 * 35);
  for (std::size_t i = 0; i < h.size(); ++i) {
    h[i] = static_cast<std::uint16_t>(i * 7);
    l[i] = -static_cast<std::int64_t>(i) << 35;
  }
  for (std::size_t i = 0; i < hs.size(); ++i) {
    hs[i] = static_cast<std::uint16_t>(60000 - i);
    ls[i] = static_cast<std::int64_t>(i) * 1000000007LL;
  }
  Tensor th = testing::upload_bytes(*device_, h.data(), DType::bf16, Shape{40, 9});
  Tensor tl = testing::upload_bytes(*device_, l.data(), DType::i64, Shape{40, 9});
  Tensor sh = testing::unwrap(
      testing::upload_bytes(*device_, hs.data(), DType::bf16, Shape{3, 35}).transpose(0, 1));
  Tensor sl = testing::unwrap(
      testing::upload_bytes(*device_, ls.data(), DType::i64, Shape{3, 35}).transpose(0, 1));
  Tensor dh = testing::unwrap(testing::unwrap(th.narrow(0, 2, 35)).narrow(1, 1, 3));
  Tensor dl = testing::unwrap(testing::unwrap(tl.narrow(0, 2, 35)).narrow(1, 1, 3));
  ASSERT_TRUE(ops::copy_into(ctx(), dh, sh).ok());
  ASSERT_TRUE(ops::copy_into(ctx(), dl, sl).ok());
  EXPECT_EQ(download_as<std::uint16_t>(th), reference_write(h, dh, hs, sh));
  EXPECT_EQ(download_as<std::int64_t>(tl), reference_write(l, dl, ls, sl));
}

TEST_P(CopyIntoTest, RejectsMismatchesAndPlansNothing) {
  Tensor a = up(testing::random_floats(12, 31), Shape{3, 4});
  Tensor b = up(testing::random_floats(8, 32), Shape{2, 4});
  const Status shape = ops::copy_into(ctx(), a, b);
  EXPECT_EQ(shape.code(), ErrorCode::invalid_argument);
  EXPECT_NE(shape.message().find("f32[2, 4]"), std::string::npos) << shape.message();
  std::vector<std::int32_t> ints(12, 3);
  Tensor i = testing::upload_bytes(*device_, ints.data(), DType::i32, Shape{3, 4});
  EXPECT_EQ(ops::copy_into(ctx(), a, i).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(ops::copy_into(ctx(), Tensor(), a).code(), ErrorCode::invalid_argument);
  // A tensor on another device.
  std::shared_ptr<Device> other = testing::make_test_device("cpu");
  if (other.get() != device_.get()) {
    Tensor elsewhere = testing::upload(*other, testing::random_floats(12, 33), Shape{3, 4});
    EXPECT_EQ(ops::copy_into(ctx(), a, elsewhere).code(), ErrorCode::invalid_argument);
  }
  // Empty views copy nothing.
  EXPECT_TRUE(
      ops::copy_into(ctx(), testing::unwrap(a.narrow(0, 1, 0)), testing::unwrap(b.narrow(0, 0, 0)))
          .ok());
  // On a planning device it allocates nothing.
  std::shared_ptr<Device> plan = make_planning_device(*device_);
  const ops::OpContext plan_ctx{*plan, testing::test_pool()};
  Tensor pa = testing::unwrap(plan->empty(DType::f32, Shape{3, 4}, MemoryTag::kv_cache));
  Tensor pb = testing::unwrap(plan->empty(DType::f32, Shape{1, 4}, MemoryTag::activations));
  const std::uint64_t before = plan->budget().stats().reservations;
  EXPECT_TRUE(ops::copy_into(plan_ctx, testing::unwrap(pa.narrow(0, 2, 1)), pb).ok());
  EXPECT_EQ(plan->budget().stats().reservations, before);
}

}  // namespace
}  // namespace acefit::copy_into_tests
