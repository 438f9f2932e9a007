// Softmax cross-entropy on logits, as torch.nn.functional.cross_entropy with
// reduction='mean'.
#pragma once

#include <cstdint>
#include <vector>

#include "normkit/tensor.hpp"

namespace normkit::nn {

struct CrossEntropy {
  double loss = 0;           // mean over the batch of -log softmax(logits)[label]
  Tensor grad;               // dloss/dlogits, (N, K): (softmax - onehot) / N
  std::int64_t correct = 0;  // samples whose largest logit is the label's
  std::vector<double> losses;  // each sample's -log softmax(logits)[label]
};

// logits (N, K) float32, labels (N) int64 in [0, K). mean_over > 0 divides
// by that count instead of N: the loss of a whole batch of which these are a
// slice (data-parallel training), with loss the slice's share of it.
CrossEntropy softmax_cross_entropy(const TensorView& logits, const TensorView& labels, std::int64_t mean_over = 0);

}  // namespace normkit::nn
