// Fully connected layer, as torch.nn.Linear: y = x W^T + b, x (N, in) or
// (N, *, in) (a sequence of tokens per sample: (N, T, in)), W (out, in),
// b (out). The matrix products are oneDNN's sgemm, on fixed blocks of
// samples (each with all its rows); the blocks' parameter gradients are
// summed in a pairwise tree over the blocks (nn/block_gradients.hpp).
#pragma once

#include <cstdint>

#include "normkit/nn/block_gradients.hpp"
#include "normkit/nn/init.hpp"
#include "normkit/nn/layer.hpp"

namespace normkit::nn {

struct LinearOptions {
  bool bias = true;
  Init init = Init::torch_default;
};

class Linear : public Layer, public BlockGradientLayer {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, Generator& gen, LinearOptions options = {});

  Tensor forward(const TensorView& x) override;    // (N, *, in) -> (N, *, out)
  Tensor backward(const TensorView& dy) override;  // (N, *, out) -> (N, *, in); accumulates weight.grad, bias.grad

  std::int64_t in_features() const { return in_; }
  std::int64_t out_features() const { return out_; }

  Parameter weight;  // (out, in)
  Parameter bias;    // (out); undefined without bias

 private:
  std::int64_t in_, out_;
  Tensor saved_x_;
};

}  // namespace normkit::nn
