// 2-D convolution, as torch.nn.Conv2d (square kernel, the same stride and
// zero padding in both dimensions, groups), on (N, C, H, W) input. The
// convolution itself is oneDNN's (forward, backward data, backward weights),
// with its primitives kept for the last input shape.
#pragma once

#include <cstdint>
#include <memory>

#include "normkit/nn/init.hpp"
#include "normkit/nn/layer.hpp"
#include "normkit/nn/linear.hpp"

namespace normkit::nn {

struct Conv2dOptions {
  std::int64_t stride = 1, padding = 0, groups = 1;
  bool bias = true;
  Init init = Init::torch_default;  // fan_in = C/groups * K * K
};

class Conv2d : public Layer {
 public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, Generator& gen,
         Conv2dOptions options = {});
  ~Conv2d() override;

  Tensor forward(const TensorView& x) override;    // (N, C, H, W) -> (N, O, H', W')
  Tensor backward(const TensorView& dy) override;  // accumulates weight.grad, bias.grad

  Parameter weight;  // (O, C / groups, K, K)
  Parameter bias;    // (O); undefined without bias

 private:
  struct Primitives;  // oneDNN's, for one input shape
  std::int64_t in_, out_, kernel_;
  Conv2dOptions options_;
  std::unique_ptr<Primitives> primitives_;
  Tensor saved_x_;
};

}  // namespace normkit::nn
