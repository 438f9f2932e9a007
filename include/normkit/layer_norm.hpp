// LayerNorm and RMSNorm, functional form, with PyTorch's semantics
// (docs/semantics.md). Mirrors ATen's native_layer_norm /
// native_layer_norm_backward and torch.nn.functional.rms_norm.
//
// x is (*, *normalized_shape): statistics are taken over the trailing
// normalized_shape dims, once per leading index ("row"). weight and bias have
// shape normalized_shape. mean and rstd have x's leading dims followed by a 1
// for each normalized dim, as ATen.
#pragma once

#include <optional>

#include "normkit/batch_norm.hpp"  // Impl
#include "normkit/tensor.hpp"

namespace normkit {

struct LayerNormOptions {
  double eps = 1e-5;
  Impl impl = Impl::fast;
};

struct LayerNormInputs {
  TensorView x;
  Shape normalized_shape;
  TensorView weight;  // normalized_shape, or undefined for 1
  TensorView bias;    // normalized_shape, or undefined for 0
};

struct LayerNormForwardOutputs {
  TensorView y;     // x's shape, any strides
  TensorView mean;  // (*leading, 1, ..., 1)
  TensorView rstd;  // (*leading, 1, ..., 1): 1 / sqrt(biased variance + eps)
};

struct LayerNormForwardResult {
  Tensor y, mean, rstd;
};

void layer_norm_forward(const LayerNormInputs& in, const LayerNormOptions& options,
                        const LayerNormForwardOutputs& out);
LayerNormForwardResult layer_norm_forward(const LayerNormInputs& in,
                                          const LayerNormOptions& options = {});

struct LayerNormBackwardInputs {
  TensorView dy, x;
  Shape normalized_shape;
  TensorView mean, rstd;  // from the forward pass
  TensorView weight;      // normalized_shape, or undefined
};

struct LayerNormGrads {
  TensorView dx, dweight, dbias;  // each computed only when defined
};

struct LayerNormBackwardResult {
  Tensor dx, dweight, dbias;
};

void layer_norm_backward(const LayerNormBackwardInputs& in, const LayerNormOptions& options,
                         const LayerNormGrads& grads);
// dweight and dbias are computed when `weight` / `with_bias` say so.
LayerNormBackwardResult layer_norm_backward(const LayerNormBackwardInputs& in,
                                            const LayerNormOptions& options, bool with_weight,
                                            bool with_bias);

// RMSNorm: y = x * rsqrt(mean(x^2) + eps) * weight.
struct RMSNormOptions {
  std::optional<double> eps;  // nullopt: float32 machine epsilon, as torch.nn.RMSNorm
  Impl impl = Impl::fast;
  // y = x * rstd * (weight_offset + weight): Gemma's 1 + weight (in float32,
  // as its PyTorch code); with no weight, the offset alone. dweight is the
  // gradient of weight (the offset is a constant).
  double weight_offset = 0.0;
};

struct RMSNormInputs {
  TensorView x;
  Shape normalized_shape;
  TensorView weight;  // normalized_shape, or undefined for 1
};

struct RMSNormForwardOutputs {
  TensorView y;     // x's shape
  TensorView rstd;  // (*leading, 1, ..., 1)
};

struct RMSNormForwardResult {
  Tensor y, rstd;
};

void rms_norm_forward(const RMSNormInputs& in, const RMSNormOptions& options,
                      const RMSNormForwardOutputs& out);
RMSNormForwardResult rms_norm_forward(const RMSNormInputs& in, const RMSNormOptions& options = {});

struct RMSNormBackwardInputs {
  TensorView dy, x;
  Shape normalized_shape;
  TensorView rstd;    // from the forward pass
  TensorView weight;  // normalized_shape, or undefined
};

struct RMSNormGrads {
  TensorView dx, dweight;
};

struct RMSNormBackwardResult {
  Tensor dx, dweight;
};

void rms_norm_backward(const RMSNormBackwardInputs& in, const RMSNormOptions& options,
                       const RMSNormGrads& grads);
RMSNormBackwardResult rms_norm_backward(const RMSNormBackwardInputs& in,
                                        const RMSNormOptions& options = {});

}  // namespace normkit
