// Ghost BN and Batch Renorm: fast against reference, gradients, and the
// identities that define them.
#include "batch_norm_case.hpp"
#include "kernels/ref/batch_norm_ref.hpp"

namespace normkit::test {
namespace {

class GhostBatchNorm : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, GhostBatchNorm, every_simd_path(), simd_path_param_name);
class BatchRenorm : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, BatchRenorm, every_simd_path(), simd_path_param_name);

// Runs forward and backward with `options` on both implementations and
// compares every output.
void expect_fast_matches_reference(const BatchNormCase& c, BatchNormOptions options) {
  SCOPED_TRACE(c.name());
  const Shape stats = options.virtual_batch_size > 0
                          ? Shape{c.shape[0] / options.virtual_batch_size, c.shape[1]}
                          : Shape{c.shape[1]};
  struct Run {
    BatchNormRun fwd;
    Tensor save_mean, save_invstd, r, d;
    BatchNormBackwardResult grads;
  };
  auto run = [&](Impl impl) {
    Run out{BatchNormRun(c), Tensor(stats), Tensor(stats), Tensor({c.shape[1]}), Tensor({c.shape[1]}), {}};
    BatchNormOptions o = options;
    o.impl = impl;
    batch_norm_forward(out.fwd.inputs(), o,
                       {out.fwd.y.view, out.save_mean, out.save_invstd,
                        options.renorm ? out.r.view() : TensorView{},
                        options.renorm ? out.d.view() : TensorView{}});
    TestTensor dy = random_tensor(c.shape, c.layout, c.seed + 50);
    out.grads = batch_norm_backward({dy.view, out.fwd.x.view, out.fwd.weight, {}, {}, out.save_mean,
                                     out.save_invstd, options.renorm ? out.r.view() : TensorView{},
                                     options.renorm ? out.d.view() : TensorView{}},
                                    o);
    return out;
  };
  const Run fast = run(Impl::fast), ref = run(Impl::reference);
  EXPECT_TRUE(all_close(values(fast.fwd.y.view), values(ref.fwd.y.view)));
  EXPECT_TRUE(all_close(values(fast.save_mean), values(ref.save_mean)));
  EXPECT_TRUE(all_close(values(fast.save_invstd), values(ref.save_invstd)));
  EXPECT_TRUE(all_close(values(fast.fwd.running_mean), values(ref.fwd.running_mean)));
  EXPECT_TRUE(all_close(values(fast.fwd.running_var), values(ref.fwd.running_var)));
  if (options.renorm) {
    EXPECT_TRUE(all_close(values(fast.r), values(ref.r)));
    EXPECT_TRUE(all_close(values(fast.d), values(ref.d)));
  }
  // dx is a cancelling sum: held to the size of its terms (about 10 here).
  EXPECT_TRUE(all_close(values(fast.grads.dx), values(ref.grads.dx), 1e-5, 10.0));
  EXPECT_TRUE(all_close(values(fast.grads.dweight), values(ref.grads.dweight)));
  EXPECT_TRUE(all_close(values(fast.grads.dbias), values(ref.grads.dbias)));
}

TEST_P(GhostBatchNorm, FastMatchesReference) {
  for (TestLayout layout : {TestLayout::contiguous, TestLayout::channels_last, TestLayout::strided})
    for (std::int64_t k : {2, 4, 8}) {
      BatchNormCase c{.shape = {8, 3, 5, 4}, .layout = layout, .seed = static_cast<std::uint64_t>(k)};
      expect_fast_matches_reference(c, {.virtual_batch_size = k});
    }
  expect_fast_matches_reference({.shape = {12, 5}}, {.virtual_batch_size = 3});
}

TEST_P(GhostBatchNorm, EachGhostBatchIsPlainBatchNormBitForBit) {
  const std::int64_t N = 6, C = 4, k = 2;
  BatchNormCase c{.shape = {N, C, 3, 3}};
  BatchNormRun ghost(c);
  BatchNormForwardResult g = batch_norm_forward({ghost.x.view}, {.virtual_batch_size = k});
  EXPECT_EQ(g.save_mean.shape(), (Shape{N / k, C}));
  const std::vector<float> y = values(g.y), mean = values(g.save_mean);
  for (std::int64_t group = 0; group < N / k; ++group) {
    // The ghost batch as its own tensor: a view of samples [group*k, group*k + k).
    TensorView slice(ghost.x.view.data<float>() + group * k * C * 9, {k, C, 3, 3},
                     ghost.x.view.strides(), DType::float32);
    BatchNormForwardResult plain = batch_norm_forward({slice}, {});
    const std::vector<float> y_plain = values(plain.y);
    EXPECT_TRUE(same_bits(std::vector<float>(y.begin() + group * k * C * 9,
                                             y.begin() + (group + 1) * k * C * 9),
                          y_plain));
    EXPECT_TRUE(same_bits(std::vector<float>(mean.begin() + group * C, mean.begin() + (group + 1) * C),
                          values(plain.save_mean)));
  }
}

TEST_P(GhostBatchNorm, EvalIsPlainBatchNormAndErrorsAreClear) {
  BatchNormCase c{.shape = {6, 3, 4}, .training = false};
  BatchNormRun a(c), b(c);
  batch_norm_forward(a.inputs(), {.training = false, .virtual_batch_size = 4}, a.outputs());
  batch_norm_forward(b.inputs(), {.training = false}, b.outputs());
  EXPECT_TRUE(same_bits(values(a.y.view), values(b.y.view)));  // 6 % 4 is fine in eval
  EXPECT_THROW(batch_norm_forward({a.x.view}, {.virtual_batch_size = 4}), Error);
  try {
    batch_norm_forward({a.x.view}, {.virtual_batch_size = 4});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("virtual_batch_size: expected a divisor of the batch size N = 6"),
              std::string::npos) << e.what();
  }
  // One value per channel in a ghost batch is the training error.
  Tensor x({4, 3});
  EXPECT_THROW(batch_norm_forward({x}, {.virtual_batch_size = 1}), Error);
}

TEST_P(BatchRenorm, FastMatchesReferenceClippedAndNot) {
  for (BatchRenormLimits limits : {BatchRenormLimits{1.0, 0.0}, BatchRenormLimits{1.5, 0.5},
                                   BatchRenormLimits{3.0, 5.0}})
    for (TestLayout layout : {TestLayout::contiguous, TestLayout::channels_last}) {
      BatchNormCase c{.shape = {6, 4, 3, 5}, .layout = layout, .mean = 1.0f, .stddev = 2.5f};
      expect_fast_matches_reference(c, {.renorm = limits});
    }
}

TEST_P(BatchRenorm, NoRoomToMoveIsPlainBatchNorm) {
  BatchNormCase c{.shape = {5, 3, 4, 2}};
  BatchNormRun a(c), b(c);
  Tensor r({3}), d({3});
  batch_norm_forward(a.inputs(), {.renorm = BatchRenormLimits{1.0, 0.0}},
                     {a.y.view, a.save_mean, a.save_invstd, r, d});
  batch_norm_forward(b.inputs(), {}, b.outputs());
  EXPECT_TRUE(same_bits(values(a.y.view), values(b.y.view)));
  EXPECT_EQ(values(r), std::vector<float>(3, 1.0f));
  EXPECT_EQ(values(d), std::vector<float>(3, 0.0f));
}

TEST_P(BatchRenorm, ErrorsAreClear) {
  BatchNormCase c{.shape = {4, 3, 5}};
  BatchNormRun run(c);
  EXPECT_THROW(batch_norm_forward({run.x.view}, {.renorm = BatchRenormLimits{}}), Error);  // no running stats
  EXPECT_THROW(batch_norm_forward(run.inputs(), {.renorm = BatchRenormLimits{0.5, 1.0}}), Error);
  EXPECT_THROW(batch_norm_forward(run.inputs(), {.renorm = BatchRenormLimits{2.0, -1.0}}), Error);
  EXPECT_THROW(batch_norm_forward(run.inputs(), {.virtual_batch_size = 2, .renorm = BatchRenormLimits{}}),
               Error);
  // Outputs r and d are required when training with renorm.
  EXPECT_THROW(batch_norm_forward(run.inputs(), {.renorm = BatchRenormLimits{}}, run.outputs()), Error);
}

// With r and d clipped, they are locally constant, so the reference's
// gradient (r, d constants) must equal the derivative of the whole function.
TEST_P(BatchRenorm, ReferenceGradientsMatchFiniteDifferencesWhenClipped) {
  const ref::BatchNormProblem p{4, 2, 3};
  const std::size_t n = 24;
  ref::BatchNormForwardArgs args{.problem = p,
                                 .x = normal_values<double>(n, 1, 3.0, 2.0),
                                 .weight = {1.5, 0.7},
                                 .bias = {0.1, -0.2},
                                 .running_mean = {-1.0, 8.0},
                                 .running_var = {0.2, 30.0},
                                 .renorm = true,
                                 .rmax = 1.5,
                                 .dmax = 0.5};
  const std::vector<double> probe = normal_values<double>(n, 2);
  auto loss = [&](ref::BatchNormForwardArgs a) { return probe_loss(probe, ref::batch_norm_forward(a).y); };
  ref::BatchNormForwardArgs copy = args;
  const ref::BatchNormForwardResult fwd = ref::batch_norm_forward(copy);
  // Both channels clip: r at rmax or 1/rmax, d at +-dmax.
  for (int c = 0; c < 2; ++c) {
    EXPECT_TRUE(fwd.renorm_r[c] == 1.5 || fwd.renorm_r[c] == 1 / 1.5);
    EXPECT_EQ(std::fabs(fwd.renorm_d[c]), 0.5);
  }
  const ref::BatchNormBackwardResult g = ref::batch_norm_backward({.problem = p,
                                                                   .dy = probe,
                                                                   .x = args.x,
                                                                   .weight = args.weight,
                                                                   .save_mean = fwd.save_mean,
                                                                   .save_invstd = fwd.save_invstd,
                                                                   .renorm_r = fwd.renorm_r,
                                                                   .renorm_d = fwd.renorm_d});
  ref::BatchNormForwardArgs probe_args = args;
  auto loss_at_probe_args = [&] { return loss(probe_args); };
  for (std::size_t i = 0; i < n; ++i)
    EXPECT_NEAR(g.dx[i], central_difference(probe_args.x, i, loss_at_probe_args), 1e-6) << "dx[" << i << "]";
  for (std::size_t c = 0; c < 2; ++c)
    EXPECT_NEAR(g.dweight[c], central_difference(probe_args.weight, c, loss_at_probe_args), 1e-6) << "dweight[" << c << "]";
}

TEST_P(GhostBatchNorm, ReferenceGradientsMatchFiniteDifferences) {
  const ref::BatchNormProblem p{6, 2, 2};
  const std::size_t n = 24;
  const ref::BatchNormForwardArgs args{.problem = p,
                                       .x = normal_values<double>(n, 3, 1.0, 2.0),
                                       .weight = {1.5, 0.7},
                                       .bias = {0.1, -0.2},
                                       .virtual_batch_size = 3};
  const std::vector<double> probe = normal_values<double>(n, 4);
  auto loss = [&](ref::BatchNormForwardArgs a) { return probe_loss(probe, ref::batch_norm_forward(a).y); };
  ref::BatchNormForwardArgs copy = args;
  const ref::BatchNormForwardResult fwd = ref::batch_norm_forward(copy);
  const ref::BatchNormBackwardResult g = ref::batch_norm_backward({.problem = p,
                                                                   .dy = probe,
                                                                   .x = args.x,
                                                                   .weight = args.weight,
                                                                   .save_mean = fwd.save_mean,
                                                                   .save_invstd = fwd.save_invstd,
                                                                   .virtual_batch_size = 3});
  ref::BatchNormForwardArgs probe_args = args;
  auto loss_at_probe_args = [&] { return loss(probe_args); };
  for (std::size_t i = 0; i < n; ++i)
    EXPECT_NEAR(g.dx[i], central_difference(probe_args.x, i, loss_at_probe_args), 1e-6) << "dx[" << i << "]";
}

}  // namespace
}  // namespace normkit::test
