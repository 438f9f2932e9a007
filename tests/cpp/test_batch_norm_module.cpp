// The BatchNorm modules: running statistics as PyTorch (momentum and the
// cumulative average), train against eval, state dicts, gradients, fusing.
#include "batch_norm_case.hpp"
#include "module_util.hpp"

namespace normkit::test {
namespace {

Tensor batch(const Shape& shape, std::uint64_t seed, float mean = 2.0f, float stddev = 3.0f) {
  Tensor x(shape);
  const std::vector<float> v = normal_values(static_cast<std::size_t>(shape_numel(shape)), seed, mean, stddev);
  std::copy(v.begin(), v.end(), x.data<float>());
  return x;
}

// Per-channel batch mean and unbiased variance of an (N, C, S) batch.
ChannelMoments batch_stats(const Tensor& x) {
  const std::int64_t N = x.shape()[0], C = x.shape()[1];
  return exact_channel_moments(values(x), N, C, x.numel() / (N * C), 1);
}

TEST(BatchNormModule, CumulativeAverageWhenMomentumIsNone) {
  nn::BatchNorm2d bn(3, {.momentum = std::nullopt});
  std::vector<double> sum_mean(3, 0), sum_var(3, 0);
  for (int step = 1; step <= 6; ++step) {
    Tensor x = batch({4, 3, 5, 5}, step, static_cast<float>(step), 1.0f + step);
    bn.forward(x);
    const ChannelMoments stats = batch_stats(x);
    for (int c = 0; c < 3; ++c) {
      sum_mean[c] += stats.mean[c];
      sum_var[c] += stats.var[c];
    }
    EXPECT_EQ(*bn.num_batches_tracked.data<std::int64_t>(), step);
    for (int c = 0; c < 3; ++c) {
      // The first step replaces the initial (0, 1) entirely: factor 1/1.
      EXPECT_NEAR(bn.running_mean.data<float>()[c], sum_mean[c] / step, 1e-5 * step);
      EXPECT_NEAR(bn.running_var.data<float>()[c], sum_var[c] / step, 1e-5 * sum_var[c]);
    }
  }
}

TEST(BatchNormModule, MomentumUpdateAndEvalUsesRunningStats) {
  nn::BatchNorm1d bn(4);
  std::vector<double> rm(4, 0.0), rv(4, 1.0);
  for (int step = 0; step < 4; ++step) {
    Tensor x = batch({16, 4}, 10 + step);
    bn.forward(x);
    const ChannelMoments stats = batch_stats(x);
    for (int c = 0; c < 4; ++c) {
      rm[c] = 0.9 * rm[c] + 0.1 * stats.mean[c];
      rv[c] = 0.9 * rv[c] + 0.1 * stats.var[c];
    }
  }
  for (int c = 0; c < 4; ++c) {
    EXPECT_NEAR(bn.running_mean.data<float>()[c], rm[c], 1e-5);
    EXPECT_NEAR(bn.running_var.data<float>()[c], rv[c], 1e-5 * rv[c]);
  }
  bn.eval();
  const std::vector<float> rm_before = values(bn.running_mean);
  Tensor one = batch({1, 4}, 99);
  Tensor y = bn.forward(one);  // one sample is fine in eval mode
  for (int c = 0; c < 4; ++c)
    EXPECT_NEAR(y.data<float>()[c], (one.data<float>()[c] - rm[c]) / std::sqrt(rv[c] + 1e-5), 1e-5);
  EXPECT_TRUE(same_bits(values(bn.running_mean), rm_before));
  EXPECT_EQ(*bn.num_batches_tracked.data<std::int64_t>(), 4);
}

TEST(BatchNormModule, TrainAndEvalDifferOnSmallBatches) {
  nn::BatchNorm2d bn(2);
  for (int step = 0; step < 50; ++step) bn.forward(batch({8, 2, 4, 4}, step));
  Tensor x = batch({2, 2, 4, 4}, 1000);
  bn.eval();
  const std::vector<float> y_eval = values(bn.forward(x));
  bn.train();
  const std::vector<float> y_train = values(bn.forward(x));
  double max_diff = 0;
  for (std::size_t i = 0; i < y_eval.size(); ++i)
    max_diff = std::max<double>(max_diff, std::fabs(y_eval[i] - y_train[i]));
  EXPECT_GT(max_diff, 1e-3);
}

TEST(BatchNormModule, WithoutRunningStatsEvalUsesBatchStats) {
  nn::BatchNorm2d bn(3, {.track_running_stats = false});
  EXPECT_FALSE(bn.running_mean.defined());
  Tensor x = batch({4, 3, 2, 2}, 5);
  const std::vector<float> y_train = values(bn.forward(x));
  bn.eval();
  EXPECT_TRUE(same_bits(values(bn.forward(x)), y_train));
  EXPECT_EQ(bn.state_dict().size(), 2u);
}

TEST(BatchNormModule, EmptyBatchCountsButKeepsStats) {
  nn::BatchNorm1d bn(3);
  Tensor empty({0, 3});
  EXPECT_EQ(bn.forward(empty).numel(), 0);
  EXPECT_EQ(*bn.num_batches_tracked.data<std::int64_t>(), 1);  // as PyTorch
  EXPECT_EQ(values(bn.running_mean), std::vector<float>(3, 0.0f));
  EXPECT_EQ(values(bn.running_var), std::vector<float>(3, 1.0f));
}

TEST(BatchNormModule, StateDictKeysOrderAndRoundTrip) {
  nn::BatchNorm2d a(3), b(3);
  for (int step = 0; step < 3; ++step) a.forward(batch({4, 3, 2, 2}, step));
  a.weight.value.data<float>()[1] = 1.5f;
  const nn::StateDict state = a.state_dict();
  std::vector<std::string> keys;
  for (const auto& [k, _] : state) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"weight", "bias", "running_mean", "running_var",
                                            "num_batches_tracked"}));
  b.load_state_dict(state);
  EXPECT_TRUE(same_bits(values(b.running_var), values(a.running_var)));
  EXPECT_EQ(b.weight.value.data<float>()[1], 1.5f);
  EXPECT_EQ(*b.num_batches_tracked.data<std::int64_t>(), 3);
  a.eval();
  b.eval();
  Tensor x = batch({2, 3, 2, 2}, 77);
  EXPECT_TRUE(same_bits(values(a.forward(x)), values(b.forward(x))));
  EXPECT_EQ(nn::BatchNorm2d(3, {.affine = false}).state_dict().size(), 3u);
}

TEST(BatchNormModule, LoadStateDictIsStrictAndAtomic) {
  nn::BatchNorm2d bn(3);
  const std::vector<float> before = values(bn.running_mean);
  nn::StateDict state = bn.state_dict();
  state[2].second.data<float>()[0] = 42.0f;  // running_mean
  nn::StateDict missing(state.begin(), state.end() - 1);
  EXPECT_THROW(bn.load_state_dict(missing), Error);
  nn::StateDict extra = state;
  extra.emplace_back("momentum", Tensor({1}));
  EXPECT_THROW(bn.load_state_dict(extra), Error);
  nn::StateDict wrong = state;
  wrong[3].second = Tensor({4});
  try {
    bn.load_state_dict(wrong);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("running_var"), std::string::npos);
  }
  EXPECT_TRUE(same_bits(values(bn.running_mean), before));  // nothing written
}

TEST(BatchNormModule, BackwardAccumulatesParameterGradients) {
  nn::BatchNorm2d bn(3);
  Tensor x = batch({4, 3, 3, 3}, 8), dy = batch({4, 3, 3, 3}, 9, 0.0f, 1.0f);
  bn.forward(x);
  const std::vector<float> dx1 = values(bn.backward(dy));
  const std::vector<float> g1 = values(bn.weight.grad), b1 = values(bn.bias.grad);
  bn.backward(dy);
  for (int c = 0; c < 3; ++c) {
    EXPECT_FLOAT_EQ(bn.weight.grad.data<float>()[c], 2 * g1[c]);
    EXPECT_FLOAT_EQ(bn.bias.grad.data<float>()[c], 2 * b1[c]);
  }
  bn.zero_grad();
  EXPECT_EQ(values(bn.weight.grad), std::vector<float>(3, 0.0f));
  // The module's dx is the functional reference's.
  BatchNormForwardResult f = batch_norm_forward({x}, {.impl = Impl::reference});
  BatchNormBackwardResult g = batch_norm_backward({dy, x, {}, {}, {}, f.save_mean, f.save_invstd},
                                                  {.impl = Impl::reference});
  EXPECT_TRUE(all_close(dx1, values(g.dx)));
}

TEST(BatchNormModule, FusedScaleShiftEqualsEvalForward) {
  nn::BatchNorm2d bn(4);
  for (int step = 0; step < 5; ++step) bn.forward(batch({4, 4, 3, 3}, step));
  for (int c = 0; c < 4; ++c) {
    bn.weight.value.data<float>()[c] = 0.5f + c;
    bn.bias.value.data<float>()[c] = -1.0f + c;
  }
  bn.eval();
  Tensor x = batch({2, 4, 3, 3}, 50);
  const nn::FusedScaleShift fused = bn.fused_scale_shift();
  Tensor y(x.shape());
  channel_scale_shift(x, fused.scale, fused.shift, y);
  EXPECT_TRUE(all_close(values(y), values(bn.forward(x))));
  EXPECT_THROW(nn::BatchNorm2d(4, {.track_running_stats = false}).fused_scale_shift(), Error);
}

TEST(BatchNormModule, InputRankAndChannelsAreChecked) {
  nn::BatchNorm2d bn2(3);
  try {
    bn2.forward(Tensor({4, 3, 5}));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected 4-D input (got 3-D input"), std::string::npos) << e.what();
  }
  EXPECT_EQ(*bn2.num_batches_tracked.data<std::int64_t>(), 0);  // a failed call leaves no trace
  EXPECT_THROW(bn2.forward(Tensor({4, 2, 5, 5})), Error);
  EXPECT_THROW(bn2.forward(Tensor({1, 3, 1, 1})), Error);
  EXPECT_EQ(*bn2.num_batches_tracked.data<std::int64_t>(), 0);
  nn::BatchNorm1d bn1(3);
  EXPECT_NO_THROW(bn1.forward(Tensor::full({4, 3}, 1.0f)));
  EXPECT_NO_THROW(bn1.forward(Tensor::full({4, 3, 7}, 1.0f)));
  EXPECT_THROW(bn1.forward(Tensor({4, 3, 7, 1})), Error);
  EXPECT_THROW(nn::BatchNorm3d(0), Error);
  EXPECT_THROW(nn::BatchNorm3d(2, {.eps = 0}), Error);
  EXPECT_THROW(nn::BatchNorm3d(2, {.momentum = 2.0}), Error);
  EXPECT_THROW(bn1.backward(Tensor({5, 3})), Error);
}

}  // namespace
}  // namespace normkit::test
