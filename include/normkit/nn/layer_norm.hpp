// LayerNorm and RMSNorm modules, as torch.nn.LayerNorm and torch.nn.RMSNorm.
#pragma once

#include <optional>

#include "normkit/layer_norm.hpp"
#include "normkit/nn/layer.hpp"

namespace normkit::nn {

struct LayerNormModuleOptions {
  double eps = 1e-5;
  bool elementwise_affine = true;  // weight (ones), and bias (zeros) when `bias`
  bool bias = true;
};

class LayerNorm : public Layer {
 public:
  LayerNorm(Shape normalized_shape, LayerNormModuleOptions options = {});
  Tensor forward(const TensorView& x) override;
  bool concurrent_eval_forward() const override { return true; }
  Tensor backward(const TensorView& dy) override;  // accumulates weight.grad, bias.grad

  const Shape& normalized_shape() const { return normalized_shape_; }
  Parameter weight, bias;  // normalized_shape; undefined when absent

 private:
  Shape normalized_shape_;
  LayerNormModuleOptions options_;
  Tensor saved_x_, saved_mean_, saved_rstd_;
};

struct RMSNormModuleOptions {
  std::optional<double> eps;  // nullopt: float32 machine epsilon
  bool elementwise_affine = true;
};

class RMSNorm : public Layer {
 public:
  RMSNorm(Shape normalized_shape, RMSNormModuleOptions options = {});
  Tensor forward(const TensorView& x) override;
  bool concurrent_eval_forward() const override { return true; }
  Tensor backward(const TensorView& dy) override;  // accumulates weight.grad

  const Shape& normalized_shape() const { return normalized_shape_; }
  Parameter weight;

 private:
  Shape normalized_shape_;
  RMSNormModuleOptions options_;
  Tensor saved_x_, saved_rstd_;
};

}  // namespace normkit::nn
