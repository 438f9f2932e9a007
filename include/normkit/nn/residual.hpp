// Residual blocks of two 3x3 convolutions (He et al. 2016), in either form:
// - post-activation ("v1"): y = relu(norm2(conv2(relu(norm1(conv1(x))))) + s(x));
// - pre-activation ("v2"):  y = conv2(relu(norm2(conv1(relu(norm1(x)))))) + s(x);
// where s is the identity, or a 1x1 convolution (and norm) when the block
// changes the stride or the width. Children are named as torchvision's
// (conv1, bn1, conv2, bn2, downsample.0, downsample.1), whatever the norm.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "normkit/nn/activation.hpp"
#include "normkit/nn/conv2d.hpp"
#include "normkit/nn/sequential.hpp"

namespace normkit::nn {

enum class ResidualForm { post_activation, pre_activation };

// A normalization layer for `channels` feature maps of height x width, or
// null for none. The convolutions before a null norm have biases; before a
// norm they have none.
using MapNormFactory =
    std::function<std::unique_ptr<Layer>(std::int64_t channels, std::int64_t height, std::int64_t width)>;

class ResidualBlock : public Layer {
 public:
  // Inputs of (N, in_channels, in_size, in_size).
  ResidualBlock(std::int64_t in_channels, std::int64_t out_channels, std::int64_t stride, std::int64_t in_size,
                const MapNormFactory& make_norm, ResidualForm form, Generator& gen);
  Tensor forward(const TensorView& x) override;
  Tensor backward(const TensorView& dy) override;
  void convert_children(const LayerConverter& convert) override;

 private:
  ResidualForm form_;
  std::unique_ptr<Conv2d> conv1_, conv2_;
  std::unique_ptr<Layer> norm1_, norm2_;
  ReLU relu1_, relu2_;
  std::unique_ptr<Sequential> downsample_;  // null: the identity
};

}  // namespace normkit::nn
