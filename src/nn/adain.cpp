#include "normkit/nn/adain.hpp"

#include "normkit/nn/grad_mode.hpp"

namespace normkit::nn {

AdaIN::AdaIN(double eps) : Module("AdaIN"), eps_(eps) {
  NORMKIT_CHECK(eps > 0, "AdaIN: eps: expected a positive number, got ", eps);
}

Tensor AdaIN::forward(const TensorView& content, const TensorView& style) {
  AdaINForwardResult r = adain_forward(content, style, {.eps = eps_});
  const bool keep = grad_enabled();
  saved_content_ = keep ? Tensor::copy_of(content, content.memory_format()) : Tensor();
  saved_style_ = keep ? Tensor::copy_of(style, style.memory_format()) : Tensor();
  saved_stats_ = std::move(r.stats);
  return std::move(r.y);
}

std::pair<Tensor, Tensor> AdaIN::backward(const TensorView& dy) {
  NORMKIT_CHECK(saved_content_.defined(), name(), ": backward: call forward first", kNoGradHint);
  AdaINBackwardResult g = adain_backward(dy, saved_content_, saved_style_, saved_stats_, {.eps = eps_});
  return {std::move(g.dcontent), std::move(g.dstyle)};
}

}  // namespace normkit::nn
