// AdamW (Loshchilov and Hutter 2019) as torch.optim.AdamW (amsgrad off,
// maximize off), with its defaults and its order of float32 operations:
//
//   w = w * (1 - lr * weight_decay)                  decoupled, before the update
//   m = m + (1 - beta1) * (g - m)                    (torch 2.x's lerp_)
//   v = v * beta2 + (1 - beta2) * g * g              (addcmul_)
//   w = w + (-lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
//
// t the step, from 1; the scalars in double, rounded to float where torch
// rounds them, the float32 operations in the order of torch's single-tensor
// CPU path (torch 1.13 updated m as m * beta1 + (1 - beta1) * g). Parameters listed in `no_decay` (the usual exclusion of norms'
// weights and of biases) take no weight decay.
#pragma once

#include <vector>

#include "normkit/nn/optimizer.hpp"
#include "normkit/nn/parameter.hpp"

namespace normkit::nn {

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
};

class AdamW : public Optimizer {
 public:
  AdamW(std::vector<Parameter*> parameters, AdamWOptions options, std::vector<Parameter*> no_decay = {});
  const char* name() const override { return "adamw"; }
  void step() override;
  void zero_grad() override;
  void set_lr(double lr) override { options_.lr = lr; }
  double lr() const override { return options_.lr; }
  std::int64_t steps() const override { return steps_; }

  // "exp_avg" and "exp_avg_sq" (the moments) after the first step.
  std::vector<std::string> buffer_names(std::int64_t steps) const override;
  std::vector<std::vector<Tensor>> buffers() const override;
  void load_state(std::int64_t steps, const std::vector<std::vector<Tensor>>& buffers) override;

 private:
  std::vector<Parameter*> parameters_;
  std::vector<bool> decayed_;  // per parameter
  AdamWOptions options_;
  std::vector<Tensor> exp_avg_, exp_avg_sq_;
  std::int64_t steps_ = 0;
};

}  // namespace normkit::nn
