// Synchronized Batch Normalization over MPI ranks (module and functional).
//
// In training, the ranks hold slices of one batch along N, in rank order
// (rank 0 the first samples); each may hold any number of samples, zero
// included. Statistics, the count m of the running variance's correction and
// the backward's two sums (of dy and of dy * xhat) are those of the whole
// batch, reduced in the whole batch's fixed tree (docs/numerics.md): outputs,
// running statistics and gradients are bit for bit those of one process
// holding the whole batch, for any number of ranks and any split. Eval mode
// is plain batch norm, without communication (as torch.nn.SyncBatchNorm).
//
// Every rank must call the same layers in the same order: a rank at another
// layer or phase, a channel-count or spatial-size mismatch, or an argument
// error on one rank raises dist::RankError on every rank (docs/distributed.md).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "normkit/batch_norm.hpp"
#include "normkit/dist/communicator.hpp"
#include "normkit/nn/batch_norm.hpp"
#include "normkit/nn/layer.hpp"
#include "normkit/nn/vit.hpp"

namespace normkit::dist {

// `layer` identifies the layer on every rank (the ranks' calls must agree
// on it). options.training = false is plain batch_norm_forward. Training:
// no Ghost BN, no Batch Renorm, Impl::fast.
void sync_batch_norm_forward(const BatchNormInputs& in, const BatchNormOptions& options,
                             const BatchNormForwardOutputs& out, Communicator& comm, std::int64_t layer = 0);
BatchNormForwardResult sync_batch_norm_forward(const BatchNormInputs& in, const BatchNormOptions& options,
                                               Communicator& comm, std::int64_t layer = 0);
void sync_batch_norm_backward(const BatchNormBackwardInputs& in, const BatchNormOptions& options,
                              const BatchNormGrads& grads, Communicator& comm, std::int64_t layer = 0);
BatchNormBackwardResult sync_batch_norm_backward(const BatchNormBackwardInputs& in,
                                                 const BatchNormOptions& options, Communicator& comm,
                                                 std::int64_t layer = 0, BatchNormGradMask mask = {});

// torch.nn.SyncBatchNorm: inputs (N, C, *spatial) of rank >= 2; the state
// dict of a BatchNorm.
class SyncBatchNorm : public nn::BatchNorm {
 public:
  // layer: this layer's id on every rank (convert_sync_batchnorm numbers the
  // layers of a model in order).
  SyncBatchNorm(std::int64_t num_features, Communicator& comm, std::int64_t layer,
                nn::BatchNormModuleOptions options = {});
  std::int64_t layer_id() const { return layer_; }
  // Wall seconds this layer spent in collectives (what synchronizing costs).
  double seconds_in_collectives() const { return seconds_; }
  // Its forward may exchange with the other ranks, and counts its time.
  bool concurrent_eval_forward() const override { return false; }

 protected:
  BatchNormForwardResult run_forward(const BatchNormInputs& in, const BatchNormOptions& options) override;
  BatchNormBackwardResult run_backward(const BatchNormBackwardInputs& in, const BatchNormOptions& options,
                                       BatchNormGradMask mask) override;

 private:
  Communicator& comm_;
  std::int64_t layer_;
  bool synchronized_ = false;  // whether the last forward was synchronized
  double seconds_ = 0;
};

// SyncBatchNorm over tokens (N, T, D), TokenBatchNorm's synchronized form:
// each rank's rows are its samples' tokens, and the statistics are those of
// every token of the whole batch, with the bits of one process.
class SyncTokenBatchNorm : public nn::OverTokens<SyncBatchNorm> {
 public:
  using nn::OverTokens<SyncBatchNorm>::OverTokens;
};

// torch.nn.SyncBatchNorm.convert_sync_batchnorm: every BatchNorm of `model`
// (at any depth) becomes a SyncBatchNorm (a TokenBatchNorm a
// SyncTokenBatchNorm) with its options, parameters,
// running statistics and mode; the layers are numbered first_layer, ... in
// model order. Returns how many were converted.
std::int64_t convert_sync_batchnorm(nn::Layer& model, Communicator& comm, std::int64_t first_layer = 0);

}  // namespace normkit::dist
