// Multi-head scaled dot-product self-attention, the core between a
// transformer's input projection and its output projection, as
// torch.nn.MultiheadAttention computes it (no mask):
//
//   qkv (N, T, 3D) = [q | k | v], each D = heads * Dh, head h in columns
//   [h Dh, (h + 1) Dh) of its part;
//   per sample and head: P = softmax(q k^T / sqrt(Dh)) over each row,
//   o = dropout(P) v, written to columns [h Dh, (h + 1) Dh) of o (N, T, D);
//   dropout (in training, when constructed with p > 0) is nn::Dropout's.
//
// The matrix products are oneDNN's sgemm on fixed blocks of samples, each
// sample's heads on one thread, so the result is the same bits for any
// thread count (no sum crosses samples). backward gives d qkv from d o.
#pragma once

#include <cstdint>
#include <memory>

#include "normkit/nn/init.hpp"
#include "normkit/nn/layer.hpp"

namespace normkit::nn {

class Dropout;

class Attention : public Layer {
 public:
  explicit Attention(std::int64_t heads);
  // With dropout of the probabilities (torch.nn.MultiheadAttention's
  // dropout): p in [0, 1); with p > 0 its seed is drawn from gen.
  Attention(std::int64_t heads, double dropout, Generator& gen);
  ~Attention() override;
  Tensor forward(const TensorView& qkv) override;  // (N, T, 3D) -> (N, T, D)
  Tensor backward(const TensorView& dy) override;  // (N, T, D) -> (N, T, 3D)

  std::int64_t heads() const { return heads_; }
  // The last forward's attention probabilities, (N, heads, T, T) (kept under
  // nn::NoGrad too: the forward computes them in place).
  const Tensor& probabilities() const { return saved_p_; }
  // The last forward's largest attention logit |q k^T / sqrt(Dh)| over every
  // sample, head and pair (the logit growth that QK-norm is meant to stop).
  float max_logit() const { return max_logit_; }

 private:
  std::int64_t heads_;
  std::unique_ptr<Dropout> dropout_;  // null: none
  Tensor saved_qkv_, saved_p_;
  Tensor saved_dropped_;  // dropout(P) of the last training forward; undefined when P was used as it is
  float max_logit_ = 0.0f;
};

}  // namespace normkit::nn
