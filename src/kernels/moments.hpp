// Forward statistics: per (a, c) count, mean and M2 (sum of squared
// deviations) over (b, d), through the blocked reduction engine.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "lanes.hpp"
#include "norm_plan.hpp"
#include "core/simd_dispatch.hpp"

namespace normkit::kernels {

// Partial statistics of a set of elements, merged with Chan et al.'s formula.
struct Moments {
  double count = 0, mean = 0, m2 = 0;

  static Moments merge(const Moments& p, const Moments& q) {
    if (p.count == 0) return q;
    if (q.count == 0) return p;
    const double n = p.count + q.count;
    const double q_share = q.count / n;  // one division per merge
    const double delta = q.mean - p.mean;
    return {n, p.mean + delta * q_share, p.m2 + q.m2 + delta * delta * (p.count * q_share)};
  }
  double biased_var() const { return m2 / count; }

  // out[j] = merge(p[j], q[j]) for a span of channels that cover the same
  // samples, so that all p[j] share one count and all q[j] another: the
  // shares are computed once, and the loop has no branch and no division.
  // Same expressions as merge(): the same bits.
  static void merge_span(const Moments* p, const Moments* q, Moments* out, std::int64_t n) {
    const double pc = n > 0 ? p[0].count : 0, qc = n > 0 ? q[0].count : 0;
    if (pc == 0 || qc == 0) {
      for (std::int64_t j = 0; j < n; ++j) out[j] = merge(p[j], q[j]);
      return;
    }
    const double total = pc + qc, q_share = qc / total, weight = pc * q_share;
    for (std::int64_t j = 0; j < n; ++j) {
      const double delta = q[j].mean - p[j].mean;
      out[j] = {total, p[j].mean + delta * q_share, p[j].m2 + q[j].m2 + delta * delta * weight};
    }
  }
};

// 1 / sqrt(var + eps) in double: every fast kernel's invstd (rstd), rounded
// to float by its caller where it stores one.
[[gnu::always_inline]] inline double inverse_std_of(double var, double eps) { return 1.0 / std::sqrt(var + eps); }

// Statistics per (a, c): out (A, C). x: (A, B, C, D) contiguous; float, or
// 16-bit (vectors.hpp's Bf16, F16: widened as loaded, the bits of x
// widened).
struct Bf16;
struct F16;
template <typename T>
struct MomentsArgsOf {
  const T* x = nullptr;
  NormPlan plan;
  Moments* out = nullptr;
};
using MomentsArgs = MomentsArgsOf<float>;
void moments(const MomentsArgs& args);
void moments(const MomentsArgsOf<Bf16>& args);
void moments(const MomentsArgsOf<F16>& args);

struct SampleTree;
// A rank's share of the statistics of a batch split along its samples
// (slice_reduce.hpp): the partial of each whole node of `tree` in `nodes`,
// from the rank's own data x of plan `local`, whose sample 0 is the batch's
// sample `first`. out (A, nodes.size(), C).
void moments_of_whole_nodes(const float* x, const NormPlan& local, const SampleTree& tree, std::int64_t first,
                            const std::vector<std::pair<std::int64_t, std::int64_t>>& nodes, Moments* out);

// The same statistics, (a, c) slice by slice (D > 1, slice_fusion_fits):
// finish(i, n, stats) for the slices [i, i + n) (i = a * C + c) runs in the
// thread that reduced them, right after, and pass(a * C + c, s0, s1) over
// each one's samples [s0, s1) soon after (between the reductions of the
// thread's next slices), so that a pass over a slice finds it in cache
// (reduce_each_slice).
// (x float, Bf16 or F16.)
template <typename T>
void moments_each_slice(const T* x, const NormPlan& plan,
                        const SlicesFinish<Moments>& finish, const SlicePass& pass);

// Mean of squares per (a, c), for RMSNorm: out (A, C). x: (A, B, C, D).
struct MeanSquaresArgs {
  const float* x = nullptr;
  NormPlan plan;
  double* out = nullptr;
};
void mean_squares(const MeanSquaresArgs& args);

// The engine's block kernels, each with one variant per instruction set
// (core/simd_dispatch.hpp; all give the same bits) and a dispatching entry
// point, each a template over the element type T: float, Bf16 or F16 (the
// 16-bit floats as stored, vectors.hpp: widened as they are loaded, so that
// the result has the bits of the data widened), instantiated for each:
// - statistics of one contiguous run of n > 0 elements (prefetch: how many
//   elements after the run's start to ask for, that is the data the caller
//   reads next, during the second pass; 0: none);
// - statistics of 16 contiguous channels over `rows` <= kRowChunk rows of
//   stride C (prefetch: how far ahead to ask for the next block, 0: none);
// - the sum of squares of one contiguous run (float lanes, double total).
// `sets`: the lane sets of the run, lane_sets(rule, n) (lanes.hpp).
template <typename T>
Moments run_moments(const T* x, std::int64_t n, std::int64_t prefetch, int sets);
// run_moments and run_square_sum of kInterleavedRows runs of n > 0
// elements, `stride` apart, at once: out[r] is what the single-run kernel
// gives run r, bit for bit (interleaved only to hide the adds' latency);
// prefetch as run_moments', from each run.
inline constexpr int kInterleavedRows = 4;
template <typename T>
void rows4_moments(const T* x, std::int64_t stride, std::int64_t n, std::int64_t prefetch, Moments* out, int sets);
template <typename T>
void rows4_square_sums(const T* x, std::int64_t stride, std::int64_t n, std::int64_t prefetch, double* out,
                       int sets);
// run_moments of kShortRuns runs of n < 16 elements (every element in the
// tail), `stride` apart, at once: out[r] is what run_moments gives run r,
// bit for bit, the runs computed in the lanes (BatchNorm NCHW on maps of a
// few elements).
inline constexpr int kShortRuns = 16;
template <typename T>
void short_runs_moments(const T* x, std::int64_t stride, std::int64_t n, Moments* out);
template <typename T>
void rows16_moments(const T* x0, std::int64_t C, std::int64_t rows, std::int64_t prefetch, Moments* out);
// The same for 64 channels: four groups of 16, each with rows16's bits.
template <typename T>
void rows64_moments(const T* x0, std::int64_t C, std::int64_t rows, std::int64_t prefetch, Moments* out);
// And for 256: sixteen groups of 16, each with rows16's bits.
template <typename T>
void rows256_moments(const T* x0, std::int64_t C, std::int64_t rows, std::int64_t prefetch, Moments* out);
template <typename T>
double run_square_sum(const T* x, std::int64_t n, int sets);

// The statistics of a run of any length n as the engine computes them for a
// plan with D = n: its chunks of kRunChunk merged in order, each in the lane
// sets `rule` gives its length (one_set: the engine's bits). chunked_moments4:
// kInterleavedRows such runs, one after another (n apart), at once, each
// with the bits it gets alone, asking for the element `prefetch` after each
// (0: none) in their second pass. (A LayerNorm row, a GroupNorm plane.)
template <typename T>
Moments chunked_moments(const T* x, std::int64_t n, LaneRule rule);
template <typename T>
void chunked_moments4(const T* x0, std::int64_t n, std::int64_t prefetch, Moments* out, LaneRule rule);

// The variants, for the tests that hold them against each other.
template <typename T>
Moments run_moments_portable(const T* x, std::int64_t n, std::int64_t prefetch, int sets);
template <typename T>
double run_square_sum_portable(const T* x, std::int64_t n, int sets);
template <typename T>
void rows4_moments_portable(const T* x, std::int64_t stride, std::int64_t n, std::int64_t prefetch, Moments* out,
                            int sets);
template <typename T>
void rows4_square_sums_portable(const T* x, std::int64_t stride, std::int64_t n, std::int64_t prefetch,
                                double* out, int sets);
template <typename T>
void short_runs_moments_portable(const T* x, std::int64_t stride, std::int64_t n, Moments* out);
template <typename T>
void rows16_moments_portable(const T* x0, std::int64_t C, std::int64_t rows, std::int64_t prefetch, Moments* out);
template <typename T>
void rows64_moments_portable(const T* x0, std::int64_t C, std::int64_t rows, std::int64_t prefetch, Moments* out);
template <typename T>
void rows256_moments_portable(const T* x0, std::int64_t C, std::int64_t rows, std::int64_t prefetch, Moments* out);
#if NORMKIT_X86_DISPATCH
// (The attribute is part of the declaration: GCC treats functions that
// differ only in target attributes as versions of one function.)
template <typename T>
NORMKIT_TARGET_AVX2 Moments run_moments_avx2(const T* x, std::int64_t n, std::int64_t prefetch, int sets);
template <typename T>
NORMKIT_TARGET_AVX2 double run_square_sum_avx2(const T* x, std::int64_t n, int sets);
template <typename T>
NORMKIT_TARGET_AVX2 void rows4_moments_avx2(const T* x, std::int64_t stride, std::int64_t n, std::int64_t prefetch,
                                            Moments* out, int sets);
template <typename T>
NORMKIT_TARGET_AVX2 void rows4_square_sums_avx2(const T* x, std::int64_t stride, std::int64_t n, std::int64_t prefetch,
                                                double* out, int sets);
template <typename T>
NORMKIT_TARGET_AVX2 void short_runs_moments_avx2(const T* x, std::int64_t stride, std::int64_t n, Moments* out);
template <typename T>
NORMKIT_TARGET_AVX2 void rows16_moments_avx2(const T* x0, std::int64_t C, std::int64_t rows, std::int64_t prefetch,
                                             Moments* out);
template <typename T>
NORMKIT_TARGET_AVX2 void rows64_moments_avx2(const T* x0, std::int64_t C, std::int64_t rows, std::int64_t prefetch,
                                             Moments* out);
template <typename T>
NORMKIT_TARGET_AVX2 void rows256_moments_avx2(const T* x0, std::int64_t C, std::int64_t rows,
                                              std::int64_t prefetch, Moments* out);
template <typename T>
NORMKIT_TARGET_AVX512 Moments run_moments_avx512(const T* x, std::int64_t n, std::int64_t prefetch, int sets);
template <typename T>
NORMKIT_TARGET_AVX512 double run_square_sum_avx512(const T* x, std::int64_t n, int sets);
template <typename T>
NORMKIT_TARGET_AVX512 void rows4_moments_avx512(const T* x, std::int64_t stride, std::int64_t n,
                                                std::int64_t prefetch, Moments* out, int sets);
template <typename T>
NORMKIT_TARGET_AVX512 void rows4_square_sums_avx512(const T* x, std::int64_t stride, std::int64_t n,
                                                    std::int64_t prefetch, double* out, int sets);
template <typename T>
NORMKIT_TARGET_AVX512 void short_runs_moments_avx512(const T* x, std::int64_t stride, std::int64_t n,
                                                     Moments* out);
template <typename T>
NORMKIT_TARGET_AVX512 void rows16_moments_avx512(const T* x0, std::int64_t C, std::int64_t rows,
                                                 std::int64_t prefetch, Moments* out);
template <typename T>
NORMKIT_TARGET_AVX512 void rows64_moments_avx512(const T* x0, std::int64_t C, std::int64_t rows,
                                                 std::int64_t prefetch, Moments* out);
template <typename T>
NORMKIT_TARGET_AVX512 void rows256_moments_avx512(const T* x0, std::int64_t C, std::int64_t rows,
                                                  std::int64_t prefetch, Moments* out);
#endif

}  // namespace normkit::kernels
