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

#include "normkit/nn/parameter.hpp"

namespace normkit::nn {

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
};

class AdamW {
 public:
  AdamW(std::vector<Parameter*> parameters, AdamWOptions options, std::vector<Parameter*> no_decay = {});
  void step();
  void zero_grad();
  void set_lr(double lr) { options_.lr = lr; }
  double lr() const { return options_.lr; }

  // State for checkpoints: the steps taken and each parameter's first and
  // second moments (undefined before the first step).
  std::int64_t steps() const { return steps_; }
  const std::vector<Tensor>& exp_avg() const { return exp_avg_; }
  const std::vector<Tensor>& exp_avg_sq() const { return exp_avg_sq_; }
  // Restores what they gave (shapes checked; nothing changed on an error).
  void load_state(std::int64_t steps, const std::vector<Tensor>& exp_avg, const std::vector<Tensor>& exp_avg_sq);

 private:
  std::vector<Parameter*> parameters_;
  std::vector<bool> decayed_;  // per parameter
  AdamWOptions options_;
  std::vector<Tensor> exp_avg_, exp_avg_sq_;
  std::int64_t steps_ = 0;
};

}  // namespace normkit::nn
