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
  // G is 0 only for InstanceNorm of 0 channels (one group per channel): then
  // there are no groups, and nothing in them (the functional fuzzer's find).
  std::int64_t group_channels() const { return G > 0 ? C / G : 0; }
  double group_count() const { return static_cast<double>(group_channels() * S); }  // values per group
};

NormPlan per_channel_plan(const GroupShape& shape, Layout layout);

// The data's element type T: float, or Bf16 or F16 read in place
// (vectors.hpp: widened as loaded, so the statistics are the float32 ones of
// the widened data), instantiated for each.
struct Bf16;
struct F16;

// mean and rstd = 1 / sqrt(biased variance + eps), (N, G) each, NaN for empty
// groups; biased_var too when asked for. x in `layout`.
template <typename T>
void group_statistics(const T* x, Layout layout, const GroupShape& shape, double eps,
                      std::vector<double>& mean, std::vector<double>& rstd,
                      std::vector<double>* biased_var = nullptr);

// One pass over memory for contiguous input: each (n, group)'s statistics,
// then the normalization of its planes while they are still in cache. Same
// arithmetic, and so the same bits, as group_statistics followed by
// normalize_apply with scale = float(rstd * gamma[c]) and shift = beta[c].
// Used when the input is contiguous, non-empty and a group fits in L2.
bool fuses_groups(const GroupShape& shape, Layout layout);
template <typename T>
struct FusedGroupArgs {
  const T* x = nullptr;  // (N, C, S) contiguous
  T* y = nullptr;        // (N, C, S) contiguous
  GroupShape shape;
  double eps = 1e-5;
  const float* gamma = nullptr;  // (C)
  const float* beta = nullptr;   // (C)
  double* mean = nullptr;        // (N, G) out
  double* rstd = nullptr;        // (N, G) out
  double* biased_var = nullptr;  // (N, G) out, or null
};
template <typename T>
void fused_group_norm(const FusedGroupArgs<T>& args);

}  // namespace normkit::kernels
