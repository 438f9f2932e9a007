// Softmax cross-entropy on logits, as torch.nn.functional.cross_entropy with
// reduction='mean'.
#pragma once

#include <cstdint>

#include "normkit/tensor.hpp"

namespace normkit::nn {

struct CrossEntropy {
  double loss = 0;           // mean over the batch of -log softmax(logits)[label]
  Tensor grad;               // dloss/dlogits, (N, K): (softmax - onehot) / N
  std::int64_t correct = 0;  // samples whose largest logit is the label's
};

// logits (N, K) float32, labels (N) int64 in [0, K).
CrossEntropy softmax_cross_entropy(const TensorView& logits, const TensorView& labels);

}  // namespace normkit::nn
