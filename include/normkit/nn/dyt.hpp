// DyT, Dynamic Tanh, as a module (Zhu et al. 2025's DynamicTanh with
// channels_last): y = weight * tanh(alpha * x) + bias over x's last dim,
// with the paper's parameters and state-dict keys, alpha (1,) initialized
// to alpha_init_value, weight (C,) ones and bias (C,) zeros.
#pragma once

#include "normkit/dyt.hpp"
#include "normkit/nn/layer.hpp"

namespace normkit::nn {

struct DyTModuleOptions {
  double alpha_init_value = 0.5;  // the paper's default (its LLMs use others)
  bool elementwise_affine = true;  // weight and bias; alpha is always learned
};

class DyT : public Layer {
 public:
  explicit DyT(std::int64_t normalized_features, DyTModuleOptions options = {});
  Tensor forward(const TensorView& x) override;
  bool concurrent_eval_forward() const override { return true; }
  Tensor backward(const TensorView& dy) override;  // accumulates alpha.grad, weight.grad, bias.grad

  std::int64_t normalized_features() const { return features_; }
  Parameter alpha, weight, bias;  // weight and bias undefined without elementwise_affine

 private:
  std::int64_t features_;
  Tensor saved_x_;
};

}  // namespace normkit::nn
