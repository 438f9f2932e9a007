// A transformer's pieces over token sequences x (N, T, D), with the
// parameter names of torch.nn.TransformerEncoderLayer so that a PyTorch twin
// loads the same state dict:
//
// - MultiHeadSelfAttention: in_proj (in_proj_weight (3D, D), in_proj_bias),
//   Attention's core, out_proj (out_proj.weight, out_proj.bias); with
//   qk_norm, LayerNorm over each head's Dh features of q and of k (q_norm,
//   k_norm: one weight and bias of Dh shared by the heads) before the
//   scores (Dehghani et al. 2023).
// - TransformerBlock: self_attn, then linear1 (D -> hidden), GELU,
//   linear2 (hidden -> D), with norm1 and norm2 (any token norm, or none):
//     pre-norm:  x = x + attn(norm1(x));  x = x + mlp(norm2(x))
//     post-norm: x = norm1(x + attn(x));  x = norm2(x + mlp(x))
//   With dropout p > 0, torch's four places: the attention probabilities,
//   attn's output (dropout1), the MLP's hidden units after GELU (dropout)
//   and its output (dropout2).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "normkit/nn/activation.hpp"
#include "normkit/nn/attention.hpp"
#include "normkit/nn/layer_norm.hpp"
#include "normkit/nn/linear.hpp"

namespace normkit::nn {

class MultiHeadSelfAttention : public Layer {
 public:
  MultiHeadSelfAttention(std::int64_t dim, std::int64_t heads, Generator& gen, bool qk_norm = false,
                         double dropout = 0);
  Tensor forward(const TensorView& x) override;    // (N, T, D) -> (N, T, D)
  Tensor backward(const TensorView& dy) override;  // accumulates the parameters' gradients
  void convert_children(const LayerConverter& convert) override;

  const Attention& attention() const { return attention_; }

 private:
  std::int64_t dim_, heads_;
  std::unique_ptr<Linear> in_proj_, out_proj_;
  Attention attention_;
  std::unique_ptr<LayerNorm> q_norm_, k_norm_;  // null without qk_norm
};

enum class NormPlacement { pre, post };

// A norm for token features (N, T, D), or null for none.
using TokenNormFactory = std::function<std::unique_ptr<Layer>(std::int64_t features)>;

struct TransformerBlockOptions {
  std::int64_t heads = 4;
  std::int64_t hidden = 0;  // the MLP's width; 0: 4 * D
  NormPlacement placement = NormPlacement::pre;
  bool qk_norm = false;
  double dropout = 0;  // torch.nn.TransformerEncoderLayer's dropout (0: no Dropout layers)
};

class TransformerBlock : public Layer {
 public:
  TransformerBlock(std::int64_t dim, const TokenNormFactory& make_norm, TransformerBlockOptions options,
                   Generator& gen);
  Tensor forward(const TensorView& x) override;
  Tensor backward(const TensorView& dy) override;
  void convert_children(const LayerConverter& convert) override;

  MultiHeadSelfAttention& self_attn() { return *self_attn_; }

 private:
  Tensor attention_forward(const TensorView& x);  // self_attn, then dropout1
  Tensor attention_backward(const Tensor& dy);
  Tensor mlp_forward(const Tensor& x);  // linear1, GELU, dropout, linear2, dropout2
  Tensor mlp_backward(const Tensor& dy);

  NormPlacement placement_;
  std::unique_ptr<MultiHeadSelfAttention> self_attn_;
  std::unique_ptr<Linear> linear1_, linear2_;
  GELU activation_;
  std::unique_ptr<Layer> norm1_, norm2_;                  // null: none
  std::unique_ptr<Layer> dropout_, dropout1_, dropout2_;  // null without dropout
};

}  // namespace normkit::nn
