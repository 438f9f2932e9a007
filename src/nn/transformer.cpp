#include "normkit/nn/transformer.hpp"

#include <algorithm>

#include "layer_checks.hpp"
#include "normkit/error.hpp"
#include "normkit/nn/dropout.hpp"
#include "parallel_loop.hpp"

namespace normkit::nn {
namespace {

Tensor add(const TensorView& a, const TensorView& b) { return sum_of(a, b, "TransformerBlock: the residual's"); }

// Part `part` (0: q, 1: k) of qkv (N, T, 3D) as a (N, T, H, Dh) view.
TensorView head_view(const Tensor& qkv, int part, std::int64_t heads) {
  const Shape& s = qkv.shape();
  const std::int64_t d = s[2] / 3, dh = d / heads;
  return TensorView(const_cast<float*>(qkv.data<float>()) + part * d, {s[0], s[1], heads, dh},
                    {s[1] * s[2], s[2], dh, 1}, DType::float32);
}

// Replaces part `part` of qkv by norm(part) (forward) or by the norm's
// input gradient of it (backward).
void through_head_norm(LayerNorm& norm, Tensor& qkv, int part, std::int64_t heads, bool backward) {
  const TensorView view = head_view(qkv, part, heads);
  const Tensor values = Tensor::copy_of(view);
  const Tensor out = backward ? norm.backward(values) : norm.forward(values);
  copy_into(out, view);
}

Tensor through(const std::unique_ptr<Layer>& norm, const TensorView& x) {
  return norm ? norm->forward(x) : Tensor::copy_of(x);
}
Tensor back_through(const std::unique_ptr<Layer>& norm, const TensorView& dy) {
  return norm ? norm->backward(dy) : Tensor::copy_of(dy);
}
// t through an optional layer (a dropout), or t itself.
Tensor maybe(const std::unique_ptr<Layer>& layer, Tensor t) { return layer ? layer->forward(t) : t; }
Tensor maybe_back(const std::unique_ptr<Layer>& layer, Tensor dt) { return layer ? layer->backward(dt) : dt; }

std::unique_ptr<Layer> dropout_layer(double p, Generator& gen) {
  return p > 0 ? std::make_unique<Dropout>(p, gen) : nullptr;
}

// convert's verdict on a child that must stay what it is.
void keep(const Layer::LayerConverter& convert, Layer& layer, const char* layer_name, const char* key) {
  NORMKIT_CHECK(convert(layer) == nullptr, layer_name, ": ", key, ": cannot be replaced");
}

}  // namespace

MultiHeadSelfAttention::MultiHeadSelfAttention(std::int64_t dim, std::int64_t heads, Generator& gen, bool qk_norm,
                                               double dropout)
    : Layer("MultiHeadSelfAttention"), dim_(dim), heads_(heads), attention_(heads, dropout, gen) {
  NORMKIT_CHECK(dim > 0 && heads > 0 && dim % heads == 0, "MultiHeadSelfAttention: expected dim a multiple of heads, got ",
                dim, " and ", heads);
  // As torch.nn.MultiheadAttention: in_proj xavier-uniform with zero bias,
  // out_proj torch.nn.Linear's default with zero bias.
  in_proj_ = std::make_unique<Linear>(dim, 3 * dim, gen, LinearOptions{.init = Init::glorot_uniform});
  out_proj_ = std::make_unique<Linear>(dim, dim, gen);
  std::fill(out_proj_->bias.value.data<float>(), out_proj_->bias.value.data<float>() + dim, 0.0f);
  register_parameter("in_proj_weight", &in_proj_->weight);
  register_parameter("in_proj_bias", &in_proj_->bias);
  register_module("out_proj", out_proj_.get());
  if (qk_norm) {
    q_norm_ = std::make_unique<LayerNorm>(Shape{dim / heads});
    k_norm_ = std::make_unique<LayerNorm>(Shape{dim / heads});
    register_module("q_norm", q_norm_.get());
    register_module("k_norm", k_norm_.get());
  }
  if (dropout > 0) register_module("attention", &attention_);  // its dropout's state goes into checkpoints
}

void MultiHeadSelfAttention::convert_children(const LayerConverter& convert) {
  keep(convert, *in_proj_, name().c_str(), "in_proj");
  keep(convert, *out_proj_, name().c_str(), "out_proj");
  keep(convert, attention_, name().c_str(), "attention");
  for (LayerNorm* norm : {q_norm_.get(), k_norm_.get()})
    if (norm != nullptr) keep(convert, *norm, name().c_str(), "q_norm/k_norm");
}

Tensor MultiHeadSelfAttention::forward(const TensorView& x) {
  NORMKIT_CHECK(x.defined() && x.dim() == 3 && x.size(2) == dim_, name(), ": x: expected (N, T, ", dim_, "), got ",
                shape_or_none(x));
  Tensor qkv = in_proj_->forward(x);
  if (q_norm_) {
    through_head_norm(*q_norm_, qkv, 0, heads_, false);
    through_head_norm(*k_norm_, qkv, 1, heads_, false);
  }
  return out_proj_->forward(attention_.forward(qkv));
}

Tensor MultiHeadSelfAttention::backward(const TensorView& dy) {
  Tensor dqkv = attention_.backward(out_proj_->backward(dy));
  if (q_norm_) {
    through_head_norm(*q_norm_, dqkv, 0, heads_, true);
    through_head_norm(*k_norm_, dqkv, 1, heads_, true);
  }
  return in_proj_->backward(dqkv);
}

TransformerBlock::TransformerBlock(std::int64_t dim, const TokenNormFactory& make_norm,
                                   TransformerBlockOptions options, Generator& gen)
    : Layer("TransformerBlock"), placement_(options.placement) {
  const std::int64_t hidden = options.hidden > 0 ? options.hidden : 4 * dim;
  // torch.nn.TransformerEncoderLayer's order of construction (and draws).
  self_attn_ = std::make_unique<MultiHeadSelfAttention>(dim, options.heads, gen, options.qk_norm, options.dropout);
  linear1_ = std::make_unique<Linear>(dim, hidden, gen);
  dropout_ = dropout_layer(options.dropout, gen);
  linear2_ = std::make_unique<Linear>(hidden, dim, gen);
  norm1_ = make_norm(dim);
  norm2_ = make_norm(dim);
  dropout1_ = dropout_layer(options.dropout, gen);
  dropout2_ = dropout_layer(options.dropout, gen);
  register_module("self_attn", self_attn_.get());
  register_module("linear1", linear1_.get());
  register_module("linear2", linear2_.get());
  if (norm1_) register_module("norm1", norm1_.get());
  if (norm2_) register_module("norm2", norm2_.get());
  if (dropout_) {
    register_module("dropout", dropout_.get());
    register_module("dropout1", dropout1_.get());
    register_module("dropout2", dropout2_.get());
  }
}

void TransformerBlock::convert_children(const LayerConverter& convert) {
  keep(convert, *self_attn_, name().c_str(), "self_attn");
  self_attn_->convert_children(convert);
  keep(convert, *linear1_, name().c_str(), "linear1");
  keep(convert, *linear2_, name().c_str(), "linear2");
  convert_child(convert, "norm1", norm1_);
  convert_child(convert, "norm2", norm2_);
}

Tensor TransformerBlock::attention_forward(const TensorView& x) { return maybe(dropout1_, self_attn_->forward(x)); }

Tensor TransformerBlock::attention_backward(const Tensor& dy) {
  return self_attn_->backward(maybe_back(dropout1_, dy));
}

Tensor TransformerBlock::mlp_forward(const Tensor& x) {
  const Tensor hidden = maybe(dropout_, activation_.forward(linear1_->forward(x)));
  return maybe(dropout2_, linear2_->forward(hidden));
}

Tensor TransformerBlock::mlp_backward(const Tensor& dy) {
  const Tensor d_hidden = linear2_->backward(maybe_back(dropout2_, dy));
  return linear1_->backward(activation_.backward(maybe_back(dropout_, d_hidden)));
}

Tensor TransformerBlock::forward(const TensorView& x) {
  if (placement_ == NormPlacement::pre) {
    const Tensor x1 = add(x, attention_forward(through(norm1_, x)));
    return add(x1, mlp_forward(through(norm2_, x1)));
  }
  const Tensor x1 = through(norm1_, add(x, attention_forward(x)));
  return through(norm2_, add(x1, mlp_forward(x1)));
}

Tensor TransformerBlock::backward(const TensorView& dy) {
  if (placement_ == NormPlacement::pre) {
    const Tensor dx1 = add(dy, back_through(norm2_, mlp_backward(Tensor::copy_of(dy))));
    return add(dx1, back_through(norm1_, attention_backward(dx1)));
  }
  const Tensor ds2 = back_through(norm2_, dy);
  const Tensor dx1 = add(ds2, mlp_backward(ds2));
  const Tensor ds1 = back_through(norm1_, dx1);
  return add(ds1, attention_backward(ds1));
}

}  // namespace normkit::nn
