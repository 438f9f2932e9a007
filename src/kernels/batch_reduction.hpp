// The seam between batch_norm and Synchronized BN (src/dist): how the
// training statistics and the backward sums of a batch that is split along N
// between ranks are reduced. The kernels stay free of MPI; the dist layer
// implements BatchReduction over its communicator.
#pragma once

#include <cstdint>
#include <string>

#include "grad_sums.hpp"
#include "moments.hpp"
#include "normkit/batch_norm.hpp"
#include "planned_view.hpp"

namespace normkit::kernels {

// This rank's place in the whole batch, as every rank agreed on it.
struct BatchSlice {
  std::int64_t batch = 0;  // samples of the whole batch (every rank's N)
  std::int64_t first = 0;  // the whole batch's index of this rank's sample 0
  Layout layout = Layout::contiguous;  // the layout every rank reduces in
};

class BatchReduction {
 public:
  virtual ~BatchReduction() = default;

  // Called by every rank once per forward or backward call, after its own
  // argument checks and before anything is written. error: this rank's
  // argument error ("" when none); N, C, S: its input's batch size, channels
  // and spatial size; layout: its input's own layout. Throws normkit::Error on
  // every rank when any rank has an error or the ranks disagree.
  virtual BatchSlice agree(const std::string& error, std::int64_t N, std::int64_t C, std::int64_t S,
                           Layout layout) = 0;
  // The whole batch's statistics per channel, out (C), from this rank's x
  // in the agreed layout (local: its plan, A == 1).
  virtual void moments(const float* x, const NormPlan& local, Moments* out) = 0;
  // The whole batch's sums per channel, out (C), from this rank's dy and x
  // (local.plan: their plan, A == 1; local.out unused).
  virtual void grad_sums(const GradSumsArgs& local, GradSums* out) = 0;
};

// Training-mode batch norm over the batch that the ranks of `reduction` hold
// together: the same checks and outputs as batch_norm_forward and
// batch_norm_backward, with statistics, counts and sums of the whole batch.
// options.training must be true; no Ghost BN, no Batch Renorm, Impl::fast.
// An argument error on any rank is raised on every rank, before anything is
// written.
void batch_norm_forward_across(const BatchNormInputs& in, const BatchNormOptions& options,
                               const BatchNormForwardOutputs& out, BatchReduction& reduction);
void batch_norm_backward_across(const BatchNormBackwardInputs& in, const BatchNormOptions& options,
                                const BatchNormGrads& grads, BatchReduction& reduction);

}  // namespace normkit::kernels
