// The one reduction engine of the family. It walks a NormPlan in blocks whose
// boundaries depend only on the shape (never on the thread count), produces
// one partial per (a, leaf, c), and merges the leaves of each (a, c) in a
// fixed pairwise tree over the sample index (SampleTree). Two reductions use it: moments
// (forward statistics) and gradient sums (backward).
//
// An Ops type supplies the arithmetic:
//   Partial run(a, c, offset, n)      partial of n contiguous elements (D > 1)
//   (optional) kRuns, runs(offset, stride, n, out)  the partials of kRuns
//                                     runs of n, `stride` apart, at once, each
//                                     as run gives it (out: kRuns)
//   (optional) kShortRuns, kShortRunLength, short_runs(offset, stride, n, out)
//                                     the same for kShortRuns runs of
//                                     n < kShortRunLength
//   void rows(a, offset, rows, c0, n, out)  per-channel partials of `rows`
//                                     rows of C contiguous channels (D == 1)
//                                     starting at element offset, for the
//                                     channels [c0, c0 + n): out (n)
//   static Partial merge(p, q)        associative merge; Partial{} is empty
//   static void merge_span(p, q, out, n)  out[j] = merge(p[j], q[j]) for the
//                                     channels of one tree node (same samples)
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "norm_plan.hpp"
#include "parallel.hpp"

namespace normkit::kernels {

// Block sizes. Part of the numerical contract: changing them changes bits.
inline constexpr std::int64_t kRunChunk = 4096;  // elements of one contiguous run (D > 1)
// Rows of one block when channels are contiguous (D == 1). A block kernel
// walks 16 channels at a time down its rows, so its working set is
// kRowChunk * 64 bytes whatever C is (16 KiB: L1).
inline constexpr std::int64_t kRowChunk = 256;

// The fixed pairwise tree over the samples of a plan. A node [lo, hi) splits
// at lo + (hi - lo) / 2; it is a leaf when it holds one sample, or, where
// channels are contiguous (D == 1), when its samples hold at most kRowChunk
// rows in all: a block of contiguous rows that one block kernel reduces
// directly (so (N, C) batch norm merges N / 256 leaves, not N). The shape of
// the tree, leaves included, depends only on the plan's shape: never on the
// thread count, nor on how a batch is split across ranks (a rank reduces the
// largest nodes inside its slice; docs/numerics.md).
struct SampleTree {
  std::int64_t samples = 0, rows_per_sample = 1, rows = 0;
  std::int64_t leaf_rows = 0;  // several samples form a leaf if they hold at most this many rows

  static SampleTree of(const NormPlan& plan) {
    return {plan.samples(), plan.rows_per_sample, plan.B, plan.D == 1 ? kRowChunk : 0};
  }
  // Every sample a leaf: for partials that are not computed from rows.
  static SampleTree one_leaf_per_sample(std::int64_t samples) { return {samples, 1, samples, 0}; }

  std::int64_t first_row(std::int64_t s) const { return s * rows_per_sample; }
  std::int64_t rows_of(std::int64_t lo, std::int64_t hi) const {
    return std::min(hi * rows_per_sample, rows) - lo * rows_per_sample;
  }
  bool is_leaf(std::int64_t lo, std::int64_t hi) const {
    return hi - lo == 1 || rows_of(lo, hi) <= leaf_rows;
  }
  // is_leaf as a callable, for the merges whose given nodes are the leaves.
  auto leaf_test() const {
    return [this](std::int64_t lo, std::int64_t hi) { return is_leaf(lo, hi); };
  }
  // The leaves [lo, hi) in order, appended to out.
  void leaves(std::int64_t lo, std::int64_t hi, std::vector<std::pair<std::int64_t, std::int64_t>>& out) const {
    if (is_leaf(lo, hi)) {
      out.emplace_back(lo, hi);
      return;
    }
    const std::int64_t mid = lo + (hi - lo) / 2;
    leaves(lo, mid, out);
    leaves(mid, hi, out);
  }
  std::int64_t depth() const {
    std::int64_t d = 1;
    while ((std::int64_t{1} << (d - 1)) < samples) ++d;
    return d;
  }
};

using LeafList = std::vector<std::pair<std::int64_t, std::int64_t>>;

// The partial of sample s for (a, c) when D > 1: its R runs of D contiguous
// elements, in chunks of kRunChunk merged in order.
template <typename Partial, typename Ops>
Partial sample_partial(const NormPlan& plan, const Ops& ops, std::int64_t a, std::int64_t s, std::int64_t c) {
  Partial acc{};
  for (std::int64_t r = 0; r < plan.rows_of_sample(s); ++r) {
    const std::int64_t base = ((a * plan.B + s * plan.rows_per_sample + r) * plan.C + c) * plan.D;
    for (std::int64_t d0 = 0; d0 < plan.D; d0 += kRunChunk)
      acc = Partial::merge(acc, ops.run(a, c, base + d0, std::min(kRunChunk, plan.D - d0)));
  }
  return acc;
}

// Stage 1: per_leaf[(a*L + l)*C + c] = partial of leaf l (samples
// [lo, hi)) for (a, c), L = leaves.size().
template <typename Partial, typename Ops>
void reduce_leaves(const NormPlan& plan, const Ops& ops, const LeafList& leaves, Partial* per_leaf) {
  const std::int64_t L = static_cast<std::int64_t>(leaves.size()), R = plan.rows_per_sample;
  const std::int64_t A = plan.A, B = plan.B, C = plan.C, D = plan.D;
  if (plan.numel() == 0) {  // e.g. D == 0: every partial is empty, no element is read
    std::fill(per_leaf, per_leaf + A * L * C, Partial{});
    return;
  }
  if (D > 1) {
    // Leaves are single samples. One work item per (a, leaf, c).
    parallel_region(threads_for(plan.numel()), [&] {
#pragma omp for schedule(static)
      for (std::int64_t item = 0; item < A * L * C; ++item) {
        const std::int64_t c = item % C, leaf = (item / C) % L, a = item / (C * L);
        per_leaf[item] = sample_partial<Partial>(plan, ops, a, leaves[static_cast<std::size_t>(leaf)].first, c);
      }
    });
  } else {
    // One work item per (a, leaf, strip of channels): the leaf's rows of
    // those channels, in blocks of kRowChunk rows merged in order. (Strips
    // split the work only: each channel's arithmetic is the same in any strip.)
    // Strips of 256 channels, which the widest block kernels read as whole
    // rows of 1 KiB (a narrower strip reads each row from memory again),
    // unless that leaves fewer than two items per thread: then 64.
    constexpr std::int64_t kWideStrip = 256, kNarrowStrip = 64;
    const int threads = threads_for(plan.numel());
    const std::int64_t strip = A * L * ((C + kWideStrip - 1) / kWideStrip) >= 2 * threads ? kWideStrip : kNarrowStrip;
    const std::int64_t strips = (C + strip - 1) / strip;
    parallel_region(threads, [&] {
      Partial chunk[kWideStrip];
#pragma omp for schedule(static)
      for (std::int64_t item = 0; item < A * L * strips; ++item) {
        const std::int64_t c0 = (item % strips) * strip, n = std::min(strip, C - c0);
        const std::int64_t leaf = (item / strips) % L, a = item / (strips * L);
        const auto [lo, hi] = leaves[static_cast<std::size_t>(leaf)];
        const std::int64_t row0 = a * B + lo * R, rows = std::min(hi * R, B) - lo * R;
        Partial* acc = per_leaf + (a * L + leaf) * C + c0;
        // The first block is written in place; later ones are merged into it.
        ops.rows(a, row0 * C, std::min(kRowChunk, rows), c0, n, acc);
        for (std::int64_t r0 = kRowChunk; r0 < rows; r0 += kRowChunk) {
          ops.rows(a, (row0 + r0) * C, std::min(kRowChunk, rows - r0), c0, n, chunk);
          for (std::int64_t j = 0; j < n; ++j) acc[j] = Partial::merge(acc[j], chunk[j]);
        }
      }
    });
  }
}

// merge_span for a Partial type, and for plain float sums (the gradient
// blocks of Conv2d and Linear, nn/block_gradients.hpp).
template <typename Partial>
void merge_span(const Partial* p, const Partial* q, Partial* out, std::int64_t n) {
  Partial::merge_span(p, q, out, n);
}
inline void merge_span(const float* p, const float* q, float* out, std::int64_t n) {
  for (std::int64_t j = 0; j < n; ++j) out[j] = p[j] + q[j];
}

// The merge of the node [lo, hi) for the channels [c0, c0 + n): the nodes
// for which is_given(lo, hi) holds have their partials given, in order, at
// `given` (row stride C, already offset by c0; `next` counts those consumed);
// the others split at lo + (hi - lo) / 2 and merge their halves. (The given
// nodes are the tree's leaves in one process, the largest nodes inside each
// rank's slice for SyncBN.) Whole channel vectors are merged at each node, so
// the inner loop runs over contiguous channels; a given partial is read in
// place. A node writes at scratch, its left child at scratch + n and its
// right child at scratch + 2n, so scratch needs (2 * depth + 1) * n partials.
template <typename Partial, typename IsGiven>
const Partial* merge_tree(const IsGiven& is_given, const Partial* given, std::int64_t C, std::int64_t n,
                          std::int64_t lo, std::int64_t hi, std::int64_t& next, Partial* scratch) {
  if (is_given(lo, hi)) return given + (next++) * C;
  const std::int64_t mid = lo + (hi - lo) / 2;
  const Partial* left = merge_tree(is_given, given, C, n, lo, mid, next, scratch + n);
  const Partial* right = merge_tree(is_given, given, C, n, mid, hi, next, scratch + 2 * n);
  merge_span(left, right, scratch, n);
  return scratch;
}

inline constexpr std::int64_t kMergeChannelBlock = 256;  // work split only: bits do not depend on it

// The partials merge_tree needs for one block of channels of `tree`.
inline std::int64_t merge_scratch_size(const SampleTree& tree) {
  return kMergeChannelBlock * (2 * tree.depth() + 1);
}

// out[c] (c < n <= kMergeChannelBlock) = merge of the node [lo, hi) from the
// partials of its given nodes at `given` (row stride C, offset to the first
// channel), on the calling thread.
template <typename Partial, typename IsGiven>
void merge_channel_block(const IsGiven& is_given, std::int64_t lo, std::int64_t hi, std::int64_t C, std::int64_t n,
                         const Partial* given, Partial* scratch, Partial* out) {
  std::int64_t next = 0;
  const Partial* merged = merge_tree(is_given, given, C, n, lo, hi, next, scratch);
  std::copy(merged, merged + n, out);
}

// Stage 2: out[a*C + c] = merge of the node [lo, hi) of `tree` from the
// A x L x C partials of its given nodes (is_given; the tree's leaves by
// default), in the tree.
template <typename Partial, typename IsGiven>
void merge_given(const SampleTree& tree, const IsGiven& is_given, std::int64_t lo, std::int64_t hi,
                 std::int64_t A, std::int64_t L, std::int64_t C, const Partial* per_given, Partial* out) {
  if (A == 0 || C == 0) return;  // nothing to merge into (and no threads to split it among)
  if (hi <= lo) {
    std::fill(out, out + A * C, Partial{});
    return;
  }
  // Blocks of at most kMergeChannelBlock channels, and at least one per
  // thread where there are channels enough (16 or more a block): one block
  // of 256 channels left the other thread waiting (BatchNorm 64x256x14x14
  // channels-last, 2 threads).
  const int threads = threads_for(A * L * C * 4);  // a merge costs about four elements' work
  std::int64_t block = kMergeChannelBlock;
  if (A * ((C + block - 1) / block) < threads) {
    const std::int64_t per_a = (threads + A - 1) / A;
    block = std::max<std::int64_t>(16, ((C + per_a - 1) / per_a + 15) / 16 * 16);
  }
  const std::int64_t blocks = (C + block - 1) / block;
  parallel_region(threads, [&] {
    // Reused across calls. (A pointer, not the thread_local's name, inside
    // the loop: see blocked_reduce.)
    thread_local std::vector<Partial> scratch_buffer;
    scratch_buffer.resize(static_cast<std::size_t>(merge_scratch_size(tree)));
    Partial* scratch = scratch_buffer.data();
#pragma omp for schedule(static)
    for (std::int64_t item = 0; item < A * blocks; ++item) {
      const std::int64_t a = item / blocks, c0 = (item % blocks) * block;
      merge_channel_block(is_given, lo, hi, C, std::min(block, C - c0), per_given + a * L * C + c0,
                          scratch, out + a * C + c0);
    }
  });
}

// merge_given for A = 1 on the calling thread alone (inside a parallel
// region: a thread merging its own nodes), with the caller's scratch of
// merge_scratch_size(tree) partials.
template <typename Partial, typename IsGiven>
void merge_given_here(const IsGiven& is_given, std::int64_t lo, std::int64_t hi, std::int64_t C,
                      const Partial* per_given, Partial* scratch, Partial* out) {
  for (std::int64_t c0 = 0; c0 < C; c0 += kMergeChannelBlock)
    merge_channel_block(is_given, lo, hi, C, std::min(kMergeChannelBlock, C - c0), per_given + c0, scratch,
                        out + c0);
}

template <typename Partial>
void merge_leaves(const SampleTree& tree, std::int64_t A, std::int64_t L, std::int64_t C,
                  const Partial* per_leaf, Partial* out) {
  merge_given(tree, tree.leaf_test(), 0, tree.samples, A, L, C, per_leaf, out);
}

template <typename Partial, typename Ops>
void blocked_reduce(const NormPlan& plan, const Ops& ops, Partial* out) {
  const SampleTree tree = SampleTree::of(plan);
  // Reused across calls: no page faults for a fresh buffer on every call.
  thread_local LeafList leaves;
  thread_local std::vector<Partial> per_leaf;
  leaves.clear();
  if (tree.samples > 0) tree.leaves(0, tree.samples, leaves);
  const std::int64_t L = static_cast<std::int64_t>(leaves.size());
  per_leaf.resize(static_cast<std::size_t>(plan.A * L * plan.C));
  const LeafList* leaf_list = &leaves;
  Partial* partials = per_leaf.data();
  reduce_leaves(plan, ops, *leaf_list, partials);
  merge_leaves(tree, plan.A, L, plan.C, partials, out);
}

// Fusion while the data is in cache (D > 1): for each (a, c) in parallel,
// the partials of its samples and their merge in the tree (the same bits as
// blocked_reduce gives for that (a, c)), then finish(i, n, merged) in the
// same thread for the group of slices [i, i + n) reduced together (below),
// and a pass over each slice while its B * D elements are still cached:
// pass(a * C + c, s0, s1) over samples [s0, s1).
//
// A few slices (consecutive items, as many as fit 256 KiB, at most 4) are
// reduced together, a sample at a time across them: in NCHW their runs of a
// sample are side by side, one longer stream for the prefetcher (BatchNorm
// forward 64x256x14x14 NCHW, 1 thread, Zen 4: 1.14x, 1.17x after a cache
// eviction, against slice by slice). Their partials are merged side by
// side, so that each node of the tree is walked and its share divided once
// for all of them (one slice at a time, the merges took a tenth of that
// forward).
//
// The pass is overlapped with the reduction that follows it: the slices that
// a thread reduced last are passed over a few samples at a time, between the
// runs of its next ones. The pass writes (to memory, in streamed stores) and
// the reduction reads; one after the other, each waited for the other's
// transfers. Each slice gets the same partials and the same pass either way.
template <typename Partial, typename Ops, typename Finish, typename Pass>
void reduce_each_slice(const NormPlan& plan, const Ops& ops, const Finish& finish, const Pass& pass) {
  const SampleTree tree = SampleTree::of(plan);
  const std::int64_t S = tree.samples, items = plan.A * plan.C, C = plan.C;
  constexpr std::int64_t kGroupBytes = std::int64_t{256} << 10;
  const std::int64_t slice_bytes = plan.B * plan.D * static_cast<std::int64_t>(sizeof(float));
  // Slices of at most 4 KiB (BatchNorm on 2x2 and 4x4 maps) go 16 to a
  // group: a group's fixed work (its merges, its calls per slice) was a
  // fifth of such a pass. BatchNorm NCHW, Zen 5, 16 against 4: training
  // forward 32x512x2x2 1 thread 0.209 against 0.230 ms, 2 threads 0.130
  // against 0.141; backward 32x256x4x4 0.118 against 0.129 (1 thread),
  // 32x512x2x2 0.133 against 0.150 (2). Larger slices keep 4: 64x256x14x14
  // (50 KiB slices) backward was 1.63-1.69 ms with 5 to a group against 1.56
  // with 4, and 8x8 or 16x16 maps were level.
  constexpr std::int64_t kTinySliceBytes = 4096;
  const std::int64_t most_grouped = slice_bytes <= kTinySliceBytes ? 16 : 4;
  const std::int64_t G = std::clamp<std::int64_t>(kGroupBytes / std::max<std::int64_t>(slice_bytes, 1), 1, most_grouped);
  const std::int64_t groups = (items + G - 1) / G;
  parallel_region(threads_for(plan.numel()), [&] {
    std::vector<Partial> per_sample(static_cast<std::size_t>(G * S));  // (slice of the group, sample)
    std::vector<Partial> leaves(static_cast<std::size_t>(S * G));      // (sample, slice of the group)
    std::vector<Partial> scratch(static_cast<std::size_t>((2 * tree.depth() + 1) * G));
    std::int64_t pending = 0, pending_n = 0;  // the group reduced last: its first item and size
    auto pass_pending = [&](std::int64_t j, std::int64_t s0, std::int64_t s1) {
      if (j < pending_n && s0 < s1) pass(pending + j, s0, s1);
    };
#pragma omp for schedule(static)
    for (std::int64_t group = 0; group < groups; ++group) {
      const std::int64_t first = group * G, n = std::min(G, items - first);
      // Ops that reduce several runs at once (the same bits as one by one)
      // take the samples that many at a time where each is one run, sample
      // by sample across the group's slices: their runs of a sample are side
      // by side in memory (NCHW), one stream for the prefetcher. Runs shorter
      // than the lanes (maps of a few elements) go kShortRuns at a time
      // (Ops::short_runs), then kRuns (Ops::runs), then one by one.
      std::int64_t s = 0;
      const auto runs_at_once = [&](std::int64_t count, const auto& runs) {
        for (; s + count <= S; s += count)
          for (std::int64_t j = 0; j < n; ++j) {
            const std::int64_t a = (first + j) / C, c = (first + j) % C;
            runs(((a * plan.B + s) * C + c) * plan.D, C * plan.D, per_sample.data() + j * S + s);
            pass_pending(j, s, s + count);
          }
      };
      if constexpr (requires { Ops::kShortRuns; }) {
        if (plan.rows_per_sample == 1 && plan.D < Ops::kShortRunLength)
          runs_at_once(Ops::kShortRuns, [&](std::int64_t offset, std::int64_t stride, Partial* out) {
            ops.short_runs(offset, stride, plan.D, out);
          });
      }
      if constexpr (requires { Ops::kRuns; }) {
        if (plan.rows_per_sample == 1 && plan.D <= kRunChunk)
          runs_at_once(Ops::kRuns, [&](std::int64_t offset, std::int64_t stride, Partial* out) {
            ops.runs(offset, stride, plan.D, out);
          });
      }
      for (std::int64_t j = 0; j < n; ++j) {
        const std::int64_t a = (first + j) / C, c = (first + j) % C;
        pass_pending(j, s, S);
        for (std::int64_t t = s; t < S; ++t) per_sample[j * S + t] = sample_partial<Partial>(plan, ops, a, t, c);
        for (std::int64_t t = 0; t < S; ++t) leaves[t * n + j] = per_sample[j * S + t];
      }
      for (std::int64_t j = n; j < pending_n; ++j) pass_pending(j, 0, S);
      std::int64_t next_leaf = 0;
      const Partial* merged = scratch.data();  // (no samples: empty partials)
      if (S == 0) std::fill(scratch.begin(), scratch.begin() + n, Partial{});
      else merged = merge_tree(tree.leaf_test(), leaves.data(), n, n, 0, S, next_leaf, scratch.data());
      finish(first, n, merged);
      pending = first, pending_n = n;
    }
    for (std::int64_t j = 0; j < pending_n; ++j) pass_pending(j, 0, S);
  });
}

}  // namespace normkit::kernels
