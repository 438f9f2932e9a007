// The family's modules: AdaIN, folding BN into the previous layer, Frozen BN,
// recalibration, the Batch Renorm schedule, Ghost BN, DyT, state dicts.
#include "module_util.hpp"

namespace normkit::test {
namespace {

TEST(AdaINModule, OutputHasTheStyleStatistics) {
  const TestTensor c = random_tensor({2, 3, 32, 32}, TestLayout::contiguous, 5, 4.0f, 3.0f);
  const TestTensor s = random_tensor({2, 3, 16, 16}, TestLayout::contiguous, 6, -2.0f, 0.5f);
  nn::AdaIN adain;
  const Tensor y = adain.forward(c.view, s.view);
  const InstanceNormForwardResult y_stats = instance_norm_forward({y});
  const InstanceNormForwardResult s_stats = instance_norm_forward({s.view});
  EXPECT_TRUE(all_close(values(y_stats.mean), values(s_stats.mean), 1e-4));
  EXPECT_TRUE(all_close(values(y_stats.rstd), values(s_stats.rstd), 1e-4));
  const auto [dc, ds] = adain.backward(Tensor::full({2, 3, 32, 32}, 1.0f));
  EXPECT_EQ(ds.shape(), (Shape{2, 3, 16, 16}));
  EXPECT_THROW(adain_forward(c.view, Tensor({2, 4, 3, 3})), Error);
}

// ---- folding -----------------------------------------------------------------

// Naive layers in double: the oracle for folding.
std::vector<double> linear(const std::vector<float>& x, std::int64_t N, std::int64_t in, const Tensor& w,
                           const Tensor& b) {
  const std::int64_t out = w.shape()[0];
  std::vector<double> y(N * out);
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t o = 0; o < out; ++o) {
      double acc = b.defined() ? b.data<float>()[o] : 0.0;
      for (std::int64_t i = 0; i < in; ++i) acc += x[n * in + i] * w.data<float>()[o * in + i];
      y[n * out + o] = acc;
    }
  return y;
}

// conv2d, stride 1, no padding; weight (out, in/groups, kh, kw).
std::vector<double> conv2d(const std::vector<float>& x, const Shape& xs, const Tensor& w, const Tensor& b,
                           std::int64_t groups, Shape& ys) {
  const std::int64_t N = xs[0], Cin = xs[1], H = xs[2], W = xs[3];
  const std::int64_t Cout = w.shape()[0], Cig = w.shape()[1], kh = w.shape()[2], kw = w.shape()[3];
  const std::int64_t Ho = H - kh + 1, Wo = W - kw + 1, Cog = Cout / groups;
  ys = {N, Cout, Ho, Wo};
  std::vector<double> y(N * Cout * Ho * Wo);
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t o = 0; o < Cout; ++o)
      for (std::int64_t i = 0; i < Ho; ++i)
        for (std::int64_t j = 0; j < Wo; ++j) {
          double acc = b.defined() ? b.data<float>()[o] : 0.0;
          for (std::int64_t ci = 0; ci < Cig; ++ci)
            for (std::int64_t a = 0; a < kh; ++a)
              for (std::int64_t e = 0; e < kw; ++e)
                acc += x[((n * Cin + (o / Cog) * Cig + ci) * H + i + a) * W + j + e] *
                       w.data<float>()[((o * Cig + ci) * kh + a) * kw + e];
          y[((n * Cout + o) * Ho + i) * Wo + j] = acc;
        }
  return y;
}

// conv_transpose2d, stride 1, no padding; weight (in, out/groups, kh, kw).
std::vector<double> conv_transpose2d(const std::vector<float>& x, const Shape& xs, const Tensor& w,
                                     const Tensor& b, std::int64_t groups, Shape& ys) {
  const std::int64_t N = xs[0], Cin = xs[1], H = xs[2], W = xs[3];
  const std::int64_t Cog = w.shape()[1], kh = w.shape()[2], kw = w.shape()[3], Cout = Cog * groups;
  const std::int64_t Cig = Cin / groups, Ho = H + kh - 1, Wo = W + kw - 1;
  ys = {N, Cout, Ho, Wo};
  std::vector<double> y(N * Cout * Ho * Wo, 0.0);
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t o = 0; o < Cout; ++o)
      for (std::int64_t i = 0; i < Ho * Wo; ++i) y[(n * Cout + o) * Ho * Wo + i] = b.defined() ? b.data<float>()[o] : 0.0;
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t ci = 0; ci < Cin; ++ci)
      for (std::int64_t j = 0; j < Cog; ++j) {
        const std::int64_t o = (ci / Cig) * Cog + j;
        for (std::int64_t h = 0; h < H; ++h)
          for (std::int64_t v = 0; v < W; ++v)
            for (std::int64_t a = 0; a < kh; ++a)
              for (std::int64_t e = 0; e < kw; ++e)
                y[((n * Cout + o) * Ho + h + a) * Wo + v + e] +=
                    x[((n * Cin + ci) * H + h) * W + v] * w.data<float>()[((ci * Cog + j) * kh + a) * kw + e];
      }
  return y;
}

Tensor to_tensor(const std::vector<double>& v, const Shape& shape) {
  Tensor t(shape);
  for (std::size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = static_cast<float>(v[i]);
  return t;
}

// A BatchNorm2d/1d with trained-looking statistics and affine parameters.
void randomize(nn::BatchNorm& bn, std::uint64_t seed) {
  const std::int64_t C = bn.num_features();
  const std::vector<float> rm = normal_values(C, seed, 0.5f, 1.0f), rv = normal_values(C, seed + 1, 2.0f, 0.5f),
                           w = normal_values(C, seed + 2, 1.0f, 0.3f), b = normal_values(C, seed + 3, 0.0f, 0.5f);
  for (std::int64_t c = 0; c < C; ++c) {
    bn.running_mean.data<float>()[c] = rm[c];
    bn.running_var.data<float>()[c] = std::fabs(rv[c]) + 0.1f;
    bn.weight.value.data<float>()[c] = w[c];
    bn.bias.value.data<float>()[c] = b[c];
  }
  bn.eval();
}

TEST(Fold, LinearConvGroupedConvAndConvTransposeEqualTheUnfoldedPair) {
  // Linear (out 6, in 5)
  {
    nn::BatchNorm1d bn(6);
    randomize(bn, 1);
    const Tensor w = to_tensor(normal_values<double>(30, 2), {6, 5}), b = to_tensor(normal_values<double>(6, 3), {6});
    const std::vector<float> x = normal_values(4 * 5, 4);
    const Tensor unfolded = bn.forward(to_tensor(linear(x, 4, 5, w, b), {4, 6}));
    const nn::FoldedLayer f = nn::fold_batch_norm(w, b, bn, nn::FoldInto::linear);
    EXPECT_TRUE(all_close(std::vector<float>(values(unfolded)), [&] {
      const std::vector<double> y = linear(x, 4, 5, f.weight, f.bias);
      return std::vector<float>(y.begin(), y.end());
    }()));
  }
  // Conv2d with groups 1 and 2, and without bias; ConvTranspose2d with groups 1 and 3.
  for (const auto& [layer, groups, with_bias] :
       {std::tuple{nn::FoldInto::conv, 1, true}, std::tuple{nn::FoldInto::conv, 2, false},
        std::tuple{nn::FoldInto::conv_transpose, 1, true}, std::tuple{nn::FoldInto::conv_transpose, 3, true}}) {
    SCOPED_TRACE(std::string(layer == nn::FoldInto::conv ? "conv" : "conv_transpose") + " groups " +
                 std::to_string(groups));
    const std::int64_t Cin = 6, Cout = 6;
    const Shape w_shape = layer == nn::FoldInto::conv ? Shape{Cout, Cin / groups, 3, 2}
                                                      : Shape{Cin, Cout / groups, 3, 2};
    const Tensor w = to_tensor(normal_values<double>(shape_numel(w_shape), 5), w_shape);
    const Tensor b = with_bias ? to_tensor(normal_values<double>(Cout, 6), {Cout}) : Tensor();
    const Shape xs{2, Cin, 5, 4};
    const std::vector<float> x = normal_values(shape_numel(xs), 7);
    nn::BatchNorm2d bn(Cout);
    randomize(bn, 8);
    auto run = [&](const Tensor& weight, const Tensor& bias) {
      Shape ys;
      const std::vector<double> y = layer == nn::FoldInto::conv ? conv2d(x, xs, weight, bias, groups, ys)
                                                                : conv_transpose2d(x, xs, weight, bias, groups, ys);
      return to_tensor(y, ys);
    };
    const Tensor unfolded = bn.forward(run(w, b));
    const nn::FoldedLayer f = nn::fold_batch_norm(w, b, bn, layer, groups);
    EXPECT_TRUE(all_close(values(run(f.weight, f.bias)), values(unfolded), 1e-5));
  }
}

TEST(Fold, ErrorsNameTheArgument) {
  nn::BatchNorm2d bn(4);
  EXPECT_THROW(nn::fold_batch_norm(Tensor({5, 3, 3, 3}), {}, bn, nn::FoldInto::conv), Error);  // 5 != 4
  EXPECT_THROW(nn::fold_batch_norm(Tensor({4, 3}), {}, bn, nn::FoldInto::conv), Error);         // rank
  EXPECT_THROW(nn::fold_batch_norm(Tensor({3, 2, 3, 3}), {}, bn, nn::FoldInto::conv_transpose, 2), Error);
  EXPECT_THROW(nn::fold_batch_norm(Tensor({4, 3, 3, 3}), Tensor({3}), bn, nn::FoldInto::conv), Error);
  EXPECT_NO_THROW(nn::fold_batch_norm(Tensor::full({4, 2, 3, 3}, 1.0f), {}, bn, nn::FoldInto::conv_transpose, 2));
  nn::BatchNorm2d untracked(4, {.track_running_stats = false});
  EXPECT_THROW(nn::fold_batch_norm(Tensor({4, 3, 3, 3}), {}, untracked, nn::FoldInto::conv), Error);
}

// ---- Frozen BN, recalibration, Batch Renorm schedule ---------------------------

TEST(FrozenBatchNorm, EqualsEvalBatchNormAndHasNoParameters) {
  nn::BatchNorm2d bn(3);
  randomize(bn, 20);
  const std::unique_ptr<nn::FrozenBatchNorm2d> frozen = nn::FrozenBatchNorm2d::from(bn);
  const TestTensor x = random_tensor({2, 3, 4, 4}, TestLayout::channels_last, 21);
  frozen->train();  // the mode does not matter
  EXPECT_TRUE(all_close(values(frozen->forward(x.view)), values(bn.forward(x.view))));
  EXPECT_TRUE(frozen->parameters().empty());
  std::vector<std::string> keys;
  for (const auto& [k, _] : frozen->state_dict()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"weight", "bias", "running_mean", "running_var"}));
  const Tensor dy = Tensor::full({2, 3, 4, 4}, 1.0f);
  const BatchNormBackwardResult eval_grad = batch_norm_backward(
      {dy, x.view, bn.weight.value, bn.running_mean, bn.running_var}, {.training = false});
  EXPECT_TRUE(all_close(values(frozen->backward(dy)), values(eval_grad.dx)));
}

TEST(Recalibration, GivesTheCumulativeAverageOfTheBatchStatistics) {
  nn::BatchNorm2d bn(2, {.momentum = 0.3});
  randomize(bn, 30);
  bn.eval();
  std::vector<TestTensor> batches;
  for (int i = 0; i < 5; ++i) batches.push_back(random_tensor({4, 2, 3, 3}, TestLayout::contiguous, 40 + i, i, 1.0f + i));
  nn::recalibrate_running_stats({&bn}, [&] {
    for (const TestTensor& b : batches) bn.forward(b.view);
  });
  EXPECT_FALSE(bn.is_training());                  // mode restored
  EXPECT_EQ(bn.options().momentum, std::optional<double>(0.3));  // momentum restored
  EXPECT_EQ(*bn.num_batches_tracked.data<std::int64_t>(), 5);
  for (int c = 0; c < 2; ++c) {
    double mean = 0, var = 0;
    for (const TestTensor& b : batches) {
      const ChannelMoments m = exact_channel_moments(values(b.view), 4, 2, 9, 1);
      mean += m.mean[c] / 5;
      var += m.var[c] / 5;
    }
    EXPECT_NEAR(bn.running_mean.data<float>()[c], mean, 1e-5 * (1 + std::fabs(mean)));
    EXPECT_NEAR(bn.running_var.data<float>()[c], var, 1e-5 * var);
  }
}

TEST(BatchRenorm, ScheduleFollowsIoffe2017) {
  const nn::BatchRenormSchedule s;  // rmax 1 -> 3 over steps 5k..40k, dmax 0 -> 5 over 5k..25k
  EXPECT_EQ(s.at(0).rmax, 1.0);
  EXPECT_EQ(s.at(4999).dmax, 0.0);
  EXPECT_DOUBLE_EQ(s.at(22500).rmax, 2.0);
  EXPECT_DOUBLE_EQ(s.at(15000).dmax, 2.5);
  EXPECT_EQ(s.at(100000).rmax, 3.0);
  EXPECT_EQ(s.at(25000).dmax, 5.0);
  const nn::BatchRenormSchedule constant{2.0, 1.0, 0, 0, 0};
  EXPECT_EQ(constant.at(0).rmax, 2.0);
  EXPECT_EQ(constant.at(0).dmax, 1.0);
}

TEST(BatchRenorm, ModuleInWarmUpIsBatchNormAndLaterMovesTowardsRunningStats) {
  nn::BatchNorm2d renorm(3, {.renorm = nn::BatchRenormSchedule{3.0, 5.0, 2, 4, 4}});
  nn::BatchNorm2d plain(3);
  const TestTensor x = random_tensor({4, 3, 3, 3}, TestLayout::contiguous, 50, 5.0f, 2.0f);
  // Steps 0 and 1 are warm-up: r = 1, d = 0.
  for (int step = 0; step < 2; ++step)
    EXPECT_TRUE(same_bits(values(renorm.forward(x.view)), values(plain.forward(x.view))));
  for (int step = 2; step < 6; ++step) renorm.forward(x.view);
  // Later the output is pulled towards the running statistics: no longer plain BN.
  nn::BatchNorm2d plain_again(3);
  EXPECT_FALSE(same_bits(values(renorm.forward(x.view)), values(plain_again.forward(x.view))));
  const Tensor dx = renorm.backward(Tensor::full({4, 3, 3, 3}, 1.0f));
  EXPECT_EQ(dx.numel(), 108);
  EXPECT_THROW(nn::BatchNorm2d(3, {.track_running_stats = false, .renorm = nn::BatchRenormSchedule{}}), Error);
}

TEST(GhostBatchNorm, ModuleTrainsOnGhostBatchesAndEvaluatesAsBatchNorm) {
  nn::BatchNorm2d ghost(3, {.virtual_batch_size = 2});
  const TestTensor x = random_tensor({6, 3, 2, 2}, TestLayout::contiguous, 60, 1.0f, 2.0f);
  const Tensor y = ghost.forward(x.view);
  const Tensor dx = ghost.backward(Tensor::full({6, 3, 2, 2}, 1.0f));
  EXPECT_EQ(dx.numel(), 72);
  EXPECT_THROW(ghost.forward(random_tensor({5, 3, 2, 2}, TestLayout::contiguous, 61).view), Error);
  ghost.eval();
  EXPECT_NO_THROW(ghost.forward(random_tensor({5, 3, 2, 2}, TestLayout::contiguous, 61).view));
  EXPECT_EQ(*ghost.num_batches_tracked.data<std::int64_t>(), 1);  // the failed call left no trace
}

// ---- the other modules ------------------------------------------------------------

TEST(FamilyModules, StateDictKeysAndGradientAccumulation) {
  nn::LayerNorm ln({4});
  nn::RMSNorm rms({4});
  nn::GroupNorm gn(2, 4);
  nn::InstanceNorm2d in(4, {.affine = true, .track_running_stats = true});
  auto keys = [](const nn::Module& m) {
    std::vector<std::string> k;
    for (const auto& [name, _] : m.state_dict()) k.push_back(name);
    return k;
  };
  EXPECT_EQ(keys(ln), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(keys(nn::LayerNorm({4}, {.bias = false})), (std::vector<std::string>{"weight"}));
  EXPECT_EQ(keys(rms), (std::vector<std::string>{"weight"}));
  EXPECT_EQ(keys(gn), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(keys(in), (std::vector<std::string>{"weight", "bias", "running_mean", "running_var",
                                                "num_batches_tracked"}));
  EXPECT_TRUE(keys(nn::InstanceNorm1d(4)).empty());

  const TestTensor x = random_tensor({2, 4, 3, 4}, TestLayout::contiguous, 70, 1.0f, 2.0f);
  const Tensor dy = Tensor::full({2, 4, 3, 4}, 0.5f);
  ln.forward(x.view);
  ln.backward(dy);
  const std::vector<float> g1 = values(ln.bias.grad);
  ln.backward(dy);
  for (std::size_t i = 0; i < g1.size(); ++i) EXPECT_FLOAT_EQ(ln.bias.grad.data<float>()[i], 2 * g1[i]);
  gn.forward(x.view);
  EXPECT_EQ(gn.backward(dy).numel(), 96);
  rms.forward(x.view);
  EXPECT_EQ(rms.backward(dy).numel(), 96);
}

// The fused add + norm modules are their functional ops, with the weight
// gradient accumulated and the norm's state dict keys.
TEST(FamilyModules, AddNormModulesAreTheirFunctionalOps) {
  nn::AddRMSNorm rms({6}, {.weight_offset = 1.0});
  nn::AddLayerNorm ln({6});
  const TestTensor x = random_tensor({3, 6}, TestLayout::contiguous, 71, 0.5f, 1.0f);
  const TestTensor r = random_tensor({3, 6}, TestLayout::contiguous, 72, 0.0f, 1.0f);
  const Tensor dy = Tensor::full({3, 6}, 0.25f), dres = Tensor::full({3, 6}, -1.0f);
  const auto [y, sum] = rms.forward(x.view, r.view);
  const AddRMSNormForwardResult f = add_rms_norm_forward({x.view, r.view, {6}, rms.weight.value}, {.weight_offset = 1.0});
  EXPECT_TRUE(same_bits(values(y), values(f.y)));
  EXPECT_TRUE(same_bits(values(sum), values(f.residual_out)));
  const Tensor dsum = rms.backward(dy, dres);
  const AddNormBackwardResult g =
      add_rms_norm_backward({dy, dres, f.residual_out, {6}, {}, f.rstd, rms.weight.value}, {.weight_offset = 1.0});
  EXPECT_TRUE(same_bits(values(dsum), values(g.dsum)));
  EXPECT_TRUE(same_bits(values(rms.weight.grad), values(g.dweight)));
  ln.forward(x.view, r.view);
  ln.backward(dy);
  EXPECT_EQ(ln.bias.grad.data<float>()[0], 0.25f * 3) << "dbias: the column sum of dy";
  EXPECT_EQ(ln.state_dict().size(), 2u);
  EXPECT_NE(error_of([&] { nn::AddLayerNorm({6}).backward(dy); }).find("call forward first"), std::string::npos);
}

TEST(FamilyModules, InstanceNormUsesRunningStatsOnlyInEvalWhenTracked) {
  nn::InstanceNorm2d in(3, {.track_running_stats = true});
  const TestTensor x = random_tensor({4, 3, 5, 5}, TestLayout::contiguous, 80, 2.0f, 3.0f);
  const std::vector<float> y_train = values(in.forward(x.view));
  EXPECT_NE(values(in.running_mean)[0], 0.0f);  // updated
  EXPECT_EQ(*in.num_batches_tracked.data<std::int64_t>(), 0);  // as PyTorch: not counted
  in.eval();
  const std::vector<float> y_eval = values(in.forward(x.view));
  EXPECT_FALSE(same_bits(y_train, y_eval));
  const Tensor dx = in.backward(Tensor::full({4, 3, 5, 5}, 1.0f));
  // Eval backward with running stats: dx = dy * rstd_running (no affine).
  EXPECT_NEAR(dx.data<float>()[0], 1.0 / std::sqrt(values(in.running_var)[0] + 1e-5), 1e-6);
  nn::InstanceNorm2d untracked(3);
  untracked.eval();
  EXPECT_TRUE(same_bits(values(untracked.forward(x.view)), y_train));
  EXPECT_THROW(untracked.forward(Tensor({4, 3, 5})), Error);
}

// The module: the functional op on its parameters (alpha 0.5, weight ones,
// bias zeros, the paper's keys), its gradients accumulated over calls.
TEST(DyTModule, IsTheFunctionalOpOnItsParameters) {
  nn::DyT m(16);
  const auto state = m.state_dict();
  ASSERT_EQ(state.size(), 3u);
  EXPECT_EQ(state[0].first, "alpha");
  EXPECT_EQ(state[1].first, "weight");
  EXPECT_EQ(state[2].first, "bias");
  EXPECT_EQ(m.alpha.value.data<float>()[0], 0.5f);
  m.weight.value.data<float>()[3] = 2.0f;
  m.bias.value.data<float>()[5] = -1.0f;
  const Tensor x = random_tensor({5, 16}, TestLayout::contiguous, 41, 0.0f, 2.0f).storage, dy = random_tensor({5, 16}, TestLayout::contiguous, 42, 0.0f, 1.0f).storage;
  const Tensor y = m.forward(x);
  EXPECT_TRUE(same_bits(values(y), values(dyt_forward({x, m.alpha.value, m.weight.value, m.bias.value}))));
  const Tensor dx = m.backward(dy);
  m.backward(dy);
  const DyTBackwardResult g = dyt_backward({dy, x, m.alpha.value, m.weight.value});
  EXPECT_TRUE(same_bits(values(dx), values(g.dx)));
  EXPECT_FLOAT_EQ(m.alpha.grad.data<float>()[0], 2 * g.dalpha.data<float>()[0]);
  EXPECT_FLOAT_EQ(m.weight.grad.data<float>()[3], 2 * g.dweight.data<float>()[3]);
  EXPECT_FLOAT_EQ(m.bias.grad.data<float>()[5], 2 * g.dbias.data<float>()[5]);
  EXPECT_EQ(error_of([&] { m.forward(Tensor({5, 15})); }), "DyT: expected input with last dimension 16, got shape (5, 15)");
  EXPECT_EQ(error_of([] { nn::DyT(0); }), "DyT: normalized_features: expected a size > 0, got 0");
  nn::DyT plain(4, {.alpha_init_value = 1.0, .elementwise_affine = false});
  EXPECT_EQ(plain.state_dict().size(), 1u);
}

}  // namespace
}  // namespace normkit::test
