// Parameter-free layers: ReLU, Sigmoid, GELU, and Flatten ((N, *) -> (N, prod(*))).
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

// GELU as torch.nn.GELU() (approximate='none'): y = x * Phi(x) with
// Phi(x) = 0.5 * (1 + erf(x / sqrt(2))), in float32 vectors with normkit's
// own erf and exp (kernels/gelu_span.hpp; erf to 1.5e-7 as PyTorch's
// vectorized one; the same bits on every SIMD path and thread count, where
// libm's erff and expf pick variants by the CPU).
class GELU : public Layer {
 public:
  GELU() : Layer("GELU") {}
  Tensor forward(const TensorView& x) override;
  Tensor backward(const TensorView& dy) override;  // dy * (Phi(x) + x * exp(-x^2 / 2) / sqrt(2 pi))

 private:
  Tensor saved_x_;
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
