// GroupNorm and InstanceNorm modules, as torch.nn.GroupNorm and
// torch.nn.InstanceNorm1d/2d/3d.
#pragma once

#include "normkit/group_norm.hpp"
#include "normkit/nn/channel_norm.hpp"
#include "normkit/nn/layer.hpp"

namespace normkit::nn {

struct GroupNormModuleOptions {
  double eps = 1e-5;
  bool affine = true;
};

class GroupNorm : public Layer {
 public:
  GroupNorm(std::int64_t num_groups, std::int64_t num_channels, GroupNormModuleOptions options = {});
  Tensor forward(const TensorView& x) override;    // (N, C, *spatial)
  bool concurrent_eval_forward() const override { return true; }
  Tensor backward(const TensorView& dy) override;  // accumulates weight.grad, bias.grad

  Parameter weight, bias;  // (C); undefined when !affine

 private:
  std::int64_t num_groups_, num_channels_;
  GroupNormModuleOptions options_;
  Tensor saved_x_, saved_mean_, saved_rstd_;
};

struct InstanceNormModuleOptions {
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = false;               // as PyTorch
  bool track_running_stats = false;  // as PyTorch
};

// Instance statistics in training, or always without running statistics; the
// running statistics in eval mode when they are tracked. As PyTorch,
// num_batches_tracked is kept (for state dicts) but not counted.
class InstanceNorm : public ChannelNorm {
 public:
  InstanceNorm(std::string name, std::int64_t num_features, InstanceNormModuleOptions options,
               std::int64_t rank);
  Tensor forward(const TensorView& x) override;
  bool concurrent_eval_forward() const override { return true; }
  Tensor backward(const TensorView& dy) override;


 private:
  std::int64_t rank_;
  InstanceNormModuleOptions options_;
  Tensor saved_x_, saved_mean_, saved_rstd_;
  bool saved_input_stats_ = true;
};

class InstanceNorm1d : public InstanceNorm {  // (N, C, L)
 public:
  explicit InstanceNorm1d(std::int64_t num_features, InstanceNormModuleOptions options = {})
      : InstanceNorm("InstanceNorm1d", num_features, options, 3) {}
};
class InstanceNorm2d : public InstanceNorm {  // (N, C, H, W)
 public:
  explicit InstanceNorm2d(std::int64_t num_features, InstanceNormModuleOptions options = {})
      : InstanceNorm("InstanceNorm2d", num_features, options, 4) {}
};
class InstanceNorm3d : public InstanceNorm {  // (N, C, D, H, W)
 public:
  explicit InstanceNorm3d(std::int64_t num_features, InstanceNormModuleOptions options = {})
      : InstanceNorm("InstanceNorm3d", num_features, options, 5) {}
};

}  // namespace normkit::nn
