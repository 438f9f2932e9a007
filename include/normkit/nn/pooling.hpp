// Pooling layers for (N, C, H, W) input: MaxPool2d as torch.nn.MaxPool2d
// (square window, stride, no padding; the first maximum of a window wins, as
// PyTorch's); GlobalAvgPool2d, the mean over H and W, giving (N, C) (torch's
// AdaptiveAvgPool2d(1) followed by Flatten). Plain loops over (n, c) planes
// in parallel: oneDNN 2.6's max pooling for plain NCHW measured 39 ms for a
// batch that these loops do in a few.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "normkit/nn/layer.hpp"

namespace normkit::nn {

class MaxPool2d : public Layer {
 public:
  explicit MaxPool2d(std::int64_t kernel_size, std::int64_t stride = 0);  // stride 0: the kernel size
  Tensor forward(const TensorView& x) override;
  Tensor backward(const TensorView& dy) override;  // dy to the position of each window's maximum

 private:
  std::int64_t kernel_, stride_;
  Shape input_shape_, output_shape_;
  std::vector<std::int32_t> argmax_;  // per output: the input offset of its maximum within its plane
};

class GlobalAvgPool2d : public Layer {
 public:
  GlobalAvgPool2d() : Layer("GlobalAvgPool2d") {}
  Tensor forward(const TensorView& x) override;    // (N, C, H, W) -> (N, C)
  Tensor backward(const TensorView& dy) override;  // dy / (H * W) to every position

 private:
  Shape input_shape_;
};

}  // namespace normkit::nn
