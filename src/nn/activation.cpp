#include "normkit/nn/activation.hpp"

#include <cmath>
#include <cstring>

#include "layer_checks.hpp"
#include "parallel_loop.hpp"
#include "normkit/error.hpp"

namespace normkit::nn {
namespace {

Tensor checked_copy(const TensorView& t, const char* layer, const char* name) {
  NORMKIT_CHECK(t.defined() && t.dtype() == DType::float32, layer, ": ", name, ": expected a float32 tensor");
  return Tensor::copy_of(t);
}

void check_like(const TensorView& dy, const Tensor& saved, const char* layer) {
  NORMKIT_CHECK(saved.defined(), layer, ": backward before forward");
  check_output_gradient(dy, saved.shape(), layer);
}

}  // namespace

Tensor ReLU::forward(const TensorView& x) {
  NORMKIT_CHECK(x.defined() && x.dtype() == DType::float32, "ReLU: x: expected a float32 tensor");
  // A contiguous input is read where it is; any other is copied first.
  const Tensor copy = x.is_contiguous() ? Tensor() : Tensor::copy_of(x);
  const float* in = copy.defined() ? copy.data<float>() : x.data<float>();
  saved_y_ = Tensor(x.shape());
  float* y = saved_y_.data<float>();
  parallel_for_elements(saved_y_.numel(), [=](std::int64_t i) { y[i] = in[i] > 0.0f ? in[i] : 0.0f; });
  return Tensor::copy_of(saved_y_);
}

Tensor ReLU::backward(const TensorView& dy) {
  check_like(dy, saved_y_, "ReLU");
  Tensor dx = Tensor::copy_of(dy);
  float* g = dx.data<float>();
  const float* y = saved_y_.data<float>();
  parallel_for_elements(dx.numel(), [=](std::int64_t i) { g[i] = y[i] > 0.0f ? g[i] : 0.0f; });
  return dx;
}

Tensor Sigmoid::forward(const TensorView& x) {
  saved_y_ = checked_copy(x, "Sigmoid", "x");
  float* y = saved_y_.data<float>();
  parallel_for_elements(saved_y_.numel(), [=](std::int64_t i) { y[i] = 1.0f / (1.0f + std::exp(-y[i])); });
  return Tensor::copy_of(saved_y_);
}

Tensor Sigmoid::backward(const TensorView& dy) {
  check_like(dy, saved_y_, "Sigmoid");
  Tensor dx = Tensor::copy_of(dy);
  float* g = dx.data<float>();
  const float* y = saved_y_.data<float>();
  parallel_for_elements(dx.numel(), [=](std::int64_t i) { g[i] *= y[i] * (1.0f - y[i]); });
  return dx;
}

Tensor Flatten::forward(const TensorView& x) {
  NORMKIT_CHECK(x.defined() && x.dim() >= 1, "Flatten: x: expected a tensor of rank >= 1");
  input_shape_ = x.shape();
  const Tensor c = Tensor::copy_of(x);
  Tensor y({x.size(0), x.size(0) > 0 ? x.numel() / x.size(0) : 0}, x.dtype());
  copy_into(TensorView(c.view().raw(), y.shape(), {y.shape()[1], 1}, x.dtype()), y);
  return y;
}

Tensor Flatten::backward(const TensorView& dy) {
  NORMKIT_CHECK(!input_shape_.empty(), "Flatten: backward before forward");
  const Tensor c = Tensor::copy_of(dy);
  NORMKIT_CHECK(c.numel() == shape_numel(input_shape_), "Flatten: dy: expected ", shape_numel(input_shape_),
                " values, got ", c.numel());
  Tensor dx(input_shape_, dy.dtype());
  std::memcpy(dx.view().raw(), c.view().raw(), static_cast<std::size_t>(c.numel()) * dtype_size(dy.dtype()));
  return dx;
}

}  // namespace normkit::nn
