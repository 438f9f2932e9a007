#include "dyt_ref.hpp"

#include <cmath>

namespace normkit::ref {

std::vector<double> dyt_forward(std::int64_t rows, std::int64_t cols, const std::vector<double>& x, double alpha,
                                const std::vector<double>& weight, const std::vector<double>& bias) {
  std::vector<double> y(x.size());
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      const auto i = static_cast<std::size_t>(r * cols + c), k = static_cast<std::size_t>(c);
      const double w = weight.empty() ? 1.0 : weight[k], b = bias.empty() ? 0.0 : bias[k];
      y[i] = w * std::tanh(alpha * x[i]) + b;
    }
  return y;
}

DyTBackwardResult dyt_backward(std::int64_t rows, std::int64_t cols, const std::vector<double>& dy,
                               const std::vector<double>& x, double alpha, const std::vector<double>& weight) {
  DyTBackwardResult g;
  g.dx.resize(x.size());
  g.dweight.assign(static_cast<std::size_t>(cols), 0.0);
  g.dbias.assign(static_cast<std::size_t>(cols), 0.0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      const auto i = static_cast<std::size_t>(r * cols + c), k = static_cast<std::size_t>(c);
      const double w = weight.empty() ? 1.0 : weight[k];
      const double t = std::tanh(alpha * x[i]), slope = 1.0 - t * t;
      g.dx[i] = dy[i] * w * alpha * slope;
      g.dalpha += dy[i] * w * x[i] * slope;
      g.dweight[k] += dy[i] * t;
      g.dbias[k] += dy[i];
    }
  return g;
}

}  // namespace normkit::ref
