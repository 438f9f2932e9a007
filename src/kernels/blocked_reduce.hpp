// The one reduction engine of the family. It walks a NormPlan in blocks whose
// boundaries depend only on the shape (never on the thread count), produces
// one partial per (a, sample, c), and merges the samples of each (a, c) in a
// fixed pairwise tree over the sample index. Two reductions use it: moments
// (forward statistics) and gradient sums (backward).
//
// An Ops type supplies the arithmetic:
//   Partial run(a, c, offset, n)      partial of n contiguous elements (D > 1)
//   void rows(a, offset, rows, out)   per-channel partials of `rows` rows of C
//                                     contiguous channels (D == 1), out: (C)
//   static Partial merge(p, q)        associative merge; Partial{} is empty
//   static void merge_span(p, q, out, n)  out[j] = merge(p[j], q[j]) for the
//                                     channels of one tree node (same samples)
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "norm_plan.hpp"

namespace normkit::kernels {

// Block sizes. Part of the numerical contract: changing them changes bits.
inline constexpr std::int64_t kRunChunk = 4096;  // elements of one contiguous run
inline constexpr std::int64_t kRowChunkElems = 4096;
inline constexpr std::int64_t kMaxRowsPerChunk = 256;

inline std::int64_t rows_per_chunk(std::int64_t channels) {
  return std::clamp<std::int64_t>(kRowChunkElems / std::max<std::int64_t>(channels, 1), 1,
                                  kMaxRowsPerChunk);
}

// Stage 1: per_sample[(a*S + s)*C + c] = partial of sample s for (a, c).
template <typename Partial, typename Ops>
void reduce_per_sample(const NormPlan& plan, const Ops& ops, Partial* per_sample) {
  const std::int64_t S = plan.samples(), R = plan.rows_per_sample;
  const std::int64_t A = plan.A, B = plan.B, C = plan.C, D = plan.D;
  if (plan.numel() == 0) {  // e.g. D == 0: every partial is empty, no element is read
    std::fill(per_sample, per_sample + A * S * C, Partial{});
    return;
  }
  if (D > 1) {
    // One work item per (a, s, c): R runs of D contiguous elements.
#pragma omp parallel for schedule(static)
    for (std::int64_t item = 0; item < A * S * C; ++item) {
      const std::int64_t c = item % C, s = (item / C) % S, a = item / (C * S);
      Partial acc{};
      for (std::int64_t r = 0; r < plan.rows_of_sample(s); ++r) {
        const std::int64_t base = ((a * B + s * R + r) * C + c) * D;
        for (std::int64_t d0 = 0; d0 < D; d0 += kRunChunk)
          acc = Partial::merge(acc, ops.run(a, c, base + d0, std::min(kRunChunk, D - d0)));
      }
      per_sample[item] = acc;
    }
  } else {
    // One work item per (a, s): R rows of C contiguous channels, in chunks.
    const std::int64_t chunk_rows = rows_per_chunk(C);
#pragma omp parallel
    {
      std::vector<Partial> chunk(static_cast<std::size_t>(C));
#pragma omp for schedule(static)
      for (std::int64_t item = 0; item < A * S; ++item) {
        const std::int64_t s = item % S, a = item / S, rows = plan.rows_of_sample(s);
        Partial* acc = per_sample + item * C;
        // The first chunk is written in place; later ones are merged into it.
        ops.rows(a, (a * B + s * R) * C, std::min(chunk_rows, rows), acc);
        for (std::int64_t r0 = chunk_rows; r0 < rows; r0 += chunk_rows) {
          ops.rows(a, (a * B + s * R + r0) * C, std::min(chunk_rows, rows - r0), chunk.data());
          for (std::int64_t c = 0; c < C; ++c) acc[c] = Partial::merge(acc[c], chunk[c]);
        }
      }
    }
  }
}

// Fixed pairwise tree over the samples [lo, hi) of one a, for the channels
// [c0, c0 + n): returns n partials, the merge of per_sample[(a*S + s)*C + c0 + j].
// The tree splits at lo + (hi - lo) / 2, so its shape depends only on the
// number of samples. Whole channel vectors are merged at each node, so the
// inner loop runs over contiguous channels; a leaf is read in place. A node
// writes at scratch, its left child at scratch + n and its right child at
// scratch + 2n, so scratch needs (2 * depth + 1) * n partials.
template <typename Partial>
const Partial* merge_sample_tree(const Partial* per_sample, std::int64_t S, std::int64_t C,
                                 std::int64_t a, std::int64_t c0, std::int64_t n,
                                 std::int64_t lo, std::int64_t hi, Partial* scratch) {
  if (hi - lo == 1) return per_sample + (a * S + lo) * C + c0;
  const std::int64_t mid = lo + (hi - lo) / 2;
  Partial* out = scratch;
  const Partial* left = merge_sample_tree(per_sample, S, C, a, c0, n, lo, mid, scratch + n);
  const Partial* right = merge_sample_tree(per_sample, S, C, a, c0, n, mid, hi, scratch + 2 * n);
  Partial::merge_span(left, right, out, n);
  return out;
}

// Stage 2: out[a*C + c] = merge over samples of per_sample, in the fixed tree.
template <typename Partial>
void merge_samples(const NormPlan& plan, const Partial* per_sample, Partial* out) {
  const std::int64_t S = plan.samples(), C = plan.C, A = plan.A;
  if (S == 0) {
    std::fill(out, out + A * C, Partial{});
    return;
  }
  constexpr std::int64_t kChannelBlock = 256;  // work split only: bits do not depend on it
  const std::int64_t blocks = (C + kChannelBlock - 1) / kChannelBlock;
  std::int64_t depth = 1;
  while ((std::int64_t{1} << (depth - 1)) < S) ++depth;
#pragma omp parallel
  {
    thread_local std::vector<Partial> scratch;
    scratch.resize(static_cast<std::size_t>(kChannelBlock * (2 * depth + 1)));
#pragma omp for schedule(static)
    for (std::int64_t item = 0; item < A * blocks; ++item) {
      const std::int64_t a = item / blocks, c0 = (item % blocks) * kChannelBlock;
      const std::int64_t n = std::min(kChannelBlock, C - c0);
      const Partial* merged = merge_sample_tree(per_sample, S, C, a, c0, n, 0, S, scratch.data());
      std::copy(merged, merged + n, out + a * C + c0);
    }
  }
}

template <typename Partial, typename Ops>
void blocked_reduce(const NormPlan& plan, const Ops& ops, Partial* out) {
  // Reused across calls: no page faults for a fresh buffer on every call.
  thread_local std::vector<Partial> per_sample;
  per_sample.resize(static_cast<std::size_t>(plan.A * plan.samples() * plan.C));
  reduce_per_sample(plan, ops, per_sample.data());
  merge_samples(plan, per_sample.data(), out);
}

}  // namespace normkit::kernels
