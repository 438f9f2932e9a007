#include "batch_norm_ref.hpp"

#include <algorithm>
#include <cmath>

namespace normkit::ref {
namespace {

// Training groups: ghost batches of virtual_batch_size samples, or the batch.
std::int64_t group_size(std::int64_t N, std::int64_t virtual_batch_size, bool training) {
  return training && virtual_batch_size > 0 ? virtual_batch_size : N;
}

}  // namespace

BatchNormForwardResult batch_norm_forward(BatchNormForwardArgs& args) {
  // (Not a structured binding: clang 14, the fuzzers' compiler, cannot capture one in a lambda.)
  const std::int64_t N = args.problem.N, C = args.problem.C, S = args.problem.S;
  const std::int64_t k = group_size(N, args.virtual_batch_size, args.training);
  const std::int64_t groups = N > 0 ? N / k : 1;
  const double m = static_cast<double>(k * S);  // values per channel and group
  auto at = [&](std::int64_t n, std::int64_t c, std::int64_t s) { return (n * C + c) * S + s; };
  BatchNormForwardResult result;
  result.y.resize(args.x.size());
  if (args.training) {
    result.save_mean.resize(groups * C);
    result.save_invstd.resize(groups * C);
  }
  if (args.renorm) {
    result.renorm_r.resize(C);
    result.renorm_d.resize(C);
  }
  for (std::int64_t c = 0; c < C; ++c) {
    const double gamma = args.weight.empty() ? 1.0 : args.weight[c];
    const double beta = args.bias.empty() ? 0.0 : args.bias[c];
    if (!args.training) {
      const double invstd = 1.0 / std::sqrt(args.running_var[c] + args.eps);
      for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t s = 0; s < S; ++s)
          result.y[at(n, c, s)] = (args.x[at(n, c, s)] - args.running_mean[c]) * invstd * gamma + beta;
      continue;
    }
    double mean_of_means = 0, mean_of_vars = 0;
    for (std::int64_t g = 0; g < groups; ++g) {
      // Two passes in double over the group's samples: mean, then variance.
      double sum = 0;
      for (std::int64_t n = g * k; n < (g + 1) * k; ++n)
        for (std::int64_t s = 0; s < S; ++s) sum += args.x[at(n, c, s)];
      const double mean = m > 0 ? sum / m : NAN;
      double sq = 0;
      for (std::int64_t n = g * k; n < (g + 1) * k; ++n)
        for (std::int64_t s = 0; s < S; ++s) sq += std::pow(args.x[at(n, c, s)] - mean, 2);
      const double var = m > 0 ? sq / m : NAN;  // biased
      const double invstd = 1.0 / std::sqrt(var + args.eps);
      result.save_mean[g * C + c] = mean;
      result.save_invstd[g * C + c] = invstd;
      mean_of_means += mean / static_cast<double>(groups);
      mean_of_vars += (args.unbiased_running_var ? var * m / (m - 1) : var) / static_cast<double>(groups);
      double r = 1, d = 0;
      if (args.renorm) {
        const double sigma = std::sqrt(args.running_var[c] + args.eps);
        r = std::clamp(std::sqrt(var + args.eps) / sigma, 1 / args.rmax, args.rmax);
        d = std::clamp((mean - args.running_mean[c]) / sigma, -args.dmax, args.dmax);
        result.renorm_r[c] = r;
        result.renorm_d[c] = d;
      }
      for (std::int64_t n = g * k; n < (g + 1) * k; ++n)
        for (std::int64_t s = 0; s < S; ++s)
          result.y[at(n, c, s)] = ((args.x[at(n, c, s)] - mean) * invstd * r + d) * gamma + beta;
    }
    if (!args.running_mean.empty() && m > 0) {
      args.running_mean[c] = (1 - args.momentum) * args.running_mean[c] + args.momentum * mean_of_means;
      args.running_var[c] = (1 - args.momentum) * args.running_var[c] + args.momentum * mean_of_vars;
    }
  }
  return result;
}

BatchNormBackwardResult batch_norm_backward(const BatchNormBackwardArgs& args) {
  // (Not a structured binding: clang 14, the fuzzers' compiler, cannot capture one in a lambda.)
  const std::int64_t N = args.problem.N, C = args.problem.C, S = args.problem.S;
  const std::int64_t k = group_size(N, args.virtual_batch_size, args.training);
  const std::int64_t groups = N > 0 ? N / k : 1;
  const double m = static_cast<double>(k * S);
  auto at = [&](std::int64_t n, std::int64_t c, std::int64_t s) { return (n * C + c) * S + s; };
  BatchNormBackwardResult result;
  result.dx.resize(args.x.size());
  result.dweight.assign(C, 0.0);
  result.dbias.assign(C, 0.0);
  const bool renorm = !args.renorm_r.empty();
  for (std::int64_t c = 0; c < C; ++c) {
    const double r = renorm ? args.renorm_r[c] : 1.0, d = renorm ? args.renorm_d[c] : 0.0;
    const double gamma = (args.weight.empty() ? 1.0 : args.weight[c]) * r;
    for (std::int64_t g = 0; g < (args.training ? groups : 1); ++g) {
      const std::int64_t n0 = args.training ? g * k : 0, n1 = args.training ? (g + 1) * k : N;
      const double mean = args.training ? args.save_mean[g * C + c] : args.running_mean[c];
      const double invstd = args.training ? args.save_invstd[g * C + c]
                                          : 1.0 / std::sqrt(args.running_var[c] + args.eps);
      // xhat = (x - mean) * invstd
      double sum_dy = 0, sum_dy_xhat = 0;
      for (std::int64_t n = n0; n < n1; ++n)
        for (std::int64_t s = 0; s < S; ++s) {
          sum_dy += args.dy[at(n, c, s)];
          sum_dy_xhat += args.dy[at(n, c, s)] * (args.x[at(n, c, s)] - mean) * invstd;
        }
      result.dbias[c] += sum_dy;
      result.dweight[c] += r * sum_dy_xhat + d * sum_dy;
      for (std::int64_t n = n0; n < n1; ++n)
        for (std::int64_t s = 0; s < S; ++s) {
          const std::int64_t i = at(n, c, s);
          if (args.training) {
            // dx = invstd/m * (m*g - sum(g) - xhat*sum(g*xhat)),  g = dy*gamma*r
            const double xhat = (args.x[i] - mean) * invstd;
            result.dx[i] = invstd / m * gamma * (m * args.dy[i] - sum_dy - xhat * sum_dy_xhat);
          } else {
            result.dx[i] = args.dy[i] * gamma * invstd;
          }
        }
    }
  }
  return result;
}

}  // namespace normkit::ref
