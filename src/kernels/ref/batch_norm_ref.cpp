#include "batch_norm_ref.hpp"

#include <cmath>

namespace normkit::ref {

BatchNormForwardResult batch_norm_forward(BatchNormForwardArgs& args) {
  const auto [N, C, S] = args.problem;
  const double m = static_cast<double>(N * S);
  auto at = [&](std::int64_t n, std::int64_t c, std::int64_t s) { return (n * C + c) * S + s; };
  BatchNormForwardResult result;
  result.y.resize(args.x.size());
  if (args.training) {
    result.save_mean.resize(C);
    result.save_invstd.resize(C);
  }
  for (std::int64_t c = 0; c < C; ++c) {
    double mean, var;
    if (args.training) {
      // Two passes in double: mean, then the mean of squared deviations.
      double sum = 0;
      for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t s = 0; s < S; ++s) sum += args.x[at(n, c, s)];
      mean = m > 0 ? sum / m : NAN;
      double sq = 0;
      for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t s = 0; s < S; ++s) sq += (args.x[at(n, c, s)] - mean) * (args.x[at(n, c, s)] - mean);
      var = m > 0 ? sq / m : NAN;  // biased
      result.save_mean[c] = mean;
      result.save_invstd[c] = 1.0 / std::sqrt(var + args.eps);
      if (!args.running_mean.empty() && m > 0) {
        const double unbiased = args.unbiased_running_var ? var * m / (m - 1) : var;
        args.running_mean[c] = (1 - args.momentum) * args.running_mean[c] + args.momentum * mean;
        args.running_var[c] = (1 - args.momentum) * args.running_var[c] + args.momentum * unbiased;
      }
    } else {
      mean = args.running_mean[c];
      var = args.running_var[c];
    }
    const double invstd = 1.0 / std::sqrt(var + args.eps);
    const double gamma = args.weight.empty() ? 1.0 : args.weight[c];
    const double beta = args.bias.empty() ? 0.0 : args.bias[c];
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t s = 0; s < S; ++s)
        result.y[at(n, c, s)] = (args.x[at(n, c, s)] - mean) * invstd * gamma + beta;
  }
  return result;
}

BatchNormBackwardResult batch_norm_backward(const BatchNormBackwardArgs& args) {
  const auto [N, C, S] = args.problem;
  const double m = static_cast<double>(N * S);
  auto at = [&](std::int64_t n, std::int64_t c, std::int64_t s) { return (n * C + c) * S + s; };
  BatchNormBackwardResult result;
  result.dx.resize(args.x.size());
  result.dweight.resize(C);
  result.dbias.resize(C);
  for (std::int64_t c = 0; c < C; ++c) {
    const double mean = args.training ? args.save_mean[c] : args.running_mean[c];
    const double invstd = args.training ? args.save_invstd[c]
                                        : 1.0 / std::sqrt(args.running_var[c] + args.eps);
    const double gamma = args.weight.empty() ? 1.0 : args.weight[c];
    // xhat = (x - mean) * invstd
    double sum_dy = 0, sum_dy_xhat = 0;
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t s = 0; s < S; ++s) {
        const std::int64_t i = at(n, c, s);
        sum_dy += args.dy[i];
        sum_dy_xhat += args.dy[i] * (args.x[i] - mean) * invstd;
      }
    result.dbias[c] = sum_dy;
    result.dweight[c] = sum_dy_xhat;
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t s = 0; s < S; ++s) {
        const std::int64_t i = at(n, c, s);
        if (args.training) {
          // dx = invstd/m * (m*g - sum(g) - xhat*sum(g*xhat)),  g = dy*gamma
          const double xhat = (args.x[i] - mean) * invstd;
          result.dx[i] = invstd / m * gamma * (m * args.dy[i] - sum_dy - xhat * sum_dy_xhat);
        } else {
          result.dx[i] = args.dy[i] * gamma * invstd;
        }
      }
  }
  return result;
}

}  // namespace normkit::ref
