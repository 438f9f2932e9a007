// How the batches of training and evaluation are shared between processes:
// the seam between the trainer (which has no MPI) and data-parallel training
// (dist::DataParallel). The default is one process that holds everything.
//
// In data-parallel training every process draws the same global batch (same
// seed, same shuffle), trains on its slice of it, with the loss normalized
// by the global batch size, and finish_gradients() makes every parameter's
// gradient the whole batch's on every process; so every process takes the
// same optimizer step.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace normkit::train {

class BatchShare {
 public:
  virtual ~BatchShare() = default;
  virtual int part() const { return 0; }  // this process, in [0, parts())
  virtual int parts() const { return 1; }
  // The samples [first, first + count) of a batch of `batch` that process
  // `part` trains on. The slices tile the batch in process order.
  virtual std::pair<std::int64_t, std::int64_t> slice(std::int64_t batch, int /*part*/) const { return {0, batch}; }
  // After backward: every parameter's gradient becomes the whole batch's.
  virtual void finish_gradients() {}
  // Before evaluation: every process gets the same buffers (running
  // statistics), so that each can evaluate a share of the test set.
  virtual void share_buffers() {}
  // Every process's values (each may hold a different number), concatenated
  // in process order.
  virtual std::vector<double> gather(const std::vector<double>& mine) { return mine; }

  // Wall seconds this process has spent exchanging with the others: in all,
  // and in Synchronized BN's layers.
  struct Communication {
    double total = 0, sync_batch_norm = 0;
  };
  virtual Communication communication() const { return {}; }
};

}  // namespace normkit::train
