#include "normkit/nn/activation.hpp"

#include "normkit/nn/grad_mode.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/gelu_span.hpp"
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
  NORMKIT_CHECK(saved.defined(), layer, ": backward before forward", kNoGradHint);
  check_output_gradient(dy, saved.shape(), layer);
}

// An elementwise layer's backward: dx = dy * slope(saved), saved what its
// forward kept (its input or its output), element by element.
template <typename Slope>
Tensor times_slope(const TensorView& dy, const Tensor& saved, const char* layer, Slope slope) {
  check_like(dy, saved, layer);
  Tensor holder;
  const float* g = contiguous_values(dy, holder);
  Tensor dx(saved.shape());
  float* out = dx.data<float>();
  const float* s = saved.data<float>();
  parallel_for_elements(dx.numel(), [=](std::int64_t i) { out[i] = g[i] * slope(s[i]); });
  return dx;
}

}  // namespace

Tensor ReLU::forward(const TensorView& x) {
  NORMKIT_CHECK(x.defined() && x.dtype() == DType::float32, "ReLU: x: expected a float32 tensor");
  Tensor holder;
  const float* in = contiguous_values(x, holder);
  Tensor y(x.shape());
  float* out = y.data<float>();
  if (!grad_enabled()) {
    saved_shape_.clear();
    parallel_for_elements(y.numel(), [=](std::int64_t i) { out[i] = in[i] > 0.0f ? in[i] : 0.0f; });
    return y;
  }
  // Backward needs only where x > 0: a byte per element, not a copy of y.
  saved_shape_ = x.shape();
  positive_.resize(static_cast<std::size_t>(y.numel()));
  std::uint8_t* positive = positive_.data();
  parallel_for_elements(y.numel(), [=](std::int64_t i) {
    const bool above = in[i] > 0.0f;
    positive[i] = above;
    out[i] = above ? in[i] : 0.0f;
  });
  return y;
}

Tensor ReLU::backward(const TensorView& dy) {
  NORMKIT_CHECK(!saved_shape_.empty(), "ReLU: backward before forward", kNoGradHint);
  check_output_gradient(dy, saved_shape_, "ReLU");
  Tensor holder;
  const float* g = contiguous_values(dy, holder);
  Tensor dx(saved_shape_);
  float* out = dx.data<float>();
  const std::uint8_t* positive = positive_.data();
  parallel_for_elements(dx.numel(), [=](std::int64_t i) {
    const float gradient = g[i];  // read unconditionally, so that the select vectorizes
    out[i] = positive[i] ? gradient : 0.0f;
  });
  return dx;
}

Tensor Sigmoid::forward(const TensorView& x) {
  Tensor y = checked_copy(x, "Sigmoid", "x");
  float* v = y.data<float>();
  parallel_for_elements(y.numel(), [=](std::int64_t i) { v[i] = 1.0f / (1.0f + std::exp(-v[i])); });
  // Backward's slope is y(1 - y): a copy of y (the caller may change the one returned).
  saved_y_ = grad_enabled() ? Tensor::copy_of(y) : Tensor();
  return y;
}

Tensor Sigmoid::backward(const TensorView& dy) {
  return times_slope(dy, saved_y_, "Sigmoid", [](float y) { return y * (1.0f - y); });
}

// GELU's kernels (kernels/gelu_span.hpp: vector erf and exp, the same bits
// on every SIMD path) over chunks of the elements, a chunk per task.
constexpr std::int64_t kGeluChunk = 4096;

template <typename Chunk>
void for_each_chunk(std::int64_t n, Chunk chunk) {
  parallel_for_items((n + kGeluChunk - 1) / kGeluChunk, kGeluChunk, [=](std::int64_t c) {
    const std::int64_t first = c * kGeluChunk;
    chunk(first, std::min(kGeluChunk, n - first));
  });
}

Tensor GELU::forward(const TensorView& x) {
  NORMKIT_CHECK(x.defined() && x.dtype() == DType::float32, "GELU: x: expected a float32 tensor");
  Tensor holder;
  const float* in = forward_input(x, saved_x_, holder);
  Tensor y(x.shape());
  float* out = y.data<float>();
  for_each_chunk(y.numel(), [=](std::int64_t first, std::int64_t n) {
    kernels::gelu_forward_span(in + first, out + first, n);
  });
  return y;
}

Tensor GELU::backward(const TensorView& dy) {
  check_like(dy, saved_x_, "GELU");
  Tensor holder;
  const float* g = contiguous_values(dy, holder);
  Tensor dx(saved_x_.shape());
  const float* in = saved_x_.data<float>();
  float* out = dx.data<float>();
  for_each_chunk(dx.numel(), [=](std::int64_t first, std::int64_t n) {
    kernels::gelu_backward_span(g + first, in + first, out + first, n);
  });
  return dx;
}

Tensor Flatten::forward(const TensorView& x) {
  NORMKIT_CHECK(x.defined() && x.dim() >= 1, "Flatten: x: expected a tensor of rank >= 1");
  input_shape_ = grad_enabled() ? x.shape() : Shape{};
  const Tensor c = Tensor::copy_of(x);
  Tensor y({x.size(0), x.size(0) > 0 ? x.numel() / x.size(0) : 0}, x.dtype());
  copy_into(TensorView(c.view().raw(), y.shape(), {y.shape()[1], 1}, x.dtype()), y);
  return y;
}

Tensor Flatten::backward(const TensorView& dy) {
  NORMKIT_CHECK(!input_shape_.empty(), "Flatten: backward before forward", kNoGradHint);
  const Tensor c = Tensor::copy_of(dy);
  NORMKIT_CHECK(c.numel() == shape_numel(input_shape_), "Flatten: dy: expected ", shape_numel(input_shape_),
                " values, got ", c.numel());
  Tensor dx(input_shape_, dy.dtype());
  std::memcpy(dx.view().raw(), c.view().raw(), static_cast<std::size_t>(c.numel()) * dtype_size(dy.dtype()));
  return dx;
}

}  // namespace normkit::nn
