// Dropout, as torch.nn.Dropout: in training each element is zeroed with
// probability p and the rest are scaled by 1 / (1 - p); in eval mode the
// identity.
//
// The mask of element i in the k-th training forward is a hash of
// (seed, k, i), not a draw from a sequential generator: it does not depend on
// the thread count or on the order elements are visited, and the layer's
// whole random state is the pair (seed, k), saved in checkpoints as the
// module's extra state, so a resumed run draws the masks an uninterrupted
// one would.
#pragma once

#include <cstdint>

#include "normkit/nn/init.hpp"
#include "normkit/nn/layer.hpp"

namespace normkit::nn {

class Dropout : public Layer {
 public:
  // The seed is drawn from gen (one number).
  Dropout(double p, Generator& gen);
  Tensor forward(const TensorView& x) override;
  Tensor backward(const TensorView& dy) override;  // dy * mask / (1 - p), or dy in eval mode

  double p() const { return p_; }
  std::string extra_state() const override;  // "seed:training forwards so far"
  void set_extra_state(const std::string& state) override;

 private:
  double p_;
  std::uint64_t seed_;
  std::uint64_t forwards_ = 0;
  Tensor saved_scale_;  // per element: 0 or 1 / (1 - p); undefined after an eval forward
  Shape saved_shape_;
};

}  // namespace normkit::nn
