// Per-(n, group) statistics of (N, C, *spatial) data, shared by GroupNorm,
// InstanceNorm (one channel per group) and AdaIN. The reduction engine gives
// per-(n, c) moments on the plan (N, 1, C, S) (contiguous) or (N, S, C, 1)
// (channels-last); the channels of a group are merged in a fixed pairwise
// tree with Chan's formula.
#pragma once

#include <vector>

#include "norm_plan.hpp"
#include "planned_view.hpp"

namespace normkit::kernels {

struct GroupShape {
  std::int64_t N = 0, C = 0, S = 1, G = 1;
  std::int64_t group_channels() const { return C / G; }
  double group_count() const { return static_cast<double>(C / G * S); }  // values per group
};

NormPlan per_channel_plan(const GroupShape& shape, Layout layout);

// mean and rstd = 1 / sqrt(biased variance + eps), (N, G) each, NaN for empty
// groups; biased_var too when asked for.
void group_statistics(const PlannedInput& x, const GroupShape& shape, double eps,
                      std::vector<double>& mean, std::vector<double>& rstd,
                      std::vector<double>* biased_var = nullptr);

}  // namespace normkit::kernels
