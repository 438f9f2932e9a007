// 2-D convolution, as torch.nn.Conv2d (square kernel, the same stride and
// zero padding in both dimensions, groups), on (N, C, H, W) input. The
// convolution itself is oneDNN's (forward, backward data, backward weights),
// run on fixed blocks of samples, one thread per block, with the blocks'
// weight gradients summed in a pairwise tree over the blocks: the same bits
// for any thread count (nn/fixed_blocks.hpp), and across ranks
// (nn/block_gradients.hpp). Primitives are kept per block size.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <utility>

#include "normkit/nn/block_gradients.hpp"
#include "normkit/nn/init.hpp"
#include "normkit/nn/layer.hpp"
#include "normkit/nn/linear.hpp"

namespace normkit::nn {

struct Conv2dOptions {
  std::int64_t stride = 1, padding = 0, groups = 1;
  bool bias = true;
  Init init = Init::torch_default;  // fan_in = C/groups * K * K
};

class Conv2d : public Layer, public BlockGradientLayer {
 public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, Generator& gen,
         Conv2dOptions options = {});
  ~Conv2d() override;

  Tensor forward(const TensorView& x) override;    // (N, C, H, W) -> (N, O, H', W')
  // Accumulates weight.grad and bias.grad; returns dx, or an undefined
  // tensor after set_input_gradient(false).
  Tensor backward(const TensorView& dy) override;

  Parameter weight;  // (O, C / groups, K, K)
  Parameter bias;    // (O); undefined without bias

 private:
  struct BlockPrimitives;  // oneDNN's, for a block of samples of one input shape
  BlockPrimitives& primitives(std::int64_t samples, std::int64_t h, std::int64_t w);
  // The primitives a batch of n samples needs, made before the threads
  // start: for its full blocks and for its last block (the same when n is
  // a multiple of the block).
  std::pair<BlockPrimitives&, BlockPrimitives&> batch_primitives(std::int64_t n, std::int64_t h, std::int64_t w);

  std::int64_t in_, out_, kernel_;
  Conv2dOptions options_;
  Shape block_input_;  // (C, H, W) the primitives were made for
  std::map<std::int64_t, std::unique_ptr<BlockPrimitives>> blocks_;  // by samples per block
  Tensor saved_x_;
};

}  // namespace normkit::nn
