#include "normkit/nn/sequential.hpp"

namespace normkit::nn {

Tensor Sequential::forward(const TensorView& x) {
  Tensor h = Tensor::copy_of(x);
  for (const auto& layer : layers_) h = layer->forward(h);
  return h;
}

Tensor Sequential::backward(const TensorView& dy) {
  Tensor g = Tensor::copy_of(dy);
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) g = (*it)->backward(g);
  return g;
}

}  // namespace normkit::nn
