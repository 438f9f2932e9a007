// BatchNorm modules with PyTorch's behaviour: train()/eval(), parameters with
// gradients, running statistics with num_batches_tracked, state_dict with
// PyTorch's key names, and the fused inference form.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "normkit/batch_norm.hpp"
#include "normkit/nn/channel_norm.hpp"

namespace normkit::nn {

// Batch Renorm's limits over training (Ioffe 2017, section 4): rmax = 1 and
// dmax = 0 for the first warmup_steps, then linear to rmax at rmax_steps and
// to dmax at dmax_steps. The step is the number of training batches seen
// before the current one (num_batches_tracked). Constant limits: all steps 0.
struct BatchRenormSchedule {
  double rmax = 3.0, dmax = 5.0;
  std::int64_t warmup_steps = 5000, rmax_steps = 40000, dmax_steps = 25000;

  BatchRenormLimits at(std::int64_t step) const;
};

struct BatchNormModuleOptions {
  double eps = 1e-5;
  // nullopt: cumulative moving average, factor 1 / num_batches_tracked.
  std::optional<double> momentum = 0.1;
  bool affine = true;               // learnable weight (ones) and bias (zeros)
  bool track_running_stats = true;  // false: batch statistics in eval mode too
  bool unbiased_running_var = true;
  // Ghost BN: training normalizes groups of this many samples (0: off).
  std::int64_t virtual_batch_size = 0;
  // Batch Renorm in training (needs track_running_stats).
  std::optional<BatchRenormSchedule> renorm;
};

// One scale and one shift per channel: eval-mode BN is y = x * scale + shift.
struct FusedScaleShift {
  Tensor scale;  // (C) weight / sqrt(running_var + eps)
  Tensor shift;  // (C) bias - running_mean * scale
};

class BatchNorm : public ChannelNorm {
 public:
  // name: "BatchNorm1d", ...; accepted ranks: inputs of these ranks only.
  BatchNorm(std::string name, std::int64_t num_features, BatchNormModuleOptions options,
            std::int64_t min_rank, std::int64_t max_rank);

  // y in x's memory format. Saves what backward needs.
  Tensor forward(const TensorView& x) override;
  bool concurrent_eval_forward() const override { return true; }
  // dx for the last forward; accumulates weight.grad and bias.grad.
  Tensor backward(const TensorView& dy) override;

  // State: weight, bias, running_mean, running_var, num_batches_tracked
  // (those that exist).
  FusedScaleShift fused_scale_shift() const;  // requires track_running_stats
  // The momentum used for later batches (nullopt: cumulative average).
  void set_momentum(std::optional<double> momentum);

  const BatchNormModuleOptions& options() const { return options_; }

 protected:
  // The functional calls, which SyncBatchNorm makes across ranks.
  virtual BatchNormForwardResult run_forward(const BatchNormInputs& in, const BatchNormOptions& options) {
    return batch_norm_forward(in, options);
  }
  virtual BatchNormBackwardResult run_backward(const BatchNormBackwardInputs& in, const BatchNormOptions& options,
                                               BatchNormGradMask mask) {
    return batch_norm_backward(in, options, mask);
  }

 private:
  void check_input_rank(const TensorView& x) const;

  BatchNormModuleOptions options_;
  std::int64_t min_rank_, max_rank_;

  // Saved by forward for backward.
  Tensor saved_x_, saved_mean_, saved_invstd_, saved_r_, saved_d_;
  BatchNormOptions saved_options_;
};

// What re-estimating running statistics changes in each layer, saved to be
// put back: its mode, momentum and running statistics.
class Recalibration {
 public:
  // layers: none null (an error names the first); a layer listed twice
  // counts once.
  explicit Recalibration(const std::vector<BatchNorm*>& layers);
  const std::vector<BatchNorm*>& layers() const { return layers_; }
  // Statistics reset, cumulative moving average, training mode.
  void start(BatchNorm& bn) const;
  // Momentum and mode as saved (the new statistics stay).
  void finish(BatchNorm& bn) const;
  // Momentum, mode and statistics as saved.
  void undo(BatchNorm& bn) const;

 private:
  struct Saved {
    std::optional<double> momentum;
    bool training;
    Tensor running_mean, running_var, num_batches_tracked;  // copies (undefined without them)
  };
  const Saved& saved(const BatchNorm& bn) const;

  std::vector<BatchNorm*> layers_;
  std::vector<Saved> saved_;
};

// Runs step() for a layer: directly, or under a front end's lock (guard).
struct DirectStep {
  template <typename Step>
  void operator()(BatchNorm& /*bn*/, Step step) const { step(); }
};

// A BN layer's running statistics re-estimated over a pass of data, as
// torch.optim.swa_utils.update_bn: the statistics are reset, momentum becomes
// the cumulative average, every layer is put in training mode, run_data_pass()
// runs the batches through the model, and each layer's momentum and mode are
// restored. When the pass throws, every layer is as before the call (mode,
// momentum and statistics) and the exception goes on. guard(bn, step) runs
// each change of a layer (the Python module takes the layer's lock there).
template <typename DataPass, typename Guard = DirectStep>
void recalibrate_running_stats(const std::vector<BatchNorm*>& layers, DataPass run_data_pass, Guard guard = {}) {
  const Recalibration r(layers);
  for (BatchNorm* bn : r.layers()) guard(*bn, [&] { r.start(*bn); });
  try {
    run_data_pass();
  } catch (...) {
    for (BatchNorm* bn : r.layers()) guard(*bn, [&] { r.undo(*bn); });
    throw;
  }
  for (BatchNorm* bn : r.layers()) guard(*bn, [&] { r.finish(*bn); });
}

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
