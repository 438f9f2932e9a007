// A reduction over a batch that is split along its samples between ranks
// (Synchronized BN), with the bits of one process reducing the whole batch.
//
// Rank r holds the global samples [first, first + count). The whole batch's
// SampleTree is cut into
//   - whole nodes: the largest nodes of the tree inside the slice. The rank
//     reduces each itself, with the leaves and merges one process would use;
//   - cut leaves: leaves that straddle two or more slices (a leaf holds
//     several samples only when channels are contiguous, D == 1, and then at
//     most kRowChunk rows). Their rows are gathered, and each is reduced as
//     one block, as one process would.
// The partials of every rank's whole nodes and of the cut leaves tile the
// batch in order; merge_nodes() merges them in the whole batch's tree. The
// cut depends on how the batch is split; the tree and so the bits do not.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "blocked_reduce.hpp"

namespace normkit::kernels {

struct SliceNodes {
  LeafList whole;  // global sample ranges, in order
  LeafList cut;    // cut leaves that overlap the slice, in order
};

inline void collect_slice_nodes(const SampleTree& tree, std::int64_t lo, std::int64_t hi, std::int64_t first,
                                std::int64_t end, SliceNodes& out) {
  if (hi <= first || lo >= end) return;
  if (first <= lo && hi <= end) {
    out.whole.emplace_back(lo, hi);
  } else if (tree.is_leaf(lo, hi)) {
    out.cut.emplace_back(lo, hi);
  } else {
    const std::int64_t mid = lo + (hi - lo) / 2;
    collect_slice_nodes(tree, lo, mid, first, end, out);
    collect_slice_nodes(tree, mid, hi, first, end, out);
  }
}

// The nodes of the slice [first, first + count) of the batch of `tree`.
inline SliceNodes slice_nodes(const SampleTree& tree, std::int64_t first, std::int64_t count) {
  SliceNodes out;
  if (count > 0) collect_slice_nodes(tree, 0, tree.samples, first, first + count, out);
  return out;
}

// out[(a * nodes.size() + i) * C + c] = partial of whole node i for (a, c).
// `local` is the plan of the rank's own data, whose sample 0 is the batch's
// sample `first`.
template <typename Partial, typename Ops>
void reduce_whole_nodes(const NormPlan& local, const Ops& ops, const SampleTree& tree, std::int64_t first,
                        const LeafList& nodes, Partial* out) {
  const std::int64_t A = local.A, C = local.C, count = static_cast<std::int64_t>(nodes.size());
  LeafList leaves;
  std::vector<Partial> per_leaf, merged(static_cast<std::size_t>(A * C));
  for (std::int64_t i = 0; i < count; ++i) {
    const auto [lo, hi] = nodes[static_cast<std::size_t>(i)];
    leaves.clear();
    tree.leaves(lo, hi, leaves);
    const std::int64_t L = static_cast<std::int64_t>(leaves.size());
    for (auto& leaf : leaves) leaf = {leaf.first - first, leaf.second - first};  // the rank's own indices
    per_leaf.resize(static_cast<std::size_t>(A * L * C));
    reduce_leaves(local, ops, leaves, per_leaf.data());
    merge_given(tree, tree.leaf_test(), lo, hi, A, L, C, per_leaf.data(), merged.data());
    for (std::int64_t a = 0; a < A; ++a)
      std::copy_n(merged.data() + a * C, C, out + (a * count + i) * C);
  }
}

// out[a * C + c] = the whole batch's result from the partials of nodes that
// tile [0, tree.samples) in order, laid out as reduce_whole_nodes lays them.
template <typename Partial>
void merge_nodes(const SampleTree& tree, const LeafList& nodes, std::int64_t A, std::int64_t C,
                 const Partial* per_node, Partial* out) {
  const auto is_given = [&nodes](std::int64_t lo, std::int64_t hi) {
    const auto it = std::lower_bound(nodes.begin(), nodes.end(), std::pair{lo, std::int64_t{0}});
    return it != nodes.end() && it->first == lo && it->second == hi;
  };
  merge_given(tree, is_given, 0, tree.samples, A, static_cast<std::int64_t>(nodes.size()), C, per_node, out);
}

}  // namespace normkit::kernels
