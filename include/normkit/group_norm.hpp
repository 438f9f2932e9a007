// GroupNorm and InstanceNorm, functional form, with PyTorch's semantics
// (docs/semantics.md). x is (N, C, *spatial); statistics are per (n, group)
// over the group's C/G channels and all spatial positions. InstanceNorm is
// GroupNorm with one channel per group, plus optional running statistics.
#pragma once

#include <cstdint>

#include "normkit/batch_norm.hpp"  // Impl
#include "normkit/tensor.hpp"

namespace normkit {

struct GroupNormOptions {
  std::int64_t num_groups = 1;  // divides C
  double eps = 1e-5;
  Impl impl = Impl::fast;
};

struct GroupNormInputs {
  TensorView x;       // (N, C, *spatial)
  TensorView weight;  // (C), or undefined for 1
  TensorView bias;    // (C), or undefined for 0
};

struct GroupNormForwardOutputs {
  TensorView y;     // x's shape
  TensorView mean;  // (N, G)
  TensorView rstd;  // (N, G)
};

struct GroupNormForwardResult {
  Tensor y, mean, rstd;  // y in x's memory format
};

void group_norm_forward(const GroupNormInputs& in, const GroupNormOptions& options,
                        const GroupNormForwardOutputs& out);
GroupNormForwardResult group_norm_forward(const GroupNormInputs& in, const GroupNormOptions& options);

struct GroupNormBackwardInputs {
  TensorView dy, x;
  TensorView mean, rstd;  // (N, G), from the forward pass
  TensorView weight;      // (C), or undefined
};

struct GroupNormGrads {
  TensorView dx, dweight, dbias;  // each computed only when defined
};

struct GroupNormBackwardResult {
  Tensor dx, dweight, dbias;  // dweight undefined when weight is
};

void group_norm_backward(const GroupNormBackwardInputs& in, const GroupNormOptions& options,
                         const GroupNormGrads& grads);
GroupNormBackwardResult group_norm_backward(const GroupNormBackwardInputs& in,
                                            const GroupNormOptions& options);

struct InstanceNormOptions {
  // true: statistics of each instance (training, or no running statistics);
  // false: the running statistics (eval with track_running_stats).
  bool use_input_stats = true;
  double momentum = 0.1;
  double eps = 1e-5;
  Impl impl = Impl::fast;
};

struct InstanceNormInputs {
  TensorView x;             // (N, C, *spatial), at least one spatial dim
  TensorView weight, bias;  // (C), or undefined
  // (C), or undefined. With use_input_stats they are updated in place:
  // running = (1 - momentum) * running + momentum * (mean over n of the
  // instances' mean / unbiased variance); without, they normalize.
  TensorView running_mean, running_var;
};

struct InstanceNormForwardOutputs {
  TensorView y;
  TensorView mean;  // (N, C): the statistics used
  TensorView rstd;  // (N, C)
};

struct InstanceNormForwardResult {
  Tensor y, mean, rstd;
};

void instance_norm_forward(const InstanceNormInputs& in, const InstanceNormOptions& options,
                           const InstanceNormForwardOutputs& out);
InstanceNormForwardResult instance_norm_forward(const InstanceNormInputs& in,
                                                const InstanceNormOptions& options = {});

struct InstanceNormBackwardInputs {
  TensorView dy, x;
  TensorView weight;      // (C), or undefined
  TensorView mean, rstd;  // (N, C), from a forward pass with use_input_stats
};

// The gradient for instance statistics (use_input_stats = true). With running
// statistics the input gradient is dy * weight * rstd (see nn::InstanceNorm).
void instance_norm_backward(const InstanceNormBackwardInputs& in, const InstanceNormOptions& options,
                            const GroupNormGrads& grads);
GroupNormBackwardResult instance_norm_backward(const InstanceNormBackwardInputs& in,
                                               const InstanceNormOptions& options = {});

}  // namespace normkit
