#include "normkit/nn/adain.hpp"

namespace normkit::nn {

AdaIN::AdaIN(double eps) : Module("AdaIN"), eps_(eps) {
  NORMKIT_CHECK(eps > 0, "AdaIN: eps: expected a positive number, got ", eps);
}

Tensor AdaIN::forward(const TensorView& content, const TensorView& style) {
  AdaINForwardResult r = adain_forward(content, style, {.eps = eps_});
  saved_content_ = Tensor::copy_of(content, content.memory_format());
  saved_style_ = Tensor::copy_of(style, style.memory_format());
  saved_stats_ = std::move(r.stats);
  return std::move(r.y);
}

std::pair<Tensor, Tensor> AdaIN::backward(const TensorView& dy) {
  NORMKIT_CHECK(saved_content_.defined(), name(), ": backward: call forward first");
  AdaINBackwardResult g = adain_backward(dy, saved_content_, saved_style_, saved_stats_, {.eps = eps_});
  return {std::move(g.dcontent), std::move(g.dstyle)};
}

}  // namespace normkit::nn
