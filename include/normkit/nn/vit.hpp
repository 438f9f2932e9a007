// The Vision Transformer's own layers (Dosovitskiy et al. 2021), as
// torchvision's VisionTransformer has them:
// - PatchEmbedding: conv_proj (a P x P convolution of stride P: one token of
//   D features per patch), a learned class token (1, 1, D) in front and
//   learned position embeddings (1, 1 + patches, D) added: images
//   (N, C, H, W) -> tokens (N, 1 + (H/P)(W/P), D);
// - ClassToken: (N, T, D) -> (N, D), the first token (the classifier's
//   input);
// - TokenBatchNorm: BatchNorm over tokens, each feature normalized over
//   every token of the batch (N * T values), as BatchNorm1d on (N * T, D).
#pragma once

#include <cstdint>
#include <memory>

#include "normkit/nn/batch_norm.hpp"
#include "normkit/nn/block_gradients.hpp"
#include "normkit/nn/conv2d.hpp"

namespace normkit::nn {

class PatchEmbedding : public Layer, public BlockGradientLayer {
 public:
  // Images of channels x image_size x image_size, patch dividing image_size.
  PatchEmbedding(std::int64_t channels, std::int64_t image_size, std::int64_t patch, std::int64_t dim,
                 Generator& gen);
  Tensor forward(const TensorView& images) override;  // (N, C, H, W) -> (N, 1 + patches, D)
  Tensor backward(const TensorView& dy) override;     // accumulates every gradient; dx as conv_proj gives it
  void set_input_gradient(bool needed) override;
  void convert_children(const LayerConverter& convert) override;

  std::int64_t tokens() const { return 1 + grid_ * grid_; }
  Parameter class_token;    // (1, 1, D), zeros
  Parameter pos_embedding;  // (1, tokens, D), N(0, 0.02^2)

 private:
  std::int64_t dim_, image_size_, grid_;
  std::unique_ptr<Conv2d> conv_proj_;
  std::int64_t saved_n_ = -1;
};

class ClassToken : public Layer {
 public:
  ClassToken() : Layer("ClassToken") {}
  Tensor forward(const TensorView& x) override;    // (N, T, D) -> (N, D)
  Tensor backward(const TensorView& dy) override;  // (N, D) -> (N, T, D), zeros but the first token

 private:
  Shape saved_shape_;
};

class TokenBatchNorm : public BatchNorm {
 public:
  explicit TokenBatchNorm(std::int64_t features, BatchNormModuleOptions options = {});
  Tensor forward(const TensorView& x) override;    // (N, T, D)
  Tensor backward(const TensorView& dy) override;

 private:
  Shape saved_shape_;
};

}  // namespace normkit::nn
