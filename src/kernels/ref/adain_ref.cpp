#include "adain_ref.hpp"

#include <cmath>

namespace normkit::ref {
namespace {

// Mean and 1 / sqrt(biased variance + eps) of v[begin, begin + n).
void stats(const std::vector<double>& v, std::int64_t begin, std::int64_t n, double eps,
           double& mean, double& rstd) {
  double sum = 0, sq = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += v[begin + i];
  mean = sum / n;
  for (std::int64_t i = 0; i < n; ++i) sq += (v[begin + i] - mean) * (v[begin + i] - mean);
  rstd = 1.0 / std::sqrt(sq / n + eps);
}

}  // namespace

AdaINForwardResult adain_forward(const AdaINProblem& p, const std::vector<double>& content,
                                 const std::vector<double>& style, double eps) {
  const std::int64_t NC = p.N * p.C, Sc = p.content_S, Ss = p.style_S;
  AdaINForwardResult r{std::vector<double>(content.size()), std::vector<double>(NC),
                       std::vector<double>(NC), std::vector<double>(NC), std::vector<double>(NC)};
  for (std::int64_t i = 0; i < NC; ++i) {
    stats(content, i * Sc, Sc, eps, r.content_mean[i], r.content_rstd[i]);
    stats(style, i * Ss, Ss, eps, r.style_mean[i], r.style_rstd[i]);
    for (std::int64_t s = 0; s < Sc; ++s)
      r.y[i * Sc + s] = (content[i * Sc + s] - r.content_mean[i]) * r.content_rstd[i] / r.style_rstd[i] +
                        r.style_mean[i];
  }
  return r;
}

AdaINBackwardResult adain_backward(const AdaINProblem& p, const std::vector<double>& dy,
                                   const std::vector<double>& content,
                                   const std::vector<double>& style, double eps) {
  return adain_backward(p, dy, content, style, adain_forward(p, content, style, eps));
}

AdaINBackwardResult adain_backward(const AdaINProblem& p, const std::vector<double>& dy,
                                   const std::vector<double>& content, const std::vector<double>& style,
                                   const AdaINForwardResult& stats) {
  const std::int64_t NC = p.N * p.C, Sc = p.content_S, Ss = p.style_S;
  AdaINBackwardResult r{std::vector<double>(content.size()), std::vector<double>(style.size())};
  for (std::int64_t i = 0; i < NC; ++i) {
    const double mc = stats.content_mean[i], rc = stats.content_rstd[i];
    const double ms = stats.style_mean[i], rs = stats.style_rstd[i];
    const double sigma_s = 1.0 / rs;
    // chat = (c - mc) * rc;  y = sigma_s * chat + ms
    double sum_dy = 0, sum_dy_chat = 0;
    for (std::int64_t s = 0; s < Sc; ++s) {
      sum_dy += dy[i * Sc + s];
      sum_dy_chat += dy[i * Sc + s] * (content[i * Sc + s] - mc) * rc;
    }
    // content: instance-norm backward with gamma = sigma_s
    for (std::int64_t s = 0; s < Sc; ++s) {
      const double chat = (content[i * Sc + s] - mc) * rc;
      r.dcontent[i * Sc + s] = sigma_s * rc * (dy[i * Sc + s] - sum_dy / Sc - chat * sum_dy_chat / Sc);
    }
    // style: dL/dms = sum(dy), dL/dsigma_s = sum(dy * chat);
    // dms/ds = 1/Ss, dsigma_s/ds = (s - ms) / (Ss * sigma_s)
    for (std::int64_t s = 0; s < Ss; ++s)
      r.dstyle[i * Ss + s] = sum_dy / Ss + sum_dy_chat * (style[i * Ss + s] - ms) * rs / Ss;
  }
  return r;
}

}  // namespace normkit::ref
