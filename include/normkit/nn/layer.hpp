// A layer with one input and one output, the unit a network is built from:
// forward() keeps what backward() needs; backward() takes dL/dy of the last
// forward, returns dL/dx and accumulates the parameters' gradients (+=).
#pragma once

#include <string>

#include "normkit/nn/module.hpp"

namespace normkit::nn {

class Layer : public Module {
 public:
  virtual Tensor forward(const TensorView& x) = 0;
  virtual Tensor backward(const TensorView& dy) = 0;

 protected:
  explicit Layer(std::string name) : Module(std::move(name)) {}
};

}  // namespace normkit::nn
