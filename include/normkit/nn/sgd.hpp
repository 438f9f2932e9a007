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

 private:
  std::vector<Parameter*> parameters_;
  SgdOptions options_;
  std::vector<Tensor> momentum_;  // per parameter; undefined until the first step
  std::int64_t steps_ = 0;
};

}  // namespace normkit::nn
