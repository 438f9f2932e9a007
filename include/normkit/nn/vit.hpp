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
#include <string>

#include "normkit/nn/batch_norm.hpp"
#include "normkit/nn/block_gradients.hpp"
#include "normkit/nn/conv2d.hpp"
#include "normkit/nn/grad_mode.hpp"
#include "normkit/error.hpp"

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

// (N, T, D) tokens as the (N * T, D) rows a BatchNorm normalizes, and back;
// a gradient checked against the forward's tokens' shape.
Tensor tokens_as_rows(const TensorView& x, const std::string& layer);
Tensor gradient_as_rows(const TensorView& dy, const Shape& tokens, const std::string& layer);
Tensor rows_as_tokens(const TensorView& rows, const Shape& tokens);

// A BatchNorm class Base run over tokens: every token of the batch is a row
// of Base's (N * T, D) input. TokenBatchNorm is BatchNorm over tokens;
// dist::SyncTokenBatchNorm, SyncBatchNorm over tokens.
template <typename Base>
class OverTokens : public Base {
 public:
  using Base::Base;
  Tensor forward(const TensorView& x) override {  // (N, T, D)
    const Tensor rows = tokens_as_rows(x, this->name());
    {
      auto lock = this->saved_state_lock();  // eval forwards may run at once
      saved_shape_ = grad_enabled() ? x.shape() : Shape{};
    }
    return rows_as_tokens(Base::forward(rows), x.shape());
  }
  Tensor backward(const TensorView& dy) override {
    NORMKIT_CHECK(!saved_shape_.empty(), this->name(), ": backward before forward", kNoGradHint);
    return rows_as_tokens(Base::backward(gradient_as_rows(dy, saved_shape_, this->name())), saved_shape_);
  }

 private:
  Shape saved_shape_;
};

class TokenBatchNorm : public OverTokens<BatchNorm> {
 public:
  explicit TokenBatchNorm(std::int64_t features, BatchNormModuleOptions options = {})
      : OverTokens<BatchNorm>("TokenBatchNorm", features, options, 2, 2) {}
};

}  // namespace normkit::nn
