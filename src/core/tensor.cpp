#include "normkit/tensor.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <sstream>

#include "normkit/half.hpp"
#include "normkit/threading.hpp"
#include "half_span.hpp"
#include "storage.hpp"

namespace normkit {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::float32: return 4;
    case DType::int64: return 8;
    case DType::bfloat16:
    case DType::float16: return 2;
    case DType::int8: return 1;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::float32: return "float32";
    case DType::int64: return "int64";
    case DType::bfloat16: return "bfloat16";
    case DType::float16: return "float16";
    case DType::int8: return "int8";
  }
  return "?";
}

bool is_floating(DType dtype) {
  return dtype == DType::float32 || dtype == DType::bfloat16 || dtype == DType::float16;
}

std::string shape_string(const Shape& shape) {
  std::ostringstream out;
  out << '(';
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) out << ',';
  out << ')';
  return out.str();
}

std::int64_t shape_numel(const Shape& shape) {
  // Strides are products of the sizes, so the product of the nonzero sizes
  // must fit in 64 bits even when a zero size makes the count 0 (the IDX
  // fuzzer found a header of shape (0, 2^32 - 1, ...)).
  std::int64_t nonzero = 1;
  bool empty = false;
  for (const std::int64_t d : shape) {
    NORMKIT_CHECK(d >= 0, "shape ", shape_string(shape), ": sizes must be non-negative");
    if (d == 0) {
      empty = true;
      continue;
    }
    NORMKIT_CHECK(!__builtin_mul_overflow(nonzero, d, &nonzero), "shape ", shape_string(shape),
                  ": more elements than a 64-bit count holds");
  }
  return empty ? 0 : nonzero;
}

Strides contiguous_strides(const Shape& shape) {
  Strides strides(shape.size());
  std::int64_t step = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = step;
    step *= shape[i];
  }
  return strides;
}

Strides channels_last_strides(const Shape& shape) {
  NORMKIT_CHECK(shape.size() >= 2, "channels_last_strides: expected rank >= 2, got ",
                shape_string(shape));
  // Memory order: N, spatial..., C.
  Strides strides(shape.size());
  strides[1] = 1;
  std::int64_t step = shape[1];
  for (std::size_t i = shape.size(); i-- > 2;) {
    strides[i] = step;
    step *= shape[i];
  }
  strides[0] = step;
  return strides;
}

TensorView::TensorView(void* data, Shape shape, Strides strides, DType dtype)
    : data_(data), shape_(std::move(shape)), strides_(std::move(strides)), dtype_(dtype),
      defined_(true) {
  NORMKIT_CHECK(shape_.size() == strides_.size(), "TensorView: shape ", shape_string(shape_),
                " and strides of rank ", strides_.size(), " differ in rank");
  for (std::int64_t s : shape_) NORMKIT_CHECK(s >= 0, "TensorView: negative size in shape ",
                                              shape_string(shape_));
}

TensorView::TensorView(float* data, Shape shape)
    : TensorView(data, shape, contiguous_strides(shape), DType::float32) {}

std::int64_t TensorView::offset(const std::int64_t* index) const {
  std::int64_t off = 0;
  for (std::size_t i = 0; i < shape_.size(); ++i) off += index[i] * strides_[i];
  return off;
}

namespace {
// True when the strides equal `expected` on every dimension of size > 1.
bool strides_match(const Shape& shape, const Strides& strides, const Strides& expected) {
  for (std::size_t i = 0; i < shape.size(); ++i)
    if (shape[i] > 1 && strides[i] != expected[i]) return false;
  return true;
}
}  // namespace

// (Without building the contiguous strides: this runs several times in
// every call, and a decode-sized call is a couple of microseconds.)
bool TensorView::is_contiguous() const {
  std::int64_t step = 1;
  for (std::size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] > 1 && strides_[i] != step) return false;
    step *= shape_[i];
  }
  return true;
}

bool TensorView::is_channels_last() const {
  return shape_.size() >= 3 && strides_match(shape_, strides_, channels_last_strides(shape_));
}

MemoryFormat TensorView::memory_format() const {
  return !is_contiguous() && is_channels_last() ? MemoryFormat::channels_last
                                                : MemoryFormat::contiguous;
}

bool TensorView::same_layout(const TensorView& other) const {
  return shape_ == other.shape_ && strides_match(shape_, strides_, other.strides_);
}

Tensor::Tensor(Shape shape, DType dtype, MemoryFormat format) {
  const std::int64_t n = shape_numel(shape);
  NORMKIT_CHECK(static_cast<std::uint64_t>(n) <= (std::uint64_t{1} << 62) / dtype_size(dtype), "shape ",
                shape_string(shape), ": too many elements to allocate");
  const std::size_t bytes = static_cast<std::size_t>(n) * dtype_size(dtype);
  storage_ = detail::allocate_storage(bytes);
  Strides strides = format == MemoryFormat::channels_last && shape.size() >= 3
                        ? channels_last_strides(shape)
                        : contiguous_strides(shape);
  view_ = TensorView(storage_.get(), std::move(shape), std::move(strides), dtype);
}

Tensor Tensor::zeros(Shape shape, DType dtype) {
  Tensor t(std::move(shape), dtype);
  std::memset(t.view_.raw(), 0, static_cast<std::size_t>(t.numel()) * dtype_size(dtype));
  return t;
}

Tensor Tensor::full(Shape shape, float value) {
  Tensor t(std::move(shape));
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = value;
  return t;
}

Tensor Tensor::copy_of(const TensorView& view, MemoryFormat format) {
  Tensor t(view.shape(), view.dtype(), format);
  copy_into(view, t.view());
  return t;
}

namespace {

float load_float(const std::byte* p, DType dtype) {
  std::uint16_t bits;
  switch (dtype) {
    case DType::bfloat16: std::memcpy(&bits, p, 2); return bfloat16_to_float(bits);
    case DType::float16: std::memcpy(&bits, p, 2); return float16_to_float(bits);
    default: {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
  }
}

void store_float(std::byte* p, DType dtype, float v) {
  std::uint16_t bits;
  switch (dtype) {
    case DType::bfloat16: bits = float_to_bfloat16(v); std::memcpy(p, &bits, 2); return;
    case DType::float16: bits = float_to_float16(v); std::memcpy(p, &bits, 2); return;
    default: std::memcpy(p, &v, 4); return;
  }
}

// Calls f(begin, end) over [0, n) in one piece per thread of normkit's
// (pieces of at least 32768 elements, the kernels' grain): a conversion of
// a large tensor on every core. Each element's result is the same either way.
template <typename F>
void in_pieces(std::int64_t n, const F& f) {
  constexpr std::int64_t kGrain = 32768;
  const int threads = static_cast<int>(std::clamp<std::int64_t>((n + kGrain - 1) / kGrain, 1, num_threads()));
  if (threads == 1) {
    f(0, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const std::int64_t t = omp_get_thread_num();
    f(n * t / threads, n * (t + 1) / threads);
  }
}

// Calls f(source offset, destination offset) for each element, in elements,
// in logical C order (an odometer over the index, so any strides work).
template <typename F>
void for_each_element(const TensorView& src, const TensorView& dst, const F& f) {
  const std::int64_t n = src.numel();
  if (src.is_contiguous() && dst.is_contiguous()) {  // the same element order in both
    for (std::int64_t i = 0; i < n; ++i) f(i, i);
    return;
  }
  const std::size_t rank = src.shape().size();
  std::vector<std::int64_t> index(rank, 0);
  for (std::int64_t i = 0; i < n; ++i) {
    f(src.offset(index.data()), dst.offset(index.data()));
    for (std::size_t d = rank; d-- > 0;) {
      if (++index[d] < src.shape()[d]) break;
      index[d] = 0;
    }
  }
}

}  // namespace

void copy_into(const TensorView& src, const TensorView& dst) {
  NORMKIT_CHECK(src.shape() == dst.shape(), "copy: shapes ", shape_string(src.shape()), " and ",
                shape_string(dst.shape()), " differ");
  NORMKIT_CHECK(src.dtype() == dst.dtype() || (is_floating(src.dtype()) && is_floating(dst.dtype())),
                "copy: dtypes ", dtype_name(src.dtype()), " and ", dtype_name(dst.dtype()), " differ");
  if (src.numel() == 0) return;
  const auto* in = static_cast<const std::byte*>(src.raw());
  auto* out = static_cast<std::byte*>(dst.raw());
  const std::int64_t in_size = static_cast<std::int64_t>(dtype_size(src.dtype()));
  const std::int64_t out_size = static_cast<std::int64_t>(dtype_size(dst.dtype()));
  // Both dense in one memory order (contiguous, or both channels-last):
  // element i of one is element i of the other in memory.
  const bool same_order = (src.is_contiguous() && dst.is_contiguous()) ||
                          (src.is_channels_last() && dst.is_channels_last());
  if (src.dtype() != dst.dtype()) {
    if (same_order && src.dtype() == DType::float32) {  // in vectorized spans
      in_pieces(src.numel(), [&](std::int64_t begin, std::int64_t end) {
        narrow_span(src.data<float>() + begin, static_cast<std::uint16_t*>(dst.raw()) + begin, end - begin,
                    dst.dtype(), false);
      });
      return;
    }
    if (same_order && dst.dtype() == DType::float32) {
      in_pieces(src.numel(), [&](std::int64_t begin, std::int64_t end) {
        widen_span(static_cast<const std::uint16_t*>(src.raw()) + begin, dst.data<float>() + begin, end - begin,
                   src.dtype());
      });
      return;
    }
    for_each_element(src, dst, [&](std::int64_t from, std::int64_t to) {
      store_float(out + to * out_size, dst.dtype(), load_float(in + from * in_size, src.dtype()));
    });
    return;
  }
  if (same_order) {
    std::memmove(out, in, static_cast<std::size_t>(src.numel() * in_size));
    return;
  }
  for_each_element(src, dst, [&](std::int64_t from, std::int64_t to) {
    std::memcpy(out + to * out_size, in + from * in_size, static_cast<std::size_t>(in_size));
  });
}

}  // namespace normkit
