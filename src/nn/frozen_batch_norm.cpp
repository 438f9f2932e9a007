#include "normkit/nn/frozen_batch_norm.hpp"

#include <cmath>

#include "layer_checks.hpp"

namespace normkit::nn {

FrozenBatchNorm2d::FrozenBatchNorm2d(std::int64_t num_features, double eps)
    : Layer("FrozenBatchNorm2d"), num_features_(num_features), eps_(eps) {
  NORMKIT_CHECK(num_features > 0, name(), ": num_features: expected > 0, got ", num_features);
  NORMKIT_CHECK(eps > 0, name(), ": eps: expected a positive number, got ", eps);
  weight = Tensor::full({num_features}, 1.0f);
  bias = Tensor::full({num_features}, 0.0f);
  running_mean = Tensor::full({num_features}, 0.0f);
  running_var = Tensor::full({num_features}, 1.0f);
  register_buffer("weight", &weight);
  register_buffer("bias", &bias);
  register_buffer("running_mean", &running_mean);
  register_buffer("running_var", &running_var);
}

std::unique_ptr<FrozenBatchNorm2d> FrozenBatchNorm2d::from(const BatchNorm& bn) {
  NORMKIT_CHECK(bn.options().track_running_stats, "FrozenBatchNorm2d::from: ", bn.name(),
                " has no running statistics (track_running_stats=False)");
  auto frozen = std::make_unique<FrozenBatchNorm2d>(bn.num_features(), bn.options().eps);
  if (bn.weight.value.defined()) {
    copy_into(bn.weight.value, frozen->weight);
    copy_into(bn.bias.value, frozen->bias);
  }
  copy_into(bn.running_mean, frozen->running_mean);
  copy_into(bn.running_var, frozen->running_var);
  return frozen;
}

FusedScaleShift FrozenBatchNorm2d::fused() const {
  FusedScaleShift f{Tensor({num_features_}), Tensor({num_features_})};
  for (std::int64_t c = 0; c < num_features_; ++c) {
    const double scale = weight.data<float>()[c] / std::sqrt(static_cast<double>(running_var.data<float>()[c]) + eps_);
    f.scale.data<float>()[c] = static_cast<float>(scale);
    f.shift.data<float>()[c] = static_cast<float>(bias.data<float>()[c] - running_mean.data<float>()[c] * scale);
  }
  return f;
}

Tensor FrozenBatchNorm2d::forward(const TensorView& x) {
  NORMKIT_CHECK(x.defined() && x.dim() == 4 && x.size(1) == num_features_, name(),
                ": input: expected (N, ", num_features_, ", H, W), got ",
                shape_or_none(x));
  const FusedScaleShift f = fused();
  Tensor y(x.shape(), DType::float32, x.memory_format());
  channel_scale_shift(x, f.scale, f.shift, y);
  return y;
}

Tensor FrozenBatchNorm2d::backward(const TensorView& dy) {
  NORMKIT_CHECK(dy.defined() && dy.dim() == 4 && dy.size(1) == num_features_, name(),
                ": dy: expected (N, ", num_features_, ", H, W), got ",
                shape_or_none(dy));
  const FusedScaleShift f = fused();
  Tensor dx(dy.shape(), DType::float32, dy.memory_format());
  channel_scale_shift(dy, f.scale, Tensor::full({num_features_}, 0.0f), dx);
  return dx;
}

}  // namespace normkit::nn
