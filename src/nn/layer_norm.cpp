#include "normkit/nn/layer_norm.hpp"

#include "normkit/nn/grad_mode.hpp"

#include "layer_checks.hpp"

namespace normkit::nn {

void check_normalized_shape(const Shape& shape, const char* layer) {
  NORMKIT_CHECK(!shape.empty(), layer, ": normalized_shape: expected at least one dimension");
  for (const std::int64_t d : shape)
    NORMKIT_CHECK(d > 0, layer, ": normalized_shape: expected sizes > 0, got ", shape_string(shape));
  shape_numel(shape);  // the weight's size must fit in 64 bits
}

LayerNorm::LayerNorm(Shape normalized_shape, LayerNormModuleOptions options)
    : Layer("LayerNorm"), normalized_shape_(std::move(normalized_shape)), options_(options) {
  check_normalized_shape(normalized_shape_, "LayerNorm");
  NORMKIT_CHECK(options.eps > 0, "LayerNorm: eps: expected a positive number, got ", options.eps);
  if (options.elementwise_affine) {
    weight = Parameter(Tensor::full(normalized_shape_, 1.0f));
    if (options.bias) bias = Parameter(Tensor::full(normalized_shape_, 0.0f));
  }
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Tensor LayerNorm::forward(const TensorView& x) {
  LayerNormForwardResult r =
      layer_norm_forward({x, normalized_shape_, weight.value, bias.value}, {.eps = options_.eps});
  Tensor x_copy = grad_enabled() ? Tensor::copy_of(x) : Tensor();
  const auto saved = saved_state_lock();
  saved_x_ = std::move(x_copy);
  saved_mean_ = std::move(r.mean);
  saved_rstd_ = std::move(r.rstd);
  return std::move(r.y);
}

Tensor LayerNorm::backward(const TensorView& dy) {
  NORMKIT_CHECK(saved_x_.defined(), name(), ": backward: call forward first", kNoGradHint);
  LayerNormBackwardResult g = layer_norm_backward(
      {dy, saved_x_, normalized_shape_, saved_mean_, saved_rstd_, weight.value},
      {.eps = options_.eps}, weight.value.defined(), bias.value.defined());
  weight.accumulate(g.dweight);
  bias.accumulate(g.dbias);
  return std::move(g.dx);
}

RMSNorm::RMSNorm(Shape normalized_shape, RMSNormModuleOptions options)
    : Layer("RMSNorm"), normalized_shape_(std::move(normalized_shape)), options_(options) {
  check_normalized_shape(normalized_shape_, "RMSNorm");
  NORMKIT_CHECK(!options.eps || *options.eps > 0, "RMSNorm: eps: expected a positive number or None");
  if (options.elementwise_affine) weight = Parameter(Tensor::full(normalized_shape_, 1.0f));
  register_parameter("weight", &weight);
}

Tensor RMSNorm::forward(const TensorView& x) {
  RMSNormForwardResult r = rms_norm_forward({x, normalized_shape_, weight.value}, {.eps = options_.eps});
  Tensor x_copy = grad_enabled() ? Tensor::copy_of(x) : Tensor();
  const auto saved = saved_state_lock();
  saved_x_ = std::move(x_copy);
  saved_rstd_ = std::move(r.rstd);
  return std::move(r.y);
}

Tensor RMSNorm::backward(const TensorView& dy) {
  NORMKIT_CHECK(saved_x_.defined(), name(), ": backward: call forward first", kNoGradHint);
  RMSNormBackwardResult g = rms_norm_backward(
      {dy, saved_x_, normalized_shape_, saved_rstd_, weight.value}, {.eps = options_.eps});
  weight.accumulate(g.dweight);
  return std::move(g.dx);
}

}  // namespace normkit::nn
