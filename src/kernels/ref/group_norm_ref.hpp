// Reference GroupNorm and InstanceNorm: double precision, obvious loops.
// Data is logical (N, C, S); groups of C/G consecutive channels.
#pragma once

#include <cstdint>
#include <vector>

namespace normkit::ref {

struct GroupNormProblem {
  std::int64_t N = 0, C = 0, S = 1, G = 1;
};

struct GroupNormForwardResult {
  std::vector<double> y;           // (N, C, S)
  std::vector<double> mean, rstd;  // (N, G)
};
GroupNormForwardResult group_norm_forward(const GroupNormProblem& p, const std::vector<double>& x,
                                          const std::vector<double>& weight,
                                          const std::vector<double>& bias, double eps);

struct GroupNormBackwardResult {
  std::vector<double> dx, dweight, dbias;
};
GroupNormBackwardResult group_norm_backward(const GroupNormProblem& p, const std::vector<double>& dy,
                                            const std::vector<double>& x,
                                            const std::vector<double>& mean,
                                            const std::vector<double>& rstd,
                                            const std::vector<double>& weight);

// InstanceNorm with running statistics: with use_input_stats, GroupNorm with
// G = C and an update of the running statistics; without, the running
// statistics normalize. mean and rstd are (N, C).
GroupNormForwardResult instance_norm_forward(const GroupNormProblem& p, const std::vector<double>& x,
                                             const std::vector<double>& weight,
                                             const std::vector<double>& bias,
                                             std::vector<double>& running_mean,
                                             std::vector<double>& running_var,
                                             bool use_input_stats, double momentum, double eps);

}  // namespace normkit::ref
