#include "normkit/nn/sequential.hpp"

#include "normkit/error.hpp"

namespace normkit::nn {

Tensor Sequential::forward(const TensorView& x) {
  Tensor h = Tensor::copy_of(x);
  for (const auto& layer : layers_) h = layer->forward(h);
  return h;
}

void Sequential::convert_children(const LayerConverter& convert) {
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (std::unique_ptr<Layer> converted = convert(*layers_[i]))
      replace(i, std::move(converted));
    else
      layers_[i]->convert_children(convert);
  }
}

std::unique_ptr<Layer> Sequential::replace(std::size_t i, std::unique_ptr<Layer> layer) {
  NORMKIT_CHECK(i < layers_.size(), "Sequential::replace: index ", i, " out of range for ", layers_.size(), " layers");
  NORMKIT_CHECK(layer != nullptr, "Sequential::replace: layer: expected a layer, got null");
  replace_module(std::to_string(i), layer.get());
  layer->train(is_training());
  if (i == 0) layer->set_input_gradient(input_gradient());
  std::swap(layers_[i], layer);
  return layer;
}

void Sequential::set_input_gradient(bool needed) {
  Layer::set_input_gradient(needed);
  if (!layers_.empty()) layers_.front()->set_input_gradient(needed);
}

Tensor Sequential::forward_prefix(const TensorView& x, std::size_t count) {
  NORMKIT_CHECK(count <= layers_.size(), "Sequential::forward_prefix: count: expected at most ", layers_.size(),
                ", got ", count);
  Tensor h = Tensor::copy_of(x);
  for (std::size_t i = 0; i < count; ++i) h = layers_[i]->forward(h);
  return h;
}

Tensor Sequential::backward(const TensorView& dy) {
  Tensor g = Tensor::copy_of(dy);
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) g = (*it)->backward(g);
  return g;
}

}  // namespace normkit::nn
