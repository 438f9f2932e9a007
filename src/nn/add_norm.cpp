#include "normkit/nn/add_norm.hpp"

#include "normkit/nn/grad_mode.hpp"

#include "layer_checks.hpp"

namespace normkit::nn {

AddRMSNorm::AddRMSNorm(Shape normalized_shape, AddRMSNormModuleOptions options)
    : Module("AddRMSNorm"), normalized_shape_(std::move(normalized_shape)), options_(options) {
  check_normalized_shape(normalized_shape_, "AddRMSNorm");
  NORMKIT_CHECK(!options.eps || *options.eps > 0, "AddRMSNorm: eps: expected a positive number or None");
  if (options.elementwise_affine) weight = Parameter(Tensor::full(normalized_shape_, 1.0f));
  register_parameter("weight", &weight);
}

std::pair<Tensor, Tensor> AddRMSNorm::forward(const TensorView& x, const TensorView& residual) {
  AddRMSNormForwardResult r = add_rms_norm_forward(
      {x, residual, normalized_shape_, weight.value}, {.eps = options_.eps, .weight_offset = options_.weight_offset});
  // The stream is what backward differentiates at: a copy is kept (the
  // caller may change the one returned), with the statistics.
  saved_sum_ = grad_enabled() ? Tensor::copy_of(r.residual_out) : Tensor();
  saved_rstd_ = std::move(r.rstd);
  return {std::move(r.y), std::move(r.residual_out)};
}

Tensor AddRMSNorm::backward(const TensorView& dy, const TensorView& dresidual_out) {
  NORMKIT_CHECK(saved_sum_.defined(), name(), ": backward: call forward first", kNoGradHint);
  AddNormBackwardResult g =
      add_rms_norm_backward({dy, dresidual_out, saved_sum_, normalized_shape_, {}, saved_rstd_, weight.value},
                            {.eps = options_.eps, .weight_offset = options_.weight_offset});
  weight.accumulate(g.dweight);
  return std::move(g.dsum);
}

AddLayerNorm::AddLayerNorm(Shape normalized_shape, AddLayerNormModuleOptions options)
    : Module("AddLayerNorm"), normalized_shape_(std::move(normalized_shape)), options_(options) {
  check_normalized_shape(normalized_shape_, "AddLayerNorm");
  NORMKIT_CHECK(options.eps > 0, "AddLayerNorm: eps: expected a positive number, got ", options.eps);
  if (options.elementwise_affine) {
    weight = Parameter(Tensor::full(normalized_shape_, 1.0f));
    if (options.bias) bias = Parameter(Tensor::full(normalized_shape_, 0.0f));
  }
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

std::pair<Tensor, Tensor> AddLayerNorm::forward(const TensorView& x, const TensorView& residual) {
  AddLayerNormForwardResult r =
      add_layer_norm_forward({x, residual, normalized_shape_, weight.value, bias.value}, {.eps = options_.eps});
  saved_sum_ = grad_enabled() ? Tensor::copy_of(r.residual_out) : Tensor();
  saved_mean_ = std::move(r.mean);
  saved_rstd_ = std::move(r.rstd);
  return {std::move(r.y), std::move(r.residual_out)};
}

Tensor AddLayerNorm::backward(const TensorView& dy, const TensorView& dresidual_out) {
  NORMKIT_CHECK(saved_sum_.defined(), name(), ": backward: call forward first", kNoGradHint);
  AddNormBackwardResult g = add_layer_norm_backward(
      {dy, dresidual_out, saved_sum_, normalized_shape_, saved_mean_, saved_rstd_, weight.value},
      {.eps = options_.eps}, bias.value.defined());
  weight.accumulate(g.dweight);
  bias.accumulate(g.dbias);
  return std::move(g.dsum);
}

}  // namespace normkit::nn
