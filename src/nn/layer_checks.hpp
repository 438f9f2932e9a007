// Argument checks shared by the nn layers' forward and backward.
#pragma once

#include <string>

#include "normkit/nn/grad_mode.hpp"

#include "normkit/error.hpp"
#include "normkit/tensor.hpp"

namespace normkit::nn {

// A view's shape for an error message, or "none" when it is undefined.
inline std::string shape_or_none(const TensorView& t) { return t.defined() ? shape_string(t.shape()) : "none"; }

// dy of a backward must be float32 of the shape the last forward returned.
inline void check_output_gradient(const TensorView& dy, const Shape& expected, const std::string& layer) {
  NORMKIT_CHECK(dy.defined() && dy.dtype() == DType::float32 && dy.shape() == expected, layer,
                ": dy: expected float32 of shape ", shape_string(expected), " (the last forward's output), got ",
                shape_or_none(dy));
}

// A row-norm module's normalized_shape (LayerNorm, RMSNorm, their fused add
// forms): at least one dimension, each positive, the product within 64 bits.
void check_normalized_shape(const Shape& shape, const char* layer);

// A float32 view's values as one contiguous array: where they are when the
// view is contiguous (no copy), else copied into `holder`.
inline const float* contiguous_values(const TensorView& v, Tensor& holder) {
  if (v.is_contiguous()) return v.data<float>();
  holder = Tensor::copy_of(v);
  return holder.data<float>();
}

// A forward's float32 input as one contiguous array, copied once: into
// `saved` for backward when gradients are on, else read where it is (into
// `holder` only when not contiguous) under nn::NoGrad.
inline const float* forward_input(const TensorView& x, Tensor& saved, Tensor& holder) {
  saved = grad_enabled() ? Tensor::copy_of(x) : Tensor();
  return saved.defined() ? saved.data<float>() : contiguous_values(x, holder);
}

}  // namespace normkit::nn
