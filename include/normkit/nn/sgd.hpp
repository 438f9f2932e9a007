// Stochastic gradient descent with momentum and weight decay, as
// torch.optim.SGD: g = grad + weight_decay * w; b = momentum * b + g (b = g at
// the first step); w -= lr * b (nesterov: w -= lr * (g + momentum * b)).
#pragma once

#include <vector>

#include "normkit/nn/optimizer.hpp"
#include "normkit/nn/parameter.hpp"

namespace normkit::nn {

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Parameter*> parameters, SgdOptions options);
  const char* name() const override { return "sgd"; }
  void step() override;
  void zero_grad() override;
  void set_lr(double lr) override { options_.lr = lr; }
  double lr() const override { return options_.lr; }
  std::int64_t steps() const override { return steps_; }

  // "momentum_buffer" after the first step, with momentum.
  std::vector<std::string> buffer_names(std::int64_t steps) const override;
  std::vector<std::vector<Tensor>> buffers() const override;
  void load_state(std::int64_t steps, const std::vector<std::vector<Tensor>>& buffers) override;

 private:
  std::vector<Parameter*> parameters_;
  SgdOptions options_;
  std::vector<Tensor> momentum_;  // per parameter; undefined until the first step
  std::int64_t steps_ = 0;
};

}  // namespace normkit::nn
