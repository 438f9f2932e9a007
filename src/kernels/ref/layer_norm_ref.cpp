#include "layer_norm_ref.hpp"

#include <cmath>

namespace normkit::ref {

LayerNormForwardResult layer_norm_forward(const RowNormProblem& p, const std::vector<double>& x,
                                          const std::vector<double>& weight,
                                          const std::vector<double>& bias, double eps) {
  const auto [rows, cols] = p;
  LayerNormForwardResult r{std::vector<double>(x.size()), std::vector<double>(rows),
                           std::vector<double>(rows)};
  for (std::int64_t i = 0; i < rows; ++i) {
    double sum = 0, sq = 0;
    for (std::int64_t j = 0; j < cols; ++j) sum += x[i * cols + j];
    const double mean = cols > 0 ? sum / cols : NAN;
    for (std::int64_t j = 0; j < cols; ++j) sq += std::pow(x[i * cols + j] - mean, 2);
    const double rstd = 1.0 / std::sqrt((cols > 0 ? sq / cols : NAN) + eps);
    r.mean[i] = mean;
    r.rstd[i] = rstd;
    for (std::int64_t j = 0; j < cols; ++j)
      r.y[i * cols + j] = (x[i * cols + j] - mean) * rstd * (weight.empty() ? 1.0 : weight[j]) +
                          (bias.empty() ? 0.0 : bias[j]);
  }
  return r;
}

LayerNormBackwardResult layer_norm_backward(const RowNormProblem& p, const std::vector<double>& dy,
                                            const std::vector<double>& x,
                                            const std::vector<double>& mean,
                                            const std::vector<double>& rstd,
                                            const std::vector<double>& weight) {
  const auto [rows, cols] = p;
  LayerNormBackwardResult r{std::vector<double>(x.size()), std::vector<double>(cols, 0.0),
                            std::vector<double>(cols, 0.0)};
  for (std::int64_t i = 0; i < rows; ++i) {
    // g = dy * weight, xhat = (x - mean) * rstd
    // dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
    double sum_g = 0, sum_g_xhat = 0;
    for (std::int64_t j = 0; j < cols; ++j) {
      const double g = dy[i * cols + j] * (weight.empty() ? 1.0 : weight[j]);
      const double xhat = (x[i * cols + j] - mean[i]) * rstd[i];
      sum_g += g;
      sum_g_xhat += g * xhat;
      r.dweight[j] += dy[i * cols + j] * xhat;
      r.dbias[j] += dy[i * cols + j];
    }
    for (std::int64_t j = 0; j < cols; ++j) {
      const double g = dy[i * cols + j] * (weight.empty() ? 1.0 : weight[j]);
      const double xhat = (x[i * cols + j] - mean[i]) * rstd[i];
      r.dx[i * cols + j] = rstd[i] * (g - sum_g / cols - xhat * sum_g_xhat / cols);
    }
  }
  return r;
}

RMSNormForwardResult rms_norm_forward(const RowNormProblem& p, const std::vector<double>& x,
                                      const std::vector<double>& weight, double eps) {
  const auto [rows, cols] = p;
  RMSNormForwardResult r{std::vector<double>(x.size()), std::vector<double>(rows)};
  for (std::int64_t i = 0; i < rows; ++i) {
    double sq = 0;
    for (std::int64_t j = 0; j < cols; ++j) sq += x[i * cols + j] * x[i * cols + j];
    r.rstd[i] = 1.0 / std::sqrt((cols > 0 ? sq / cols : NAN) + eps);
    for (std::int64_t j = 0; j < cols; ++j)
      r.y[i * cols + j] = x[i * cols + j] * r.rstd[i] * (weight.empty() ? 1.0 : weight[j]);
  }
  return r;
}

RMSNormBackwardResult rms_norm_backward(const RowNormProblem& p, const std::vector<double>& dy,
                                        const std::vector<double>& x,
                                        const std::vector<double>& rstd,
                                        const std::vector<double>& weight) {
  const auto [rows, cols] = p;
  RMSNormBackwardResult r{std::vector<double>(x.size()), std::vector<double>(cols, 0.0)};
  for (std::int64_t i = 0; i < rows; ++i) {
    // g = dy * weight;  dx = rstd * g - x * rstd^3 * mean(g * x)
    double sum_gx = 0;
    for (std::int64_t j = 0; j < cols; ++j)
      sum_gx += dy[i * cols + j] * (weight.empty() ? 1.0 : weight[j]) * x[i * cols + j];
    for (std::int64_t j = 0; j < cols; ++j) {
      const double g = dy[i * cols + j] * (weight.empty() ? 1.0 : weight[j]);
      r.dx[i * cols + j] = rstd[i] * g - x[i * cols + j] * std::pow(rstd[i], 3) * sum_gx / cols;
      r.dweight[j] += dy[i * cols + j] * x[i * cols + j] * rstd[i];
    }
  }
  return r;
}

}  // namespace normkit::ref
