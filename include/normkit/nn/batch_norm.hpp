// BatchNorm modules with PyTorch's behaviour: train()/eval(), parameters with
// gradients, running statistics with num_batches_tracked, state_dict with
// PyTorch's key names, and the fused inference form.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "normkit/batch_norm.hpp"
#include "normkit/nn/module.hpp"

namespace normkit::nn {

struct BatchNormModuleOptions {
  double eps = 1e-5;
  // nullopt: cumulative moving average, factor 1 / num_batches_tracked.
  std::optional<double> momentum = 0.1;
  bool affine = true;               // learnable weight (ones) and bias (zeros)
  bool track_running_stats = true;  // false: batch statistics in eval mode too
  bool unbiased_running_var = true;
};

// One scale and one shift per channel: eval-mode BN is y = x * scale + shift.
struct FusedScaleShift {
  Tensor scale;  // (C) weight / sqrt(running_var + eps)
  Tensor shift;  // (C) bias - running_mean * scale
};

class BatchNorm : public Module {
 public:
  // name: "BatchNorm1d", ...; accepted ranks: inputs of these ranks only.
  BatchNorm(std::string name, std::int64_t num_features, BatchNormModuleOptions options,
            std::int64_t min_rank, std::int64_t max_rank);

  // y in x's memory format. Saves what backward needs.
  Tensor forward(const TensorView& x);
  // dx for the last forward; accumulates weight.grad and bias.grad.
  Tensor backward(const TensorView& dy);

  // State: weight, bias, running_mean, running_var, num_batches_tracked
  // (those that exist).
  FusedScaleShift fused_scale_shift() const;  // requires track_running_stats

  std::int64_t num_features() const { return num_features_; }
  const BatchNormModuleOptions& options() const { return options_; }

  Parameter weight, bias;   // (C); undefined when !affine
  Tensor running_mean;      // (C); undefined when !track_running_stats
  Tensor running_var;       // (C)
  Tensor num_batches_tracked;  // int64 scalar (shape ())

 private:
  void check_input_rank(const TensorView& x) const;

  std::int64_t num_features_;
  BatchNormModuleOptions options_;
  std::int64_t min_rank_, max_rank_;

  // Saved by forward for backward.
  Tensor saved_x_, saved_mean_, saved_invstd_;
  bool saved_batch_stats_ = false;
};

// (N, C) or (N, C, L)
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(std::int64_t num_features, BatchNormModuleOptions options = {})
      : BatchNorm("BatchNorm1d", num_features, options, 2, 3) {}
};
// (N, C, H, W)
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(std::int64_t num_features, BatchNormModuleOptions options = {})
      : BatchNorm("BatchNorm2d", num_features, options, 4, 4) {}
};
// (N, C, D, H, W)
class BatchNorm3d : public BatchNorm {
 public:
  explicit BatchNorm3d(std::int64_t num_features, BatchNormModuleOptions options = {})
      : BatchNorm("BatchNorm3d", num_features, options, 5, 5) {}
};

}  // namespace normkit::nn
