// Layers applied in order, as torch.nn.Sequential: its state dict holds each
// layer's entries under the layer's index ("0.weight", "1.running_mean", ...),
// so it loads PyTorch's state dicts of the same network.
#pragma once

#include <memory>
#include <vector>

#include "normkit/nn/layer.hpp"

namespace normkit::nn {

class Sequential : public Layer {
 public:
  Sequential() : Layer("Sequential") {}

  // Appends a layer (owned) and returns it.
  template <typename L>
  L& add(std::unique_ptr<L> layer) {
    L& ref = *layer;
    if (layers_.empty()) ref.set_input_gradient(input_gradient());
    register_module(std::to_string(layers_.size()), layer.get());
    layers_.push_back(std::move(layer));
    return ref;
  }

  Tensor forward(const TensorView& x) override;
  Tensor backward(const TensorView& dy) override;
  // Passed on to the first layer (the later ones must give their dx).
  void set_input_gradient(bool needed) override;

  std::size_t size() const { return layers_.size(); }
  Layer& operator[](std::size_t i) { return *layers_.at(i); }
  // Puts `layer` in place of layer i (under the same key), as assigning to
  // torch.nn.Sequential's item i; returns the layer it replaced.
  std::unique_ptr<Layer> replace(std::size_t i, std::unique_ptr<Layer> layer);
  // The first `count` layers applied in order (the input of layer `count`).
  Tensor forward_prefix(const TensorView& x, std::size_t count);
  void convert_children(const LayerConverter& convert) override;

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
};

}  // namespace normkit::nn
