#include "core/shape.h"

#include <limits>

namespace acefit {

Shape::Shape(std::initializer_list<std::int64_t> dims) {
  for (std::int64_t d : dims) push_back(d);
}

void Shape::push_back(std::int64_t d) {
  if (rank_ >= kMaxRank) {
    overflowed_ = true;
    return;
  }
  dims_[static_cast<std::size_t>(rank_++)] = d;
}

std::int64_t Shape::numel() const {
  std::int64_t count = 1;
  for (int i = 0; i < rank_; ++i) count *= dims_[static_cast<std::size_t>(i)];
  return count;
}

bool Shape::valid() const {
  if (overflowed_) return false;
  std::int64_t count = 1;
  for (int i = 0; i < rank_; ++i) {
    const std::int64_t d = dims_[static_cast<std::size_t>(i)];
    if (d < 0) return false;
    if (d != 0 && count > std::numeric_limits<std::int64_t>::max() / d) return false;
    count *= d;
  }
  return true;
}

Shape Shape::with_dim(int axis, std::int64_t d) const {
  Shape copy = *this;
  copy[axis < 0 ? axis + rank_ : axis] = d;
  return copy;
}

bool Shape::operator==(const Shape& other) const {
  if (rank_ != other.rank_ || overflowed_ != other.overflowed_) return false;
  for (int i = 0; i < rank_; ++i) {
    if (dims_[static_cast<std::size_t>(i)] != other.dims_[static_cast<std::size_t>(i)])
      return false;
  }
  return true;
}

std::string Shape::to_string() const {
  std::string text = "[";
  for (int i = 0; i < rank_; ++i) {
    if (i) text += ", ";
    text += std::to_string(dims_[static_cast<std::size_t>(i)]);
  }
  if (overflowed_) text += ", ...";
  return text + "]";
}

std::array<std::int64_t, kMaxRank> contiguous_strides(const Shape& shape) {
  std::array<std::int64_t, kMaxRank> strides{};
  std::int64_t stride = 1;
  for (int i = shape.rank() - 1; i >= 0; --i) {
    strides[static_cast<std::size_t>(i)] = stride;
    stride *= shape[i];
  }
  return strides;
}

}  // namespace acefit
