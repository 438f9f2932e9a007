// A layer with one input and one output, the unit a network is built from:
// forward() keeps what backward() needs; backward() takes dL/dy of the last
// forward, returns dL/dx and accumulates the parameters' gradients (+=).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "normkit/nn/module.hpp"

namespace normkit::nn {

class Layer : public Module {
 public:
  virtual Tensor forward(const TensorView& x) = 0;
  virtual Tensor backward(const TensorView& dy) = 0;

  // Whether backward must return dL/dx. A network's first layer need not (the
  // input is data, as a tensor without requires_grad in PyTorch): a layer
  // that can skip that work (Conv2d) then returns an undefined tensor.
  virtual void set_input_gradient(bool needed) { input_gradient_ = needed; }
  bool input_gradient() const { return input_gradient_; }

  // What convert_children() puts in place of a layer: a new layer, or null to
  // keep the layer (and look inside it).
  using LayerConverter = std::function<std::unique_ptr<Layer>(Layer&)>;
  // Every descendant layer for which convert returns a layer is replaced by
  // it, under the same key (as torch's convert_sync_batchnorm walks a
  // model's children); the others are searched in turn. Layers without
  // child layers have nothing to do.
  virtual void convert_children(const LayerConverter& /*convert*/) {}

 protected:
  explicit Layer(std::string name) : Module(std::move(name)) {}

 private:
  bool input_gradient_ = true;
};

}  // namespace normkit::nn
