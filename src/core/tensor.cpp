#include "core/tensor.h"

#include <limits>

namespace acefit {

namespace {

int normalize_axis(int axis, int rank) {
  return axis < 0 ? axis + rank : axis;
}

}  // namespace

Expected<Tensor> Tensor::over(std::shared_ptr<Storage> storage, DType dtype, Shape shape) {
  if (!storage) return invalid_argument("tensor over null storage");
  if (!shape.valid()) return invalid_argument("invalid shape " + shape.to_string());
  const auto count = static_cast<std::uint64_t>(shape.numel());
  if (count > std::numeric_limits<std::uint64_t>::max() / dtype_size(dtype) ||
      count * dtype_size(dtype) > storage->bytes()) {
    return invalid_argument("shape " + shape.to_string() + " of " + std::string(dtype_name(dtype)) +
                            " does not fit in " + std::to_string(storage->bytes()) + " bytes");
  }
  Tensor tensor;
  tensor.storage_ = std::move(storage);
  tensor.dtype_ = dtype;
  tensor.shape_ = shape;
  tensor.strides_ = contiguous_strides(shape);
  return tensor;
}

bool Tensor::is_contiguous() const {
  std::int64_t expected = 1;
  for (int i = rank() - 1; i >= 0; --i) {
    if (shape_[i] != 1 && strides_[static_cast<std::size_t>(i)] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  if (!storage_ || storage_->data() == nullptr) return nullptr;
  return static_cast<std::byte*>(storage_->data()) +
         static_cast<std::size_t>(offset_) * dtype_size(dtype_);
}

Expected<Tensor> Tensor::reshape(Shape shape) const {
  if (!defined()) return invalid_argument("reshape of an undefined tensor");
  if (!is_contiguous())
    return invalid_argument("reshape needs a contiguous tensor, got " + describe());
  int inferred = -1;
  std::int64_t known = 1;
  for (int i = 0; i < shape.rank(); ++i) {
    if (shape[i] == -1) {
      if (inferred >= 0)
        return invalid_argument("reshape: more than one -1 in " + shape.to_string());
      inferred = i;
    } else {
      known *= shape[i];
    }
  }
  if (inferred >= 0) {
    if (known == 0 || numel() % known != 0) {
      return invalid_argument("reshape: cannot infer -1 in " + shape.to_string() + " for " +
                              describe());
    }
    shape[inferred] = numel() / known;
  }
  if (!shape.valid() || shape.numel() != numel()) {
    return invalid_argument("reshape: " + shape_.to_string() + " cannot become " +
                            shape.to_string());
  }
  Tensor view = *this;
  view.shape_ = shape;
  view.strides_ = contiguous_strides(shape);
  return view;
}

Expected<Tensor> Tensor::narrow(int axis, std::int64_t start, std::int64_t length) const {
  if (!defined()) return invalid_argument("narrow of an undefined tensor");
  const int a = normalize_axis(axis, rank());
  if (a < 0 || a >= rank())
    return invalid_argument("narrow: axis " + std::to_string(axis) + " out of range for " +
                            describe());
  if (start < 0 || length < 0 || start > shape_[a] - length) {
    return invalid_argument("narrow: [" + std::to_string(start) + ", +" + std::to_string(length) +
                            ") outside dim " + std::to_string(a) + " of " + describe());
  }
  Tensor view = *this;
  view.offset_ += start * strides_[static_cast<std::size_t>(a)];
  view.shape_[a] = length;
  return view;
}

Expected<Tensor> Tensor::transpose(int axis_a, int axis_b) const {
  if (!defined()) return invalid_argument("transpose of an undefined tensor");
  const int a = normalize_axis(axis_a, rank());
  const int b = normalize_axis(axis_b, rank());
  if (a < 0 || a >= rank() || b < 0 || b >= rank()) {
    return invalid_argument("transpose: axes out of range for " + describe());
  }
  Tensor view = *this;
  std::swap(view.shape_[a], view.shape_[b]);
  std::swap(view.strides_[static_cast<std::size_t>(a)], view.strides_[static_cast<std::size_t>(b)]);
  return view;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  return std::string(dtype_name(dtype_)) + shape_.to_string();
}

}  // namespace acefit
