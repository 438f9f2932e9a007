// The kernels' side of Synchronized BN, without MPI: a batch split between
// simulated ranks, each reducing its whole nodes, the cut leaves reduced from
// their gathered rows, and merge_nodes() over all of them must give the bits
// of one process reducing the whole batch.
#include "kernels/slice_reduce.hpp"

#include <cstring>
#include <map>

#include "kernels/moments.hpp"
#include "test_util.hpp"

namespace normkit::test {
namespace {

class SliceReduce : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, SliceReduce, every_simd_path(), simd_path_param_name);

using kernels::LeafList;
using kernels::Moments;
using kernels::NormPlan;
using kernels::SampleTree;

// Statistics of x (plan `whole`) as ranks holding samples [b[q], b[q + 1])
// would compute them.
std::vector<Moments> split_moments(const std::vector<float>& x, const NormPlan& whole,
                                   const std::vector<std::int64_t>& b) {
  const SampleTree tree = SampleTree::of(whole);
  const std::int64_t C = whole.C, per_sample = whole.rows_per_sample * whole.C * whole.D;
  std::map<std::pair<std::int64_t, std::int64_t>, std::vector<Moments>> given;
  for (std::size_t q = 0; q + 1 < b.size(); ++q) {
    NormPlan local = whole;
    local.B = (b[q + 1] - b[q]) * whole.rows_per_sample;
    const kernels::SliceNodes nodes = kernels::slice_nodes(tree, b[q], b[q + 1] - b[q]);
    std::vector<Moments> partials(nodes.whole.size() * C);
    kernels::moments_of_whole_nodes(x.data() + b[q] * per_sample, local, tree, b[q], nodes.whole, partials.data());
    for (std::size_t i = 0; i < nodes.whole.size(); ++i)
      given[nodes.whole[i]].assign(partials.begin() + i * C, partials.begin() + (i + 1) * C);
    for (const auto& leaf : nodes.cut) {  // the leaf's rows, as gathered from every rank
      NormPlan rows = whole;
      rows.B = (leaf.second - leaf.first) * whole.rows_per_sample;
      std::vector<Moments>& out = given[leaf];
      out.resize(C);
      kernels::moments({.x = x.data() + leaf.first * per_sample, .plan = rows, .out = out.data()});
    }
  }
  LeafList order;
  std::vector<Moments> per_node;
  for (const auto& [range, partial] : given) {
    if (!order.empty()) EXPECT_EQ(order.back().second, range.first) << "the nodes tile the batch in order";
    order.push_back(range);
    per_node.insert(per_node.end(), partial.begin(), partial.end());
  }
  std::vector<Moments> out(C);
  kernels::merge_nodes(tree, order, 1, C, per_node.data(), out.data());
  return out;
}

TEST_P(SliceReduce, AnySplitGivesTheWholeBatchBits) {
  struct Shape {
    std::int64_t N, C, D, rows_per_sample;
  };
  // NCHW (D > 1: one sample per leaf), (N, C) and channels-last (D == 1:
  // leaves of several samples, cut by the splits).
  for (const Shape s : {Shape{13, 5, 30, 1}, Shape{700, 9, 1, 1}, Shape{37, 6, 1, 12}}) {
    const NormPlan whole{1, s.N * s.rows_per_sample, s.C, s.D, s.rows_per_sample};
    const std::vector<float> x = normal_values(static_cast<std::size_t>(whole.numel()), 5 + s.N, 3.0f, 2.0f);
    std::vector<Moments> one(s.C);
    kernels::moments({.x = x.data(), .plan = whole, .out = one.data()});
    const std::int64_t N = s.N;
    for (const std::vector<std::int64_t>& b :
         {std::vector<std::int64_t>{0, N}, {0, N / 2, N}, {0, 1, 1, N}, {0, N / 3, N / 3 + 1, N - 1, N},
          {0, 0, 7, N}}) {
      const std::vector<Moments> split = split_moments(x, whole, b);
      for (std::int64_t c = 0; c < s.C; ++c) {
        EXPECT_EQ(std::memcmp(&split[c], &one[c], sizeof(Moments)), 0)
            << "N " << N << " D " << s.D << " split into " << b.size() - 1 << " ranks, channel " << c;
      }
    }
  }
}

TEST_P(SliceReduce, CutLeavesAppearOnlyWhereALeafHoldsSeveralSamples) {
  const SampleTree nchw = SampleTree::of(NormPlan{1, 64, 4, 30, 1});
  EXPECT_TRUE(kernels::slice_nodes(nchw, 5, 20).cut.empty());
  const SampleTree rows = SampleTree::of(NormPlan{1, 64, 4, 1, 1});  // one leaf of 64 rows
  const kernels::SliceNodes nodes = kernels::slice_nodes(rows, 5, 20);
  EXPECT_TRUE(nodes.whole.empty());
  ASSERT_EQ(nodes.cut.size(), 1u);
  EXPECT_EQ(nodes.cut[0], (std::pair<std::int64_t, std::int64_t>{0, 64}));
  EXPECT_TRUE(kernels::slice_nodes(rows, 5, 0).cut.empty());
}

}  // namespace
}  // namespace normkit::test
