// Frozen BatchNorm, as torchvision.ops.FrozenBatchNorm2d: eval statistics in
// every mode, and no parameter gradients (weight, bias, running_mean and
// running_var are buffers). y = x * scale + shift with
// scale = weight / sqrt(running_var + eps), shift = bias - running_mean * scale.
#pragma once

#include <memory>

#include "normkit/nn/batch_norm.hpp"

namespace normkit::nn {

class FrozenBatchNorm2d : public Layer {
 public:
  explicit FrozenBatchNorm2d(std::int64_t num_features, double eps = 1e-5);
  // A frozen copy of a BatchNorm layer's current parameters and statistics.
  static std::unique_ptr<FrozenBatchNorm2d> from(const BatchNorm& bn);

  Tensor forward(const TensorView& x) override;    // (N, C, H, W)
  bool concurrent_eval_forward() const override { return true; }
  Tensor backward(const TensorView& dy) override;  // dx = dy * scale

  Tensor weight, bias, running_mean, running_var;  // (C) buffers

 private:
  std::int64_t num_features_;
  double eps_;
  FusedScaleShift fused() const;
};

}  // namespace normkit::nn
