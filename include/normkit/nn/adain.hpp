// AdaIN as a module: no parameters; forward(content, style), and backward(dy)
// giving the gradients of both inputs.
#pragma once

#include <utility>

#include "normkit/adain.hpp"
#include "normkit/nn/module.hpp"

namespace normkit::nn {

class AdaIN : public Module {
 public:
  explicit AdaIN(double eps = 1e-5);
  Tensor forward(const TensorView& content, const TensorView& style);
  // (dcontent, dstyle) for the last forward.
  std::pair<Tensor, Tensor> backward(const TensorView& dy);

 private:
  double eps_;
  Tensor saved_content_, saved_style_;
  AdaINStats saved_stats_;
};

}  // namespace normkit::nn
