// The residual add fused with RMSNorm or LayerNorm, as modules (the
// functional ops: normkit/add_norm.hpp): forward(x, residual) gives
// (y, residual_out), the norm of the new residual stream and the stream
// itself; backward(dy, dresidual_out) gives dsum, the gradient of both x and
// residual, and accumulates the parameters' gradients. The parameters are
// float32 (ones and zeros), the data any of float32, bfloat16, float16; the
// state dict is the norm's own (weight, bias), as a transformer's
// checkpoint keeps it.
#pragma once

#include <optional>
#include <utility>

#include "normkit/add_norm.hpp"
#include "normkit/nn/module.hpp"

namespace normkit::nn {

struct AddRMSNormModuleOptions {
  std::optional<double> eps;  // nullopt: float32 machine epsilon
  bool elementwise_affine = true;
  double weight_offset = 0;   // y = x * rstd * (weight_offset + weight): Gemma's 1
};

class AddRMSNorm : public Module {
 public:
  AddRMSNorm(Shape normalized_shape, AddRMSNormModuleOptions options = {});
  // (y, residual_out)
  std::pair<Tensor, Tensor> forward(const TensorView& x, const TensorView& residual);
  // dsum for the last forward; dresidual_out may be undefined (zero).
  Tensor backward(const TensorView& dy, const TensorView& dresidual_out = {});

  const Shape& normalized_shape() const { return normalized_shape_; }
  Parameter weight;

 private:
  Shape normalized_shape_;
  AddRMSNormModuleOptions options_;
  Tensor saved_sum_, saved_rstd_;
};

struct AddLayerNormModuleOptions {
  double eps = 1e-5;
  bool elementwise_affine = true;  // weight (ones), and bias (zeros) when `bias`
  bool bias = true;
};

class AddLayerNorm : public Module {
 public:
  AddLayerNorm(Shape normalized_shape, AddLayerNormModuleOptions options = {});
  std::pair<Tensor, Tensor> forward(const TensorView& x, const TensorView& residual);
  Tensor backward(const TensorView& dy, const TensorView& dresidual_out = {});

  const Shape& normalized_shape() const { return normalized_shape_; }
  Parameter weight, bias;

 private:
  Shape normalized_shape_;
  AddLayerNormModuleOptions options_;
  Tensor saved_sum_, saved_mean_, saved_rstd_;
};

}  // namespace normkit::nn
