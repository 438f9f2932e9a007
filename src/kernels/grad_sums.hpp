// Backward reductions: per (a, c), sum(g) and sum(g * (x - center)) with
// g = dy * d_weight[d] (d_weight: LayerNorm's gamma; absent: g = dy), fused
// in one pass over dy and x, through the blocked reduction engine.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "norm_plan.hpp"

namespace normkit::kernels {

struct GradSums {
  double sum_dy = 0, sum_dy_xc = 0;

  static GradSums merge(const GradSums& p, const GradSums& q) {
    return {p.sum_dy + q.sum_dy, p.sum_dy_xc + q.sum_dy_xc};
  }
  static void merge_span(const GradSums* p, const GradSums* q, GradSums* out, std::int64_t n) {
    for (std::int64_t j = 0; j < n; ++j) out[j] = merge(p[j], q[j]);
  }
};

// center = center_hi + center_lo (a float pair, so that x - center stays
// accurate when the mean is large); all per (a, c). out: (A, C).
// dy and x float, or both 16-bit (vectors.hpp's Bf16, F16: widened as
// loaded, the bits of the data widened).
struct Bf16;
struct F16;
template <typename T>
struct GradSumsArgsOf {
  const T* dy = nullptr;  // (A, B, C, D)
  const T* x = nullptr;   // (A, B, C, D)
  const float* center_hi = nullptr;
  const float* center_lo = nullptr;
  const float* d_weight = nullptr;  // (D) or null
  NormPlan plan;
  GradSums* out = nullptr;
};
using GradSumsArgs = GradSumsArgsOf<float>;
template <typename T>
void grad_sums(const GradSumsArgsOf<T>& args);

struct SampleTree;
// A rank's share of the sums of a batch split along its samples
// (slice_reduce.hpp; args.out unused): the sums of each whole node of `tree`
// in `nodes`, from the rank's own dy and x of plan local.plan, whose sample 0
// is the batch's sample `first`. out (A, nodes.size(), C).
void grad_sums_of_whole_nodes(const GradSumsArgs& local, const SampleTree& tree, std::int64_t first,
                              const std::vector<std::pair<std::int64_t, std::int64_t>>& nodes, GradSums* out);

// The same sums, (a, c) slice by slice (D > 1, slice_fusion_fits; args.out
// unused): finish(i, n, sums) for the slices [i, i + n) runs in the thread
// that reduced them, right after, and pass(a * C + c, s0, s1) soon after, as
// in moments_each_slice.
template <typename T>
void grad_sums_each_slice(const GradSumsArgsOf<T>& args,
                          const SlicesFinish<GradSums>& finish, const SlicePass& pass);

// The engine's block kernel: one contiguous run of n elements, g = dy * w
// (w null: g = dy), sums of g and g * ((x - hi) - lo).
GradSums run_grad_sums(const float* dy, const float* x, const float* w, float hi, float lo,
                       std::int64_t n);
// The same over 16-bit dy and x (vectors.hpp), widened as loaded.
GradSums run_grad_sums(const Bf16* dy, const Bf16* x, const float* w, float hi, float lo, std::int64_t n);
GradSums run_grad_sums(const F16* dy, const F16* x, const float* w, float hi, float lo, std::int64_t n);
// The same for kGradSumsRuns runs of n, `stride` apart, of one centre and
// weight (a channel's runs of consecutive samples), each with run_grad_sums'
// bits: out[kGradSumsRuns].
inline constexpr int kGradSumsRuns = 4;
void runs_grad_sums(const float* dy, const float* x, std::int64_t stride, const float* w, float hi, float lo,
                    std::int64_t n, GradSums* out);
void runs_grad_sums(const Bf16* dy, const Bf16* x, std::int64_t stride, const float* w, float hi, float lo,
                    std::int64_t n, GradSums* out);
void runs_grad_sums(const F16* dy, const F16* x, std::int64_t stride, const float* w, float hi, float lo,
                    std::int64_t n, GradSums* out);

}  // namespace normkit::kernels
