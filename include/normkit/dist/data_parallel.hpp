// Data-parallel training over the ranks of a Communicator, as
// torch.nn.parallel.DistributedDataParallel: every rank holds the same model
// (rank 0's, broadcast at construction), trains on its slice of every global
// batch, and takes the same optimizer step with the whole batch's gradients.
//
// Bits: Conv2d and Linear sum their gradients in the whole batch's tree of
// 16-sample blocks across ranks (nn/block_gradients.hpp), and SyncBatchNorm
// reduces in the whole batch's tree; so when every rank's slice is whole
// blocks (the split slice() makes whenever the batch has at least one block
// per rank), a model whose parameters are all in those layers trains with
// the bits of one process holding the whole batch, loss for loss. Other
// parameters (per-rank BatchNorm, GroupNorm, LayerNorm) have per-rank
// gradients, summed in rank order: deterministic for a number of ranks, but
// not the one-process bits (docs/distributed.md).
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "normkit/dist/communicator.hpp"
#include "normkit/nn/block_gradients.hpp"
#include "normkit/nn/sequential.hpp"
#include "normkit/train/batch_share.hpp"

namespace normkit::dist {

class SyncBatchNorm;

struct DataParallelOptions {
  // Every BatchNorm becomes a SyncBatchNorm (false: each rank normalizes
  // with its own slice's statistics, as DDP without conversion).
  bool sync_batch_norm = true;
};

class DataParallel final : public train::BatchShare {
 public:
  // Prepares `model` (converting its BatchNorms with sync_batch_norm) and
  // gives every rank rank 0's parameters and buffers. The model and the
  // communicator must outlive this object; when it ends, the model's layers
  // sum their gradients in one process again.
  DataParallel(nn::Sequential& model, Communicator& comm, DataParallelOptions options = {});
  ~DataParallel() override;

  int part() const override { return comm_.rank(); }
  int parts() const override { return comm_.size(); }
  // Whole 16-sample blocks per rank, as evenly as possible, when the batch
  // has at least one block per rank; else samples, as evenly as possible.
  std::pair<std::int64_t, std::int64_t> slice(std::int64_t batch, int part) const override;
  // The per-rank gradients summed across ranks, in rank order.
  void finish_gradients() override;
  // Rank 0's buffers on every rank (as DDP's broadcast_buffers).
  void share_buffers() override;
  std::vector<double> gather(const std::vector<double>& mine) override;

  // Since construction: every collective, and the SyncBatchNorm layers'.
  Communication communication() const override;

 private:
  class RankBlockSum;

  nn::Sequential& model_;
  Communicator& comm_;
  double seconds_before_;  // the communicator's time in collectives at construction
  std::vector<std::unique_ptr<RankBlockSum>> block_sums_;  // one per Conv2d and Linear
  std::vector<nn::BlockGradientLayer*> blocked_layers_;    // those layers, given back local sums at the end
  std::vector<const SyncBatchNorm*> sync_layers_;
  std::vector<nn::Parameter*> per_rank_;  // parameters whose gradients are each rank's own
};

}  // namespace normkit::dist
