// Batch Normalization, functional form, with PyTorch's semantics
// (docs/semantics.md). Mirrors ATen's native_batch_norm and
// native_batch_norm_backward.
//
// Shapes: x is (N, C, *spatial) with any number of spatial dims (zero
// included); every per-channel tensor is (C). Contiguous and channels-last
// views take the fast path; any other strides are copied first.
#pragma once

#include <cstdint>
#include <optional>

#include "normkit/tensor.hpp"

namespace normkit {

// Which implementation runs: the fast kernels, or the plain reference (double
// accumulation, obvious loops) that tests hold the fast one against.
enum class Impl { fast, reference };

// Batch Renormalization (Ioffe 2017): in training,
//   r = clip(sigma_B / sigma, 1/rmax, rmax),  d = clip((mean_B - mean) / sigma, -dmax, dmax)
//   y = ((x - mean_B) / sigma_B * r + d) * weight + bias
// with sigma_B = sqrt(var_B + eps), sigma = sqrt(running_var + eps), and r, d
// constants in backward. rmax = 1, dmax = 0 is plain BN.
struct BatchRenormLimits {
  double rmax = 3.0;  // >= 1
  double dmax = 5.0;  // >= 0
};

struct BatchNormOptions {
  bool training = true;   // batch statistics (true) or running statistics
  double momentum = 0.1;  // running = (1 - momentum) * running + momentum * batch
  double eps = 1e-5;      // added to the variance inside the square root
  // Running variance gets the unbiased batch variance (PyTorch); false keeps
  // the biased one.
  bool unbiased_running_var = true;
  // Ghost BN (Hoffer et al. 2017): in training, each group of
  // virtual_batch_size consecutive samples is normalized with its own
  // statistics; the running statistics move once per call, towards the mean
  // of the groups' statistics; save_mean and save_invstd are (N / k, C).
  // 0 is off; eval mode is plain BN.
  std::int64_t virtual_batch_size = 0;
  // Batch Renorm, training only; needs running statistics.
  std::optional<BatchRenormLimits> renorm;
  Impl impl = Impl::fast;
};

struct BatchNormInputs {
  TensorView x;             // (N, C, *spatial)
  TensorView weight;        // (C) gamma, or undefined for 1
  TensorView bias;          // (C) beta, or undefined for 0
  TensorView running_mean;  // (C), or undefined; updated in place when training
  TensorView running_var;   // (C), or undefined; updated in place when training
};

// Outputs are written, never read. In eval mode save_mean and save_invstd may
// be undefined (PyTorch returns them empty).
struct BatchNormForwardOutputs {
  TensorView y;            // same shape as x, any strides
  TensorView save_mean;    // (C) batch mean; (N / k, C) for Ghost BN
  TensorView save_invstd;  // (C) 1 / sqrt(batch biased variance + eps); (N / k, C)
  TensorView renorm_r;     // (C), Batch Renorm only: the r and d used
  TensorView renorm_d;     // (C)
};

struct BatchNormForwardResult {
  Tensor y;            // in x's memory format (channels-last stays channels-last)
  Tensor save_mean;    // (C) when training ((N / k, C) for Ghost BN), (0) otherwise
  Tensor save_invstd;  // as save_mean
  Tensor renorm_r, renorm_d;  // (C) for Batch Renorm in training, else undefined
};

// Requires: x float32 of rank >= 2; weight, bias, running stats undefined or
// float32 of shape (C); running stats defined when !training; more than one
// value per channel when training; eps > 0; 0 <= momentum <= 1.
// Throws normkit::Error, naming the argument, before anything is written.
void batch_norm_forward(const BatchNormInputs& in, const BatchNormOptions& options,
                        const BatchNormForwardOutputs& out);
BatchNormForwardResult batch_norm_forward(const BatchNormInputs& in,
                                          const BatchNormOptions& options);

struct BatchNormBackwardInputs {
  TensorView dy;            // same shape as x
  TensorView x;             // (N, C, *spatial)
  TensorView weight;        // (C), or undefined for 1
  TensorView running_mean;  // (C), used when !training
  TensorView running_var;   // (C), used when !training
  TensorView save_mean;     // (C), from the forward pass, used when training
  TensorView save_invstd;   // (C), from the forward pass, used when training
  TensorView renorm_r;      // (C), Batch Renorm in training: from the forward pass
  TensorView renorm_d;      // (C)
};

// Each gradient is computed only when its view is defined; gradients are
// overwritten, not accumulated.
struct BatchNormGrads {
  TensorView dx;       // same shape as x, any strides
  TensorView dweight;  // (C)
  TensorView dbias;    // (C)
};

struct BatchNormGradMask {
  bool input = true, weight = true, bias = true;
};

struct BatchNormBackwardResult {
  Tensor dx, dweight, dbias;  // undefined where the mask said no
};

// Uses options.training, eps, virtual_batch_size, renorm (whether it is set)
// and impl.
void batch_norm_backward(const BatchNormBackwardInputs& in, const BatchNormOptions& options,
                         const BatchNormGrads& grads);
BatchNormBackwardResult batch_norm_backward(const BatchNormBackwardInputs& in,
                                            const BatchNormOptions& options,
                                            BatchNormGradMask mask = {});

// y = x * scale[c] + shift[c]: the fused inference form of an eval-mode BN.
void channel_scale_shift(const TensorView& x, const TensorView& scale, const TensorView& shift,
                         const TensorView& y);

}  // namespace normkit
