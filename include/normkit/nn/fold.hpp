// Folding an eval-mode BatchNorm into the layer before it, as
// torch.nn.utils.fusion.fuse_conv_bn_eval / fuse_linear_bn_eval: with
// scale = bn_weight / sqrt(running_var + eps), for each output channel o
//
//   weight'[o] = weight[o] * scale[o]
//   bias'[o]   = (bias[o] - running_mean[o]) * scale[o] + bn_bias[o]
//
// so that layer'(x) = bn(layer(x)). Where the output channel sits in the
// weight depends on the layer:
//   linear          (out, in)                        o = first index
//   conv            (out, in / groups, *kernel)      o = first index (any groups)
//   conv_transpose  (in, out / groups, *kernel)      o = g * (out / groups) + j for
//                   weight[i, j], g = i / (in / groups)
#pragma once

#include "normkit/nn/batch_norm.hpp"

namespace normkit::nn {

enum class FoldInto { linear, conv, conv_transpose };

struct BatchNormEvalParams {
  TensorView running_mean, running_var;  // (C)
  TensorView weight, bias;               // (C), or undefined for 1 and 0
  double eps = 1e-5;
};

struct FoldedLayer {
  Tensor weight, bias;  // bias always defined
};

// Requires: weight float32 laid out as above with C output channels; bias
// (C) or undefined (zeros). groups divides the channel counts (conv_transpose).
FoldedLayer fold_batch_norm(const TensorView& weight, const TensorView& bias,
                            const BatchNormEvalParams& bn, FoldInto layer, std::int64_t groups = 1);
// The same with a BatchNorm module's parameters and running statistics.
FoldedLayer fold_batch_norm(const TensorView& weight, const TensorView& bias, const BatchNorm& bn,
                            FoldInto layer, std::int64_t groups = 1);

}  // namespace normkit::nn
