// A layer with one input and one output, the unit a network is built from:
// forward() keeps what backward() needs; backward() takes dL/dy of the last
// forward, returns dL/dx and accumulates the parameters' gradients (+=).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
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

  // Whether eval-mode forwards may run on several threads at once: true for
  // layers whose eval forward writes nothing but what backward needs, and
  // writes that under saved_state_lock(). Other calls (training forwards,
  // backward, mode changes) never run beside another call on the same layer.
  virtual bool concurrent_eval_forward() const { return false; }

 protected:
  explicit Layer(std::string name) : Module(std::move(name)) {}
  // convert_children's step for an owned child registered under key (null:
  // none, skipped): replaced by what convert returns (under the same key, in
  // this layer's mode), or searched in turn when it returns null.
  void convert_child(const LayerConverter& convert, const std::string& key, std::unique_ptr<Layer>& child) {
    if (child == nullptr) return;
    if (std::unique_ptr<Layer> converted = convert(*child)) {
      replace_module(key, converted.get());
      converted->train(is_training());
      child = std::move(converted);
    } else {
      child->convert_children(convert);
    }
  }
  // Held while a forward stores what backward needs, so that forwards running
  // at once each leave a whole state (the last one's), never a mix.
  std::unique_lock<std::mutex> saved_state_lock() const { return std::unique_lock(saved_state_mutex_); }

 private:
  bool input_gradient_ = true;
  mutable std::mutex saved_state_mutex_;
};

}  // namespace normkit::nn
