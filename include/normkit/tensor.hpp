// Tensor (owning, contiguous) and TensorView (non-owning: data pointer, shape,
// strides in elements, dtype). Views may have any strides, including negative
// ones; kernels take their fast paths for contiguous and channels-last views
// and copy anything else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "normkit/dims.hpp"
#include "normkit/error.hpp"

namespace normkit {

// float32 is the compute type. bfloat16 and float16 are storage types of the
// data tensors (x, y, dy, dx: computed in float32, each output rounded once;
// normkit/half.hpp); int8 is the quantized output of the *_quant_forward ops.
enum class DType : std::uint8_t { float32, int64, bfloat16, float16, int8 };

// float32, bfloat16 or float16.
bool is_floating(DType dtype);

std::size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);

// Small lists, kept inline (dims.hpp): a call copies them many times.
using Shape = Dims;
using Strides = Dims;

std::string shape_string(const Shape& shape);  // "(2, 3, 4)"
std::int64_t shape_numel(const Shape& shape);

// Strides (in elements) of a C-contiguous tensor of this shape.
Strides contiguous_strides(const Shape& shape);
// Strides of a channels-last tensor: logical shape (N, C, *spatial) stored in
// the memory order (N, *spatial, C). Requires rank >= 2.
Strides channels_last_strides(const Shape& shape);

enum class MemoryFormat : std::uint8_t { contiguous, channels_last };

// A non-owning view. A default-constructed view is undefined, which is how an
// optional argument is left out (like an undefined at::Tensor).
class TensorView {
 public:
  TensorView() = default;
  TensorView(void* data, Shape shape, Strides strides, DType dtype);
  TensorView(float* data, Shape shape);  // contiguous float32

  bool defined() const { return defined_; }
  void* raw() const { return data_; }
  template <typename T>
  T* data() const { return static_cast<T*>(data_); }

  const Shape& shape() const { return shape_; }
  const Strides& strides() const { return strides_; }
  DType dtype() const { return dtype_; }
  std::int64_t dim() const { return static_cast<std::int64_t>(shape_.size()); }
  std::int64_t size(std::int64_t d) const { return shape_[static_cast<std::size_t>(d)]; }
  std::int64_t stride(std::int64_t d) const { return strides_[static_cast<std::size_t>(d)]; }
  std::int64_t numel() const { return shape_numel(shape_); }

  // Element offset of a multi-index, in elements from data().
  std::int64_t offset(const std::int64_t* index) const;

  bool is_contiguous() const;     // C order (size-1 dims ignored)
  bool is_channels_last() const;  // (N, *spatial, C) order, rank >= 3
  // channels_last when the view is channels-last and not also contiguous.
  MemoryFormat memory_format() const;
  // Two views share one element order when their strides agree on every
  // dimension of size > 1.
  bool same_layout(const TensorView& other) const;

 private:
  void* data_ = nullptr;
  Shape shape_;
  Strides strides_;
  DType dtype_ = DType::float32;
  bool defined_ = false;
};

// An owning tensor: 64-byte aligned storage in the given memory format.
class Tensor {
 public:
  Tensor() = default;
  Tensor(Shape shape, DType dtype = DType::float32,
         MemoryFormat format = MemoryFormat::contiguous);

  static Tensor zeros(Shape shape, DType dtype = DType::float32);
  static Tensor full(Shape shape, float value);
  // A contiguous (or channels-last) copy of any view.
  static Tensor copy_of(const TensorView& view,
                        MemoryFormat format = MemoryFormat::contiguous);

  TensorView view() const { return view_; }
  operator TensorView() const { return view_; }  // NOLINT: tensors pass as views
  bool defined() const { return storage_ != nullptr; }

  template <typename T>
  T* data() const { return view_.data<T>(); }
  const Shape& shape() const { return view_.shape(); }
  std::int64_t numel() const { return view_.numel(); }
  DType dtype() const { return view_.dtype(); }

 private:
  std::shared_ptr<std::byte[]> storage_;
  TensorView view_;
};

// Copies src into dst element by element, following both views' strides.
// Shapes must match; dtypes must match, or both be floating, when each value
// is converted (to a 16-bit float: rounded to nearest even, once).
void copy_into(const TensorView& src, const TensorView& dst);

}  // namespace normkit
