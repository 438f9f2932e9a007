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

// Fixed pairwise tree over items[lo, hi), hi > lo. Its shape depends only on
// the number of items.
template <typename Partial, typename Get>
Partial merge_tree(std::int64_t lo, std::int64_t hi, const Get& get) {
  if (hi - lo == 1) return get(lo);
  const std::int64_t mid = lo + (hi - lo) / 2;
  return Partial::merge(merge_tree<Partial>(lo, mid, get), merge_tree<Partial>(mid, hi, get));
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
      for (std::int64_t r = 0; r < R; ++r) {
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
        const std::int64_t s = item % S, a = item / S;
        Partial* acc = per_sample + item * C;
        std::fill(acc, acc + C, Partial{});
        for (std::int64_t r0 = 0; r0 < R; r0 += chunk_rows) {
          ops.rows(a, (a * B + s * R + r0) * C, std::min(chunk_rows, R - r0), chunk.data());
          for (std::int64_t c = 0; c < C; ++c) acc[c] = Partial::merge(acc[c], chunk[c]);
        }
      }
    }
  }
}

// Stage 2: out[a*C + c] = merge over samples of per_sample, in the fixed tree.
template <typename Partial>
void merge_samples(const NormPlan& plan, const Partial* per_sample, Partial* out) {
  const std::int64_t S = plan.samples(), C = plan.C;
#pragma omp parallel for schedule(static)
  for (std::int64_t ac = 0; ac < plan.A * C; ++ac) {
    const std::int64_t a = ac / C, c = ac % C;
    out[ac] = S == 0 ? Partial{}
                     : merge_tree<Partial>(0, S, [&](std::int64_t s) {
                         return per_sample[(a * S + s) * C + c];
                       });
  }
}

template <typename Partial, typename Ops>
void blocked_reduce(const NormPlan& plan, const Ops& ops, Partial* out) {
  std::vector<Partial> per_sample(static_cast<std::size_t>(plan.A * plan.samples() * plan.C));
  reduce_per_sample(plan, ops, per_sample.data());
  merge_samples(plan, per_sample.data(), out);
}

}  // namespace normkit::kernels
