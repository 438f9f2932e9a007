// What the trainer and its checkpoints need of an optimizer (SGD, AdamW):
// a step over its parameters' gradients, the learning rate the schedule
// sets, and its per-parameter state, as named buffers ("momentum_buffer";
// "exp_avg", "exp_avg_sq"), each one tensor per parameter.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "normkit/tensor.hpp"

namespace normkit::nn {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual const char* name() const = 0;  // "sgd", "adamw"
  virtual void step() = 0;
  virtual void zero_grad() = 0;
  virtual void set_lr(double lr) = 0;
  virtual double lr() const = 0;
  virtual std::int64_t steps() const = 0;

  // The buffers held after `steps` steps, by name, in this order.
  virtual std::vector<std::string> buffer_names(std::int64_t steps) const = 0;
  // Those buffers, each a tensor per parameter.
  virtual std::vector<std::vector<Tensor>> buffers() const = 0;
  // Restores what steps() and buffers() gave (buffer_names(steps)'s, each
  // checked against its parameter's shape; nothing changed on an error).
  virtual void load_state(std::int64_t steps, const std::vector<std::vector<Tensor>>& buffers) = 0;
};

}  // namespace normkit::nn
