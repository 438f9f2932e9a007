// Softmax cross-entropy on logits, as torch.nn.functional.cross_entropy with
// reduction='mean' (and its label_smoothing).
#pragma once

#include <cstdint>
#include <vector>

#include "normkit/tensor.hpp"

namespace normkit::nn {

struct CrossEntropy {
  double loss = 0;           // mean over the batch of -log softmax(logits)[label] (smoothed: below)
  Tensor grad;               // dloss/dlogits, (N, K): (softmax - target) / N
  std::int64_t correct = 0;  // samples whose largest logit is the label's
  std::vector<double> losses;  // each sample's loss
};

// logits (N, K) float32, labels (N) int64 in [0, K). mean_over > 0 divides
// by that count instead of N: the loss of a whole batch of which these are a
// slice (data-parallel training), with loss the slice's share of it.
// label_smoothing in [0, 1], as torch's: the target is (1 - s) onehot + s / K,
// so a sample's loss is -sum_j target_j log softmax(logits)_j (0: exactly the
// unsmoothed loss and gradient).
CrossEntropy softmax_cross_entropy(const TensorView& logits, const TensorView& labels, std::int64_t mean_over = 0,
                                   double label_smoothing = 0);

}  // namespace normkit::nn
