// Tensor: an element type, a shape, strides and a shared reference to
// storage owned by a device. Views (reshape, narrow, transpose) share storage.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/dtype.h"
#include "core/shape.h"
#include "core/status.h"

namespace acefit {

class Device;  // src/device/device.h; the core layer only holds a pointer.

// A block of memory owned by a device. data() is null for a planned block
// (planning mode records the allocation but touches no memory).
class Storage {
 public:
  Storage(void* data, std::size_t bytes, bool planned)
      : data_(data), bytes_(bytes), planned_(planned) {}
  virtual ~Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  bool planned() const { return planned_; }
  virtual Device* device() const = 0;

 private:
  void* data_;
  std::size_t bytes_;
  bool planned_;
};

class Tensor {
 public:
  using Strides = std::array<std::int64_t, kMaxRank>;

  Tensor() = default;  // undefined: no storage
  // A contiguous tensor over the start of storage. Checked: the shape is
  // valid and its bytes fit in the storage.
  static Expected<Tensor> over(std::shared_ptr<Storage> storage, DType dtype, Shape shape);

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  std::int64_t dim(int axis) const { return shape_.dim(axis); }
  std::int64_t numel() const { return shape_.numel(); }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype_); }
  std::int64_t stride(int axis) const {
    return strides_[static_cast<std::size_t>(axis < 0 ? axis + rank() : axis)];
  }
  const Strides& strides() const { return strides_; }
  std::int64_t offset() const { return offset_; }  // in elements
  bool is_contiguous() const;

  Device* device() const { return storage_ ? storage_->device() : nullptr; }
  bool planned() const { return storage_ && storage_->planned(); }
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  // Address of the first element (null when planned or undefined).
  void* raw_data() const;
  template <typename T>
  T* data() const {
    return static_cast<T*>(raw_data());
  }

  // Views. reshape needs a contiguous tensor and the same element count; one
  // dim may be -1 and is inferred.
  Expected<Tensor> reshape(Shape shape) const;
  Expected<Tensor> narrow(int axis, std::int64_t start, std::int64_t length) const;
  Expected<Tensor> transpose(int axis_a, int axis_b) const;

  std::string describe() const;  // "f32[2, 3]"

 private:
  std::shared_ptr<Storage> storage_;
  DType dtype_ = DType::f32;
  Shape shape_;
  Strides strides_{};
  std::int64_t offset_ = 0;
};

}  // namespace acefit
