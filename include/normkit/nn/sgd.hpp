// Stochastic gradient descent with momentum and weight decay, as
// torch.optim.SGD: g = grad + weight_decay * w; b = momentum * b + g (b = g at
// the first step); w -= lr * b (nesterov: w -= lr * (g + momentum * b)).
#pragma once

#include <vector>

#include "normkit/nn/parameter.hpp"

namespace normkit::nn {

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

class SGD {
 public:
  SGD(std::vector<Parameter*> parameters, SgdOptions options);
  void step();
  void zero_grad();
  void set_lr(double lr) { options_.lr = lr; }
  double lr() const { return options_.lr; }

  // State for checkpoints: the steps taken and each parameter's momentum
  // buffer (undefined before the first step or without momentum).
  std::int64_t steps() const { return steps_; }
  const std::vector<Tensor>& momentum_buffers() const { return momentum_; }
  // Restores what steps() and momentum_buffers() gave (shapes checked).
  void load_state(std::int64_t steps, const std::vector<Tensor>& momentum_buffers);

 private:
  std::vector<Parameter*> parameters_;
  SgdOptions options_;
  std::vector<Tensor> momentum_;  // per parameter; undefined until the first step
  std::int64_t steps_ = 0;
};

}  // namespace normkit::nn
