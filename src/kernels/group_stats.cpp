#include "group_stats.hpp"

#include <cmath>
#include <limits>

#include "moments.hpp"

namespace normkit::kernels {
namespace {

// Chan merge of the channels [lo, hi) of one sample, in a fixed pairwise tree.
Moments merge_channels(const Moments* per_channel, std::int64_t lo, std::int64_t hi) {
  if (hi - lo == 1) return per_channel[lo];
  const std::int64_t mid = lo + (hi - lo) / 2;
  return Moments::merge(merge_channels(per_channel, lo, mid), merge_channels(per_channel, mid, hi));
}

}  // namespace

NormPlan per_channel_plan(const GroupShape& s, Layout layout) {
  if (layout == Layout::channels_last) return {s.N, s.S, s.C, 1, s.S};
  return {s.N, 1, s.C, s.S, 1};
}

void group_statistics(const PlannedInput& x, const GroupShape& s, double eps,
                      std::vector<double>& mean, std::vector<double>& rstd,
                      std::vector<double>* biased_var) {
  std::vector<Moments> per_channel(s.N * s.C);
  moments({x.data(), per_channel_plan(s, x.layout()), per_channel.data()});
  mean.assign(s.N * s.G, 0.0);
  rstd.assign(s.N * s.G, 0.0);
  if (biased_var != nullptr) biased_var->assign(s.N * s.G, 0.0);
  const std::int64_t Cg = s.group_channels();
  for (std::int64_t n = 0; n < s.N; ++n)
    for (std::int64_t g = 0; g < s.G; ++g) {
      const std::int64_t i = n * s.G + g;
      const Moments merged = merge_channels(per_channel.data() + n * s.C, g * Cg, (g + 1) * Cg);
      const bool empty = merged.count == 0;
      const double var = empty ? std::numeric_limits<double>::quiet_NaN() : merged.biased_var();
      mean[i] = empty ? std::numeric_limits<double>::quiet_NaN() : merged.mean;
      rstd[i] = 1.0 / std::sqrt(var + eps);
      if (biased_var != nullptr) (*biased_var)[i] = var;
    }
}

}  // namespace normkit::kernels
