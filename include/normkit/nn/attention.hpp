// Multi-head scaled dot-product self-attention, the core between a
// transformer's input projection and its output projection, as
// torch.nn.MultiheadAttention computes it (no mask, no dropout):
//
//   qkv (N, T, 3D) = [q | k | v], each D = heads * Dh, head h in columns
//   [h Dh, (h + 1) Dh) of its part;
//   per sample and head: P = softmax(q k^T / sqrt(Dh)) over each row,
//   o = P v, written to columns [h Dh, (h + 1) Dh) of o (N, T, D).
//
// The matrix products are oneDNN's sgemm on fixed blocks of samples, each
// sample's heads on one thread, so the result is the same bits for any
// thread count (no sum crosses samples). backward gives d qkv from d o.
#pragma once

#include <cstdint>

#include "normkit/nn/layer.hpp"

namespace normkit::nn {

class Attention : public Layer {
 public:
  explicit Attention(std::int64_t heads);
  Tensor forward(const TensorView& qkv) override;  // (N, T, 3D) -> (N, T, D)
  Tensor backward(const TensorView& dy) override;  // (N, T, D) -> (N, T, 3D)

  std::int64_t heads() const { return heads_; }
  // The last forward's attention probabilities, (N, heads, T, T).
  const Tensor& probabilities() const { return saved_p_; }
  // The last forward's largest attention logit |q k^T / sqrt(Dh)| over every
  // sample, head and pair (the logit growth that QK-norm is meant to stop).
  float max_logit() const { return max_logit_; }

 private:
  std::int64_t heads_;
  Tensor saved_qkv_, saved_p_;
  float max_logit_ = 0.0f;
};

}  // namespace normkit::nn
