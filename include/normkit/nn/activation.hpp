// Parameter-free layers: ReLU, Sigmoid, and Flatten ((N, *) -> (N, prod(*))).
#pragma once

#include <cstdint>
#include <vector>

#include "normkit/nn/layer.hpp"

namespace normkit::nn {

class ReLU : public Layer {
 public:
  ReLU() : Layer("ReLU") {}
  Tensor forward(const TensorView& x) override;
  Tensor backward(const TensorView& dy) override;  // dy where x > 0, else 0

 private:
  Shape saved_shape_;
  std::vector<std::uint8_t> positive_;  // x > 0, per element of the last forward
};

class Sigmoid : public Layer {
 public:
  Sigmoid() : Layer("Sigmoid") {}
  Tensor forward(const TensorView& x) override;
  Tensor backward(const TensorView& dy) override;  // dy * y * (1 - y)

 private:
  Tensor saved_y_;
};

class Flatten : public Layer {
 public:
  Flatten() : Layer("Flatten") {}
  Tensor forward(const TensorView& x) override;
  Tensor backward(const TensorView& dy) override;  // back to the input's shape

 private:
  Shape input_shape_;
};

}  // namespace normkit::nn
