// GroupNorm and InstanceNorm: fast against reference, the references against
// finite differences, the identities G = 1 (LayerNorm over (C, *spatial)) and
// G = C (InstanceNorm), running statistics, errors.
#include "kernels/ref/group_norm_ref.hpp"
#include "normkit/group_norm.hpp"
#include "normkit/layer_norm.hpp"
#include "test_util.hpp"

namespace normkit::test {
namespace {

class GroupNorm : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, GroupNorm, every_simd_path(), simd_path_param_name);
class InstanceNorm : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, InstanceNorm, every_simd_path(), simd_path_param_name);

Tensor channel_param(std::int64_t C, std::uint64_t seed, float mean) {
  return vector_tensor(normal_values(static_cast<std::size_t>(C), seed, mean, 0.5f));
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float e : v) m = std::max<double>(m, std::fabs(e));
  return m;
}

struct GroupCase {
  Shape shape;
  std::int64_t groups;
  TestLayout layout;
  bool affine;
  std::uint64_t seed;
};

void expect_group_norm_matches_reference(const GroupCase& c) {
  SCOPED_TRACE(shape_string(c.shape) + " G=" + std::to_string(c.groups) + " " + layout_name(c.layout) +
               (c.affine ? " affine" : ""));
  const std::int64_t C = c.shape[1];
  const TestTensor x = random_tensor(c.shape, c.layout, c.seed, 0.5f, 2.0f);
  const TestTensor dy = random_tensor(c.shape, c.layout, c.seed + 1);
  const Tensor w = c.affine ? channel_param(C, c.seed + 2, 1.0f) : Tensor();
  const Tensor b = c.affine ? channel_param(C, c.seed + 3, 0.0f) : Tensor();
  GroupNormForwardResult f[2];
  GroupNormBackwardResult g[2];
  for (int i = 0; i < 2; ++i) {
    const GroupNormOptions o{.num_groups = c.groups, .impl = i == 0 ? Impl::fast : Impl::reference};
    f[i] = group_norm_forward({x.view, w, b}, o);
    g[i] = group_norm_backward({dy.view, x.view, f[0].mean, f[0].rstd, w}, o);
  }
  EXPECT_TRUE(all_close(values(f[0].y), values(f[1].y)));
  EXPECT_TRUE(all_close(values(f[0].mean), values(f[1].mean)));
  EXPECT_TRUE(all_close(values(f[0].rstd), values(f[1].rstd)));
  const double term = max_abs(values(dy.view)) * (c.affine ? max_abs(values(w)) : 1.0) *
                      max_abs(values(f[0].rstd));
  EXPECT_TRUE(all_close(values(g[0].dx), values(g[1].dx), 1e-5, term));
  if (c.affine) EXPECT_TRUE(all_close(values(g[0].dweight), values(g[1].dweight)));
  EXPECT_TRUE(all_close(values(g[0].dbias), values(g[1].dbias)));
}

TEST_P(GroupNorm, FastMatchesReference) {
  const std::vector<std::pair<Shape, std::int64_t>> shapes = {
      {{2, 6, 5}, 3},   {{4, 8, 3, 3}, 2},   {{2, 32, 7, 7}, 32}, {{3, 4, 2, 3, 2}, 1},
      {{1, 12, 127}, 4}, {{2, 6}, 3},        {{5, 4, 1, 1}, 2},   {{2, 64, 8, 8}, 32},
      // Groups reduced four channels at a time, with one or two left over,
      // and channels longer than one run chunk (4096); groups of one and two
      // channels taken in blocks of four channels, the last block short.
      {{2, 12, 70}, 2},  {{1, 10, 9}, 1},    {{1, 8, 5000}, 1},   {{1, 6, 9}, 6},
      {{3, 10, 9}, 5},
  };
  std::uint64_t seed = 300;
  for (const auto& [shape, groups] : shapes)
    for (TestLayout layout : {TestLayout::contiguous, TestLayout::channels_last, TestLayout::strided})
      for (bool affine : {true, false})
        expect_group_norm_matches_reference({shape, groups, layout, affine, ++seed});
}

TEST_P(GroupNorm, OneGroupIsLayerNormOverChannelsAndSpace) {
  const TestTensor x = random_tensor({3, 4, 5, 6}, TestLayout::contiguous, 1, 2.0f, 3.0f);
  const GroupNormForwardResult gn = group_norm_forward({x.view}, {.num_groups = 1});
  const LayerNormForwardResult ln = layer_norm_forward({x.view, {4, 5, 6}});
  EXPECT_TRUE(all_close(values(gn.y), values(ln.y)));
  EXPECT_TRUE(all_close(values(gn.rstd), values(ln.rstd)));
}

TEST_P(GroupNorm, OneChannelPerGroupIsInstanceNorm) {
  for (TestLayout layout : {TestLayout::contiguous, TestLayout::channels_last}) {
    const TestTensor x = random_tensor({3, 4, 5, 6}, layout, 2, -1.0f, 2.0f);
    const Tensor w = channel_param(4, 3, 1.0f), b = channel_param(4, 4, 0.0f);
    const GroupNormForwardResult gn = group_norm_forward({x.view, w, b}, {.num_groups = 4});
    const InstanceNormForwardResult in = instance_norm_forward({x.view, w, b});
    EXPECT_TRUE(same_bits(values(gn.y), values(in.y)));
    EXPECT_TRUE(same_bits(values(gn.mean), values(in.mean)));
  }
}

TEST_P(InstanceNorm, FastMatchesReferenceWithRunningStats) {
  std::uint64_t seed = 700;
  for (const Shape& shape : {Shape{2, 3, 7}, Shape{4, 5, 3, 3}, Shape{2, 3, 2, 3, 4}, Shape{1, 16, 127}})
    for (TestLayout layout : {TestLayout::contiguous, TestLayout::channels_last, TestLayout::permuted})
      for (bool use_input_stats : {true, false}) {
        SCOPED_TRACE(shape_string(shape) + " " + layout_name(layout) + (use_input_stats ? " input" : " running"));
        const std::int64_t C = shape[1];
        const TestTensor x = random_tensor(shape, layout, ++seed, 1.0f, 2.0f);
        InstanceNormForwardResult f[2];
        Tensor rm[2], rv[2];
        for (int i = 0; i < 2; ++i) {
          rm[i] = channel_param(C, seed + 1, 0.2f);
          std::vector<float> var = normal_values(static_cast<std::size_t>(C), seed + 2, 1.0f, 0.2f);
          for (float& v : var) v = std::fabs(v) + 0.2f;
          rv[i] = vector_tensor(var);
          f[i] = instance_norm_forward({x.view, channel_param(C, 5, 1.0f), channel_param(C, 6, 0.0f), rm[i], rv[i]},
                                       {.use_input_stats = use_input_stats, .momentum = 0.3,
                                        .impl = i == 0 ? Impl::fast : Impl::reference});
        }
        EXPECT_TRUE(all_close(values(f[0].y), values(f[1].y)));
        EXPECT_TRUE(all_close(values(f[0].mean), values(f[1].mean)));
        EXPECT_TRUE(all_close(values(f[0].rstd), values(f[1].rstd)));
        EXPECT_TRUE(all_close(values(rm[0]), values(rm[1])));
        EXPECT_TRUE(all_close(values(rv[0]), values(rv[1])));
      }
}

TEST_P(InstanceNorm, BackwardMatchesReference) {
  const TestTensor x = random_tensor({3, 4, 6, 5}, TestLayout::channels_last, 9, 0.0f, 2.0f);
  const TestTensor dy = random_tensor({3, 4, 6, 5}, TestLayout::contiguous, 10);
  const Tensor w = channel_param(4, 11, 1.0f);
  const InstanceNormForwardResult f = instance_norm_forward({x.view, w});
  const GroupNormBackwardResult fast = instance_norm_backward({dy.view, x.view, w, f.mean, f.rstd});
  const GroupNormBackwardResult ref =
      instance_norm_backward({dy.view, x.view, w, f.mean, f.rstd}, {.impl = Impl::reference});
  const double term = max_abs(values(dy.view)) * max_abs(values(w)) * max_abs(values(f.rstd));
  EXPECT_TRUE(all_close(values(fast.dx), values(ref.dx), 1e-5, term));
  EXPECT_TRUE(all_close(values(fast.dweight), values(ref.dweight)));
  EXPECT_TRUE(all_close(values(fast.dbias), values(ref.dbias)));
}

TEST_P(GroupNorm, ReferenceMatchesFiniteDifferences) {
  const ref::GroupNormProblem p{2, 4, 3, 2};
  const std::size_t n = 24;
  std::vector<double> x = normal_values<double>(n, 1, 1.0, 2.0), w = normal_values<double>(4, 2, 1.0, 0.3),
                      b = normal_values<double>(4, 3), probe = normal_values<double>(n, 4);
  auto loss = [&] { return probe_loss(probe, ref::group_norm_forward(p, x, w, b, 1e-5).y); };
  auto numeric = [&](std::vector<double>& v, std::size_t i) { return central_difference(v, i, loss); };
  const ref::GroupNormForwardResult f = ref::group_norm_forward(p, x, w, b, 1e-5);
  const ref::GroupNormBackwardResult g = ref::group_norm_backward(p, probe, x, f.mean, f.rstd, w);
  for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(g.dx[i], numeric(x, i), 1e-6);
  for (std::size_t c = 0; c < 4; ++c) {
    EXPECT_NEAR(g.dweight[c], numeric(w, c), 1e-6);
    EXPECT_NEAR(g.dbias[c], numeric(b, c), 1e-6);
  }
}

TEST_P(GroupNorm, ErrorsNameTheArgument) {
  Tensor x({2, 6, 5});
  try {
    group_norm_forward({x}, {.num_groups = 4});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("num_groups: expected number of channels in input to be divisible "
                                         "by num_groups, but got input of shape (2, 6, 5) and num_groups=4"),
              std::string::npos) << e.what();
  }
  EXPECT_THROW(group_norm_forward({x}, {.num_groups = 0}), Error);
  EXPECT_THROW(group_norm_forward({x, Tensor({5})}, {.num_groups = 3}), Error);
  EXPECT_THROW(group_norm_forward({x}, {.num_groups = 3, .eps = 0}), Error);
  Tensor y = Tensor::full({2, 6, 5}, 7.0f), mean({2, 3}), rstd({2, 2});
  EXPECT_THROW(group_norm_forward({x}, {.num_groups = 3}, {y, mean, rstd}), Error);
  EXPECT_EQ(values(y), std::vector<float>(60, 7.0f));
}

// Found by fuzz/functional_fuzzer (fuzz/regressions/functional): InstanceNorm
// of 0 channels has no groups; both implementations give empty results (it
// divided by the group count, 0, before).
TEST_P(InstanceNorm, ZeroChannelsGiveEmptyResultsAsGroupNormDoes) {
  for (const Impl impl : {Impl::fast, Impl::reference}) {
    Tensor x({2, 0, 3});
    const InstanceNormForwardResult r = instance_norm_forward({x.view()}, {.impl = impl});
    EXPECT_EQ(r.y.shape(), (Shape{2, 0, 3}));
    EXPECT_EQ(r.mean.shape(), (Shape{2, 0}));
    const GroupNormBackwardResult g =
        instance_norm_backward({x.view(), x.view(), {}, r.mean.view(), r.rstd.view()}, {.impl = impl});
    EXPECT_EQ(g.dx.numel(), 0);
    // GroupNorm of 0 channels in 2 groups: empty groups, NaN statistics (the
    // fast path's channel merge never returned before).
    const GroupNormForwardResult gn = group_norm_forward({x.view()}, {.num_groups = 2, .impl = impl});
    EXPECT_EQ(gn.y.numel(), 0);
    ASSERT_EQ(gn.mean.shape(), (Shape{2, 2}));
    EXPECT_TRUE(std::isnan(gn.mean.data<float>()[0]));
  }
}

TEST_P(InstanceNorm, ErrorsNameTheArgument) {
  try {
    instance_norm_forward({Tensor({2, 3, 1})});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Expected more than 1 spatial element when training, got input size (2, 3, 1)"),
              std::string::npos) << e.what();
  }
  EXPECT_THROW(instance_norm_forward({Tensor({2, 3})}), Error);  // no spatial dim
  EXPECT_THROW(instance_norm_forward({Tensor({2, 3, 4})}, {.use_input_stats = false}), Error);
  Tensor rm = Tensor::full({3}, 0.0f), rv = Tensor::full({3}, 1.0f);
  EXPECT_NO_THROW(instance_norm_forward({Tensor::full({2, 3, 1}, 1.0f), {}, {}, rm, rv}, {.use_input_stats = false}));
  EXPECT_THROW(instance_norm_forward({Tensor({2, 3, 4}), {}, {}, rm, {}}), Error);
  EXPECT_THROW(instance_norm_forward({Tensor({2, 3, 4}), {}, {}, rm, rv}, {.momentum = 2}), Error);
}

}  // namespace
}  // namespace normkit::test
