// The residual add fused with the norm that follows it, as transformer blocks
// call it (FlashAttention's layer_norm_fn with a residual, vLLM's
// fused_add_rms_norm, ONNX Runtime's SkipLayerNormalization and
// SkipSimplifiedLayerNormalization):
//
//   residual_out = x + residual   summed in float32, stored in residual's
//                                  dtype (float32 when residual is float32)
//   y            = norm(residual_out)   LayerNorm or RMSNorm over the
//                                  trailing normalized_shape, of the stored
//                                  values, in x's dtype
//
// Backward: dsum = d norm / d residual_out (dy) + dresidual_out, the gradient
// of both x and residual (dresidual_out: the gradient that reaches the new
// residual stream from the next block; may be undefined). dweight, dbias as
// the norm's. Statistics are float32, (*leading, 1, ..., 1) as the norm's.
#pragma once

#include "normkit/layer_norm.hpp"

namespace normkit {

struct AddNormInputs {
  TensorView x;         // (*, *normalized_shape): float32, bfloat16 or float16
  TensorView residual;  // x's shape: float32 or x's dtype
  Shape normalized_shape;
  TensorView weight;  // normalized_shape, or undefined for 1
  TensorView bias;    // normalized_shape, or undefined for 0 (LayerNorm only)
};

struct AddRMSNormForwardOutputs {
  TensorView y, residual_out, rstd;
};
struct AddRMSNormForwardResult {
  Tensor y, residual_out, rstd;
};
void add_rms_norm_forward(const AddNormInputs& in, const RMSNormOptions& options,
                          const AddRMSNormForwardOutputs& out);
AddRMSNormForwardResult add_rms_norm_forward(const AddNormInputs& in, const RMSNormOptions& options = {});

struct AddLayerNormForwardOutputs {
  TensorView y, residual_out, mean, rstd;
};
struct AddLayerNormForwardResult {
  Tensor y, residual_out, mean, rstd;
};
void add_layer_norm_forward(const AddNormInputs& in, const LayerNormOptions& options,
                            const AddLayerNormForwardOutputs& out);
AddLayerNormForwardResult add_layer_norm_forward(const AddNormInputs& in, const LayerNormOptions& options = {});

struct AddNormBackwardInputs {
  TensorView dy;             // x's shape and dtype
  TensorView dresidual_out;  // residual_out's shape, or undefined
  TensorView residual_out;   // from the forward pass
  Shape normalized_shape;
  TensorView mean, rstd;  // from the forward pass (mean: LayerNorm only)
  TensorView weight;      // normalized_shape, or undefined
};

struct AddNormGrads {
  TensorView dsum, dweight, dbias;  // each computed only when defined (dbias: LayerNorm)
};
struct AddNormBackwardResult {
  Tensor dsum, dweight, dbias;
};

void add_rms_norm_backward(const AddNormBackwardInputs& in, const RMSNormOptions& options, const AddNormGrads& grads);
AddNormBackwardResult add_rms_norm_backward(const AddNormBackwardInputs& in, const RMSNormOptions& options = {});
void add_layer_norm_backward(const AddNormBackwardInputs& in, const LayerNormOptions& options,
                             const AddNormGrads& grads);
// dbias is computed when with_bias says so (the forward had a bias).
AddNormBackwardResult add_layer_norm_backward(const AddNormBackwardInputs& in, const LayerNormOptions& options,
                                              bool with_bias);

}  // namespace normkit
