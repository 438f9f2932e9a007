// Reference AdaIN: double precision, obvious loops; content (N, C, Sc), style
// (N, C, Ss), logical C order.
#pragma once

#include <cstdint>
#include <vector>

namespace normkit::ref {

struct AdaINProblem {
  std::int64_t N = 0, C = 0, content_S = 1, style_S = 1;
};

struct AdaINForwardResult {
  std::vector<double> y;
  std::vector<double> content_mean, content_rstd, style_mean, style_rstd;  // (N, C)
};
AdaINForwardResult adain_forward(const AdaINProblem& p, const std::vector<double>& content,
                                 const std::vector<double>& style, double eps);

struct AdaINBackwardResult {
  std::vector<double> dcontent, dstyle;
};
// The gradients at the statistics `stats` (a forward result's; its y is not
// used), as the fast path takes them from the caller: eps only enters
// through them.
AdaINBackwardResult adain_backward(const AdaINProblem& p, const std::vector<double>& dy,
                                   const std::vector<double>& content, const std::vector<double>& style,
                                   const AdaINForwardResult& stats);
// The same at the statistics that adain_forward(p, content, style, eps) computes.
AdaINBackwardResult adain_backward(const AdaINProblem& p, const std::vector<double>& dy,
                                   const std::vector<double>& content,
                                   const std::vector<double>& style, double eps);

}  // namespace normkit::ref
