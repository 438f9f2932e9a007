#include "normkit/nn/dyt.hpp"

#include "normkit/nn/grad_mode.hpp"

#include <cmath>

namespace normkit::nn {

DyT::DyT(std::int64_t normalized_features, DyTModuleOptions options)
    : Layer("DyT"), features_(normalized_features) {
  NORMKIT_CHECK(normalized_features > 0, "DyT: normalized_features: expected a size > 0, got ", normalized_features);
  NORMKIT_CHECK(std::isfinite(options.alpha_init_value), "DyT: alpha_init_value: expected a finite number, got ",
                options.alpha_init_value);
  alpha = Parameter(Tensor::full({1}, static_cast<float>(options.alpha_init_value)));
  if (options.elementwise_affine) {
    weight = Parameter(Tensor::full({features_}, 1.0f));
    bias = Parameter(Tensor::full({features_}, 0.0f));
  }
  register_parameter("alpha", &alpha);
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Tensor DyT::forward(const TensorView& x) {
  NORMKIT_CHECK(x.dim() >= 1 && x.shape().back() == features_, name(), ": expected input with last dimension ",
                features_, ", got shape ", shape_string(x.shape()));
  Tensor y = dyt_forward({x, alpha.value, weight.value, bias.value});
  Tensor x_copy = grad_enabled() ? Tensor::copy_of(x) : Tensor();
  const auto saved = saved_state_lock();
  saved_x_ = std::move(x_copy);
  return y;
}

Tensor DyT::backward(const TensorView& dy) {
  NORMKIT_CHECK(saved_x_.defined(), name(), ": backward: call forward first", kNoGradHint);
  DyTBackwardResult g = dyt_backward({dy, saved_x_, alpha.value, weight.value});
  alpha.accumulate(g.dalpha);
  weight.accumulate(g.dweight);
  bias.accumulate(g.dbias);
  return std::move(g.dx);
}

}  // namespace normkit::nn
