// DyT, Dynamic Tanh (Zhu et al. 2025, "Transformers without Normalization"):
// the drop-in replacement for a transformer's LayerNorm that normalizes
// nothing,
//
//   y = weight * tanh(alpha * x) + bias
//
// with alpha a learned scalar (a tensor of one element, shape (1,) as the
// paper's module holds it, or ()) and weight and bias per feature of x's last
// dimension (C,), as LayerNorm's over (C,). No statistics: every element on
// its own, so the forward and dx are elementwise and the reductions are
// dalpha (over every element) and dweight, dbias (per feature over the rows).
//
// tanh is normkit's own float32 function (kernels/tanh.hpp: a polynomial near
// 0, 1 - 2 / (exp(2|x|) + 1) beyond), the same bits on every instruction set;
// the reductions are blocked by row index and combined in a fixed order, the
// same bits for any thread count. x, y, dy and dx may be float32, bfloat16 or
// float16 (computed in float32, rounded once); alpha, weight, bias and their
// gradients are float32.
#pragma once

#include "normkit/batch_norm.hpp"  // Impl
#include "normkit/tensor.hpp"

namespace normkit {

struct DyTOptions {
  Impl impl = Impl::fast;
};

struct DyTInputs {
  TensorView x;       // (*, C)
  TensorView alpha;   // one element: (1,) or ()
  TensorView weight;  // (C,), or undefined for 1
  TensorView bias;    // (C,), or undefined for 0
};

void dyt_forward(const DyTInputs& in, const DyTOptions& options, const TensorView& y);
Tensor dyt_forward(const DyTInputs& in, const DyTOptions& options = {});

struct DyTBackwardInputs {
  TensorView dy, x;  // x's shape
  TensorView alpha;
  TensorView weight;  // (C,), or undefined
};

struct DyTGrads {
  TensorView dx, dalpha, dweight, dbias;  // each computed only when defined
};

struct DyTBackwardResult {
  Tensor dx, dalpha, dweight, dbias;  // dweight undefined when there is no weight
};

//   dx     = dy * weight * alpha * (1 - tanh(alpha * x)^2)
//   dalpha = sum(dy * weight * x * (1 - tanh(alpha * x)^2))
//   dweight = sum over rows of dy * tanh(alpha * x),  dbias = sum over rows of dy
void dyt_backward(const DyTBackwardInputs& in, const DyTOptions& options, const DyTGrads& grads);
DyTBackwardResult dyt_backward(const DyTBackwardInputs& in, const DyTOptions& options = {});

}  // namespace normkit
