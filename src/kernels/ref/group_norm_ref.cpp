#include "group_norm_ref.hpp"

#include <cmath>

namespace normkit::ref {

GroupNormForwardResult group_norm_forward(const GroupNormProblem& p, const std::vector<double>& x,
                                          const std::vector<double>& weight,
                                          const std::vector<double>& bias, double eps) {
  const auto [N, C, S, G] = p;
  const std::int64_t Cg = G > 0 ? C / G : 0;  // G = 0: InstanceNorm of 0 channels
  const double m = static_cast<double>(Cg * S);
  GroupNormForwardResult r{std::vector<double>(x.size()), std::vector<double>(N * G),
                           std::vector<double>(N * G)};
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t g = 0; g < G; ++g) {
      // The group's values: channels g*Cg .. g*Cg + Cg - 1 of sample n.
      const std::int64_t begin = (n * C + g * Cg) * S, end = begin + Cg * S;
      double sum = 0, sq = 0;
      for (std::int64_t i = begin; i < end; ++i) sum += x[i];
      const double mean = m > 0 ? sum / m : NAN;
      for (std::int64_t i = begin; i < end; ++i) sq += (x[i] - mean) * (x[i] - mean);
      const double rstd = 1.0 / std::sqrt((m > 0 ? sq / m : NAN) + eps);
      r.mean[n * G + g] = mean;
      r.rstd[n * G + g] = rstd;
      for (std::int64_t i = begin; i < end; ++i) {
        const std::int64_t c = (i / S) % C;
        r.y[i] = (x[i] - mean) * rstd * (weight.empty() ? 1.0 : weight[c]) + (bias.empty() ? 0.0 : bias[c]);
      }
    }
  return r;
}

GroupNormBackwardResult group_norm_backward(const GroupNormProblem& p, const std::vector<double>& dy,
                                            const std::vector<double>& x,
                                            const std::vector<double>& mean,
                                            const std::vector<double>& rstd,
                                            const std::vector<double>& weight) {
  const auto [N, C, S, G] = p;
  const std::int64_t Cg = G > 0 ? C / G : 0;  // G = 0: InstanceNorm of 0 channels
  const double m = static_cast<double>(Cg * S);
  GroupNormBackwardResult r{std::vector<double>(x.size()), std::vector<double>(C, 0.0),
                            std::vector<double>(C, 0.0)};
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t g = 0; g < G; ++g) {
      // g_i = dy_i * weight_c, xhat = (x - mean) * rstd
      // dx = rstd * (g_i - mean(g) - xhat * mean(g * xhat))
      const std::int64_t begin = (n * C + g * Cg) * S, end = begin + Cg * S;
      const double mu = mean[n * G + g], rs = rstd[n * G + g];
      double sum_g = 0, sum_g_xhat = 0;
      for (std::int64_t i = begin; i < end; ++i) {
        const std::int64_t c = (i / S) % C;
        const double gi = dy[i] * (weight.empty() ? 1.0 : weight[c]);
        sum_g += gi;
        sum_g_xhat += gi * (x[i] - mu) * rs;
        r.dweight[c] += dy[i] * (x[i] - mu) * rs;
        r.dbias[c] += dy[i];
      }
      for (std::int64_t i = begin; i < end; ++i) {
        const std::int64_t c = (i / S) % C;
        const double gi = dy[i] * (weight.empty() ? 1.0 : weight[c]);
        r.dx[i] = rs * (gi - sum_g / m - (x[i] - mu) * rs * sum_g_xhat / m);
      }
    }
  return r;
}

GroupNormForwardResult instance_norm_forward(const GroupNormProblem& p, const std::vector<double>& x,
                                             const std::vector<double>& weight,
                                             const std::vector<double>& bias,
                                             std::vector<double>& running_mean,
                                             std::vector<double>& running_var,
                                             bool use_input_stats, double momentum, double eps) {
  const auto [N, C, S, G] = p;
  if (use_input_stats) {
    GroupNormForwardResult r = group_norm_forward({N, C, S, C}, x, weight, bias, eps);
    if (!running_mean.empty() && N > 0 && S > 0) {
      for (std::int64_t c = 0; c < C; ++c) {
        double mean_of_means = 0, mean_of_vars = 0;
        for (std::int64_t n = 0; n < N; ++n) {
          const double var = 1.0 / (r.rstd[n * C + c] * r.rstd[n * C + c]) - eps;
          mean_of_means += r.mean[n * C + c] / N;
          mean_of_vars += var * S / (S - 1) / N;  // unbiased, per instance
        }
        running_mean[c] = (1 - momentum) * running_mean[c] + momentum * mean_of_means;
        running_var[c] = (1 - momentum) * running_var[c] + momentum * mean_of_vars;
      }
    }
    return r;
  }
  GroupNormForwardResult r{std::vector<double>(x.size()), std::vector<double>(N * C),
                           std::vector<double>(N * C)};
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t c = 0; c < C; ++c) {
      const double rstd = 1.0 / std::sqrt(running_var[c] + eps);
      r.mean[n * C + c] = running_mean[c];
      r.rstd[n * C + c] = rstd;
      for (std::int64_t s = 0; s < S; ++s) {
        const std::int64_t i = (n * C + c) * S + s;
        r.y[i] = (x[i] - running_mean[c]) * rstd * (weight.empty() ? 1.0 : weight[c]) +
                 (bias.empty() ? 0.0 : bias[c]);
      }
    }
  return r;
}

}  // namespace normkit::ref
