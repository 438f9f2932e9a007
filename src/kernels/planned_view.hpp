// Bridges strided views and the contiguous float32 plans of the kernels: an
// input is used in place when it is float32 and contiguous or channels-last,
// and copied to a float32 buffer otherwise (a bfloat16 or float16 input is
// widened, exactly); an output is written in place when it is float32 with
// the input's layout, and through a float32 buffer otherwise, which finish()
// copies into it (rounded once to a 16-bit output's dtype). Tensors that are
// all bfloat16 or all float16 in one layout skip the buffers: the passes
// take them in place as 16-bit elements (sixteen_bits_in_place below).
#pragma once

#include <initializer_list>
#include <type_traits>
#include <vector>

#include "normkit/tensor.hpp"

namespace normkit::kernels {

enum class Layout { contiguous, channels_last };

// The layout x is read in: channels-last when it is channels-last and not
// contiguous, else contiguous (an x of other strides is copied into it).
Layout layout_of(const TensorView& x);

// Where the channel engine reads and writes 16-bit data in place
// (vectors.hpp's Bf16 and F16: each load widened, each store rounded, the
// float32 arithmetic between) instead of through float32 buffers: x
// bfloat16 or float16, not empty, contiguous or channels-last, and every
// other defined tensor listed in x's dtype and layout.
bool sixteen_bits_in_place(const TensorView& x, std::initializer_list<const TensorView*> others);

// Calls f with x's data as the 16-bit type its dtype names: a const Bf16*
// or a const F16*.
struct Bf16;
struct F16;
template <typename F>
void with_sixteen_bits(const TensorView& x, const F& f) {
  if (x.dtype() == DType::bfloat16) f(static_cast<const Bf16*>(x.raw()));
  else f(static_cast<const F16*>(x.raw()));
}

class PlannedInput {
 public:
  // Contiguous or channels-last x in place; anything else copied (contiguous).
  explicit PlannedInput(const TensorView& x);
  // t in the given layout (copied when it is not); an undefined t gives
  // data() null (LayerNorm's absent weight and bias).
  PlannedInput(const TensorView& t, Layout layout);
  // t in the same layout as `like`.
  PlannedInput(const TensorView& t, const PlannedInput& like) : PlannedInput(t, like.layout()) {}

  const float* data() const { return data_; }
  Layout layout() const { return layout_; }

 private:
  Tensor owned_;
  const float* data_ = nullptr;
  Layout layout_ = Layout::contiguous;
};

class PlannedOutput {
 public:
  // `out` must outlive this (it is referred to, not copied: a copy of a
  // view allocates its shape and strides, a cost a decode-sized call feels).
  PlannedOutput(const TensorView& out, Layout layout);
  PlannedOutput(const TensorView& out, const PlannedInput& like) : PlannedOutput(out, like.layout()) {}
  PlannedOutput(const TensorView&& out, Layout layout) = delete;
  PlannedOutput(const TensorView&& out, const PlannedInput& like) = delete;
  float* data() const { return data_; }
  void finish();  // copies the buffer into `out` when one was used

 private:
  const TensorView* out_;
  Tensor owned_;
  float* data_ = nullptr;
};

// A pass's tensors as one element type T in one layout: x's dtype in place
// when `sixteen_bits` (the caller's sixteen_bits_in_place), else float32 in
// `layout` through PlannedInput and PlannedOutput (an output copied into its
// tensor after f). Calls
//   f(const T* x, T* y, Layout)                    (with_input_output)
//   f(const T* x, const T* dy, T* dx, Layout)      (with_input_grads; dx null
//                                                   when undefined)
template <typename F>
void with_input_output(const TensorView& x, const TensorView& y, bool sixteen_bits, Layout layout, const F& f) {
  if (sixteen_bits) {
    with_sixteen_bits(x, [&](auto* x16) {
      using T = std::remove_const_t<std::remove_pointer_t<decltype(x16)>>;
      f(x16, static_cast<T*>(y.raw()), layout_of(x));
    });
    return;
  }
  const PlannedInput x32(x, layout);
  PlannedOutput y32(y, x32);
  f(x32.data(), y32.data(), x32.layout());
  y32.finish();
}
template <typename F>
void with_input_grads(const TensorView& x, const TensorView& dy, const TensorView& dx, bool sixteen_bits,
                      Layout layout, const F& f) {
  if (sixteen_bits) {
    with_sixteen_bits(x, [&](auto* x16) {
      using T = std::remove_const_t<std::remove_pointer_t<decltype(x16)>>;
      f(x16, static_cast<const T*>(dy.raw()), dx.defined() ? static_cast<T*>(dx.raw()) : nullptr, layout_of(x));
    });
    return;
  }
  const PlannedInput x32(x, layout);
  const PlannedInput dy32(dy, x32);  // in x's layout
  if (!dx.defined()) {
    f(x32.data(), dy32.data(), static_cast<float*>(nullptr), x32.layout());
    return;
  }
  PlannedOutput dx32(dx, x32);
  f(x32.data(), dy32.data(), dx32.data(), x32.layout());
  dx32.finish();
}

}  // namespace normkit::kernels

namespace normkit {

// A data tensor's dtype (x, dy): float32, bfloat16 or float16.
void check_data_dtype(const TensorView& t, const char* name);
// Per-channel vectors: undefined, or of shape (C,) with any stride, float32
// or `also` (x's dtype: weights and running statistics may be kept in it).
void check_channel_vector(const TensorView& t, const char* name, std::int64_t C,
                          DType also = DType::float32);
// Two per-channel vectors that a call updates in place (the running
// statistics), when defined: each element in memory of its own (no stride 0
// over more than one element), and the two vectors' spans of memory apart.
// (Conservative, as PyTorch's overlap checks: two interleaved vectors share
// a span though no byte, and are refused too.)
void check_updated_pair(const TensorView& a, const char* a_name, const TensorView& b, const char* b_name);
// The running statistics' update of BatchNorm and InstanceNorm, once per
// call: towards the mean over `groups` of the per-(group, channel)
// statistics `mean` and `var` ((groups, C) each), the variances made
// unbiased from `count` values each when `unbiased`:
//   running = (1 - momentum) * running + momentum * mean over groups
void update_running_stats(const TensorView& running_mean, const TensorView& running_var,
                          const std::vector<double>& mean, const std::vector<double>& var, std::int64_t groups,
                          double count, bool unbiased, double momentum);

// Undefined, or of exactly this shape, float32 or `also` (x's dtype, for a
// weight, a bias and their gradients).
void check_optional_shape(const TensorView& t, const char* name, const Shape& shape,
                          DType also = DType::float32);
// Defined, of exactly this shape, float32 or `also` (y, dy, dx: x's dtype).
void check_required_shape(const TensorView& t, const char* name, const Shape& shape, const char* why,
                          DType also = DType::float32);
// The values of a per-channel vector (float32 or 16-bit), or C copies of
// `fallback` when t is undefined.
std::vector<float> read_channels(const TensorView& t, std::int64_t C, float fallback);
// Every value of a floating view, in logical C order, widened to double.
std::vector<double> read_values(const TensorView& t);
// Writes values (logical C order, rounded to float, then to t's dtype) into
// t; does nothing when t is undefined.
void write_values(const std::vector<double>& values, const TensorView& t);
// Writes value(i) (a double, rounded to float, then to t's dtype) for each i
// in logical C order into t, in place when t is contiguous float32; does
// nothing when t is undefined.
template <typename Value>
void write_each(const TensorView& t, const Value& value) {
  if (!t.defined()) return;
  Tensor buffer;
  if (!t.is_contiguous() || t.dtype() != DType::float32) buffer = Tensor(t.shape());
  float* p = buffer.defined() ? buffer.data<float>() : t.data<float>();
  const std::int64_t n = t.numel();
  for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(value(i));
  if (buffer.defined()) copy_into(buffer, t);
}

}  // namespace normkit
