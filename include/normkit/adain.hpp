// Adaptive Instance Normalization (Huang and Belongie 2017):
//
//   y = sigma_s * (content - mu_c) / sigma_c + mu_s
//
// with mu and sigma = sqrt(biased variance + eps) per (n, c) of the content
// (N, C, *spatial) and of the style (N, C, *spatial'), whose spatial size may
// differ. Gradients flow to both inputs.
#pragma once

#include "normkit/batch_norm.hpp"  // Impl
#include "normkit/tensor.hpp"

namespace normkit {

struct AdaINOptions {
  double eps = 1e-5;
  Impl impl = Impl::fast;
};

// Per-(n, c) statistics, (N, C) each: what backward needs.
struct AdaINStats {
  Tensor content_mean, content_rstd, style_mean, style_rstd;
};

struct AdaINForwardResult {
  Tensor y;  // content's shape and memory format
  AdaINStats stats;
};

AdaINForwardResult adain_forward(const TensorView& content, const TensorView& style,
                                 const AdaINOptions& options = {});

struct AdaINBackwardResult {
  Tensor dcontent, dstyle;
};

AdaINBackwardResult adain_backward(const TensorView& dy, const TensorView& content,
                                   const TensorView& style, const AdaINStats& stats,
                                   const AdaINOptions& options = {});

}  // namespace normkit
