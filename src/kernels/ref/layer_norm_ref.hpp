// Reference LayerNorm and RMSNorm over a (rows, cols) matrix: double
// precision, obvious loops. weight and bias are (cols) or empty.
#pragma once

#include <cstdint>
#include <vector>

namespace normkit::ref {

struct RowNormProblem {
  std::int64_t rows = 0, cols = 0;
};

struct LayerNormForwardResult {
  std::vector<double> y, mean, rstd;  // (rows, cols), (rows), (rows)
};
LayerNormForwardResult layer_norm_forward(const RowNormProblem& p, const std::vector<double>& x,
                                          const std::vector<double>& weight,
                                          const std::vector<double>& bias, double eps);

struct LayerNormBackwardResult {
  std::vector<double> dx, dweight, dbias;
};
LayerNormBackwardResult layer_norm_backward(const RowNormProblem& p, const std::vector<double>& dy,
                                            const std::vector<double>& x,
                                            const std::vector<double>& mean,
                                            const std::vector<double>& rstd,
                                            const std::vector<double>& weight);

struct RMSNormForwardResult {
  std::vector<double> y, rstd;
};
RMSNormForwardResult rms_norm_forward(const RowNormProblem& p, const std::vector<double>& x,
                                      const std::vector<double>& weight, double eps);

struct RMSNormBackwardResult {
  std::vector<double> dx, dweight;
};
RMSNormBackwardResult rms_norm_backward(const RowNormProblem& p, const std::vector<double>& dy,
                                        const std::vector<double>& x,
                                        const std::vector<double>& rstd,
                                        const std::vector<double>& weight);

}  // namespace normkit::ref
