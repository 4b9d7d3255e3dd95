// Shape: up to kMaxRank dimensions, outermost first (PyTorch order).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

namespace acefit {

inline constexpr int kMaxRank = 8;

class Shape {
 public:
  Shape() = default;
  // Precondition: dims.size() <= kMaxRank (checked; extra dims are dropped
  // and the shape is marked invalid so that validation rejects it).
  Shape(std::initializer_list<std::int64_t> dims);

  template <typename Container>
  static std::optional<Shape> from(const Container& dims) {
    if (dims.size() > static_cast<std::size_t>(kMaxRank)) return std::nullopt;
    Shape shape;
    for (auto d : dims)
      shape.dims_[static_cast<std::size_t>(shape.rank_++)] = static_cast<std::int64_t>(d);
    return shape;
  }

  int rank() const { return rank_; }
  std::int64_t operator[](int axis) const { return dims_[static_cast<std::size_t>(axis)]; }
  std::int64_t& operator[](int axis) { return dims_[static_cast<std::size_t>(axis)]; }
  // Negative axes count from the end (-1 is the last).
  std::int64_t dim(int axis) const { return (*this)[axis < 0 ? axis + rank_ : axis]; }
  const std::int64_t* data() const { return dims_.data(); }
  std::int64_t back() const { return dims_[static_cast<std::size_t>(rank_ - 1)]; }

  // Product of all dims (1 for rank 0). Precondition: valid().
  std::int64_t numel() const;
  // True when every dim is >= 0 and the element count fits in int64.
  bool valid() const;

  void push_back(std::int64_t d);
  Shape with_dim(int axis, std::int64_t d) const;

  bool operator==(const Shape& other) const;
  bool operator!=(const Shape& other) const { return !(*this == other); }

  std::string to_string() const;  // "[2, 3, 4]"

 private:
  std::array<std::int64_t, kMaxRank> dims_{};
  int rank_ = 0;
  bool overflowed_ = false;
};

// Element strides of a contiguous (row-major) tensor of this shape.
std::array<std::int64_t, kMaxRank> contiguous_strides(const Shape& shape);

}  // namespace acefit
