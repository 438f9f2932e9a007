// Reference DyT over a (rows, cols) matrix: double precision, std::tanh,
// obvious loops. weight and bias are (cols) or empty (1 and 0).
#pragma once

#include <cstdint>
#include <vector>

namespace normkit::ref {

std::vector<double> dyt_forward(std::int64_t rows, std::int64_t cols, const std::vector<double>& x, double alpha,
                                const std::vector<double>& weight, const std::vector<double>& bias);

struct DyTBackwardResult {
  std::vector<double> dx;       // (rows, cols)
  double dalpha = 0;
  std::vector<double> dweight;  // (cols): sum over rows of dy * tanh(alpha * x)
  std::vector<double> dbias;    // (cols)
};
DyTBackwardResult dyt_backward(std::int64_t rows, std::int64_t cols, const std::vector<double>& dy,
                               const std::vector<double>& x, double alpha, const std::vector<double>& weight);

}  // namespace normkit::ref
