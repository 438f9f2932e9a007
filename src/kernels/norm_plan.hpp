// Every normalization in the family is "statistics per (a, c) over (b, d)" of a
// contiguous 4-index view (A, B, C, D):
//
//   x[a][b][c][d] lives at element ((a*B + b)*C + c)*D + d.
//
//   BN NCHW   (1, N, C, HW)        BN NHWC  (1, N*HW, C, 1)
//   LN        (rows, 1, 1, D)      IN NCHW  (N*C, 1, 1, HW)
//   GN NCHW   (N*G, 1, 1, C/G*HW)  GN NHWC  (N, HW, G, C/G)
//
// b is further split into samples, b = s*rows_per_sample + r, so that every
// reduction can be partitioned by global sample index: per-sample partials are
// what SyncBN exchanges, and their fixed merge tree is what makes a result
// independent of thread count and rank count (docs/numerics.md). The last
// sample may be shorter when rows_per_sample does not divide B (a plan that
// uses samples only as fixed blocks of rows, such as LayerNorm's column sums).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>

namespace normkit::kernels {

struct NormPlan {
  std::int64_t A = 1, B = 1, C = 1, D = 1;
  std::int64_t rows_per_sample = 1;

  std::int64_t samples() const {
    return rows_per_sample > 0 ? (B + rows_per_sample - 1) / rows_per_sample : 0;
  }
  // Rows of sample s: rows_per_sample, or fewer for the last one.
  std::int64_t rows_of_sample(std::int64_t s) const {
    return std::min(rows_per_sample, B - s * rows_per_sample);
  }
  std::int64_t reduced_count() const { return B * D; }  // elements per (a, c)
  std::int64_t numel() const { return A * B * C * D; }
};

// Whether a reduction fused with the pass that follows it, one (a, c)
// slice at a time (reduce_each_slice), pays: channels with their own runs (D > 1) whose
// slices, over `tensors` inputs, fit the cache budget, and enough of them to
// share among threads.
inline bool slice_fusion_fits(const NormPlan& plan, int tensors) {
  constexpr std::int64_t kSliceBytes = std::int64_t{2} << 20;
  return plan.D > 1 && plan.A * plan.C >= 8 &&
         tensors * plan.B * plan.D * static_cast<std::int64_t>(sizeof(float)) <= kSliceBytes;
}

// The pass of a fused reduction over samples [s0, s1) of slice a * C + c:
// pass(a * C + c, s0, s1).
using SlicePass = std::function<void(std::int64_t, std::int64_t, std::int64_t)>;

// What a fused reduction hands on once the consecutive slices [first,
// first + n) are reduced: finish(first, n, partials), their n partials.
template <typename Partial>
using SlicesFinish = std::function<void(std::int64_t, std::int64_t, const Partial*)>;

}  // namespace normkit::kernels
