// BatchNorm forward: the fast path against the reference on every shape,
// layout and mode; numerics at a large mean; NaN, empty and in-place cases.
#include "batch_norm_case.hpp"

namespace normkit::test {
namespace {

class BatchNormForward : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, BatchNormForward, every_simd_path(), simd_path_param_name);

void expect_forward_matches_reference(const BatchNormCase& c) {
  SCOPED_TRACE(c.name());
  BatchNormRun fast(c), ref(c);
  batch_norm_forward(fast.inputs(), options_for(c, Impl::fast), fast.outputs());
  batch_norm_forward(ref.inputs(), options_for(c, Impl::reference), ref.outputs());
  EXPECT_TRUE(all_close(values(fast.y.view), values(ref.y.view)));
  if (c.training) {
    EXPECT_TRUE(all_close(values(fast.save_mean), values(ref.save_mean)));
    EXPECT_TRUE(all_close(values(fast.save_invstd), values(ref.save_invstd)));
  }
  if (fast.running_mean.defined()) {
    EXPECT_TRUE(all_close(values(fast.running_mean), values(ref.running_mean)));
    EXPECT_TRUE(all_close(values(fast.running_var), values(ref.running_var)));
  }
}

TEST_P(BatchNormForward, FastMatchesReferenceOnEveryShapeLayoutAndMode) {
  const TestLayout layouts[] = {TestLayout::contiguous, TestLayout::channels_last,
                                TestLayout::permuted, TestLayout::strided};
  std::uint64_t seed = 100;
  for (const Shape& shape : batch_norm_shapes())
    for (TestLayout layout : layouts)
      for (int mode = 0; mode < 3; ++mode)
        for (bool affine : {true, false}) {
          BatchNormCase c{.shape = shape, .layout = layout, .affine = affine, .seed = ++seed};
          c.training = mode != 2;               // 0: train + running, 1: train only, 2: eval
          c.track_running_stats = mode != 1;
          expect_forward_matches_reference(c);
        }
}

TEST_P(BatchNormForward, OutputMayHaveAnotherLayoutThanInput) {
  BatchNormCase c{.shape = {4, 6, 5, 3}};
  BatchNormRun fast(c), ref(c);
  fast.y = make_tensor(c.shape, TestLayout::permuted);
  batch_norm_forward(fast.inputs(), options_for(c, Impl::fast), fast.outputs());
  batch_norm_forward(ref.inputs(), options_for(c, Impl::reference), ref.outputs());
  EXPECT_TRUE(all_close(values(fast.y.view), values(ref.y.view)));
}

TEST_P(BatchNormForward, ResultFormMatchesInputMemoryFormat) {
  BatchNormCase c{.shape = {2, 3, 4, 5}, .layout = TestLayout::channels_last};
  BatchNormRun run(c);
  BatchNormForwardResult r = batch_norm_forward(run.inputs(), options_for(c, Impl::fast));
  EXPECT_TRUE(r.y.view().is_channels_last());
  EXPECT_EQ(r.save_mean.shape(), (Shape{3}));
  BatchNormForwardResult e = batch_norm_forward(run.inputs(), {.training = false});
  EXPECT_EQ(e.save_mean.shape(), (Shape{0}));  // as PyTorch: empty in eval mode
}

TEST_P(BatchNormForward, RunningStatisticsOverSeveralSteps) {
  for (bool unbiased : {true, false})
    for (double momentum : {0.1, 0.0, 1.0, 0.37}) {
      BatchNormCase c{.shape = {8, 5, 6}, .momentum = momentum};
      BatchNormRun fast(c), ref(c);
      const std::vector<float> rm0 = values(fast.running_mean), rv0 = values(fast.running_var);
      std::vector<double> expect_mean(rm0.begin(), rm0.end()), expect_var(rv0.begin(), rv0.end());
      for (int step = 0; step < 5; ++step) {
        assign(fast.x.view, normal_values(8 * 5 * 6, 40 + step, 2.0f, 3.0f));
        assign(ref.x.view, values(fast.x.view));
        BatchNormOptions o = options_for(c, Impl::fast);
        o.unbiased_running_var = unbiased;
        batch_norm_forward(fast.inputs(), o, fast.outputs());
        o.impl = Impl::reference;
        batch_norm_forward(ref.inputs(), o, ref.outputs());
        // The rule itself, in double, from the batch's own statistics.
        const ChannelMoments batch =
            exact_channel_moments(values(fast.x.view), 8, 5, 6, unbiased ? 1 : 0);
        for (int ch = 0; ch < 5; ++ch) {
          expect_mean[ch] = (1 - momentum) * expect_mean[ch] + momentum * batch.mean[ch];
          expect_var[ch] = (1 - momentum) * expect_var[ch] + momentum * batch.var[ch];
        }
      }
      EXPECT_TRUE(all_close(values(fast.running_mean), values(ref.running_mean)));
      EXPECT_TRUE(all_close(values(fast.running_var), values(ref.running_var)));
      EXPECT_TRUE(all_close(values(fast.running_mean),
                            std::vector<float>(expect_mean.begin(), expect_mean.end())));
      EXPECT_TRUE(all_close(values(fast.running_var),
                            std::vector<float>(expect_var.begin(), expect_var.end())));
    }
}

// DESIGN.md section 2, through the public API: momentum 1 with the biased
// convention stores the batch variance itself in running_var.
TEST_P(BatchNormForward, VarianceAccurateAtLargeMean) {
  for (TestLayout layout : {TestLayout::contiguous, TestLayout::channels_last}) {
    BatchNormCase c{.shape = {32, 4, 16, 16}, .layout = layout, .momentum = 1.0, .mean = 1e4f,
                    .stddev = 1.0f};
    BatchNormRun run(c);
    BatchNormOptions o = options_for(c, Impl::fast);
    o.unbiased_running_var = false;
    batch_norm_forward(run.inputs(), o, run.outputs());
    const std::vector<float> var = values(run.running_var);
    const ChannelMoments exact = exact_channel_moments(values(run.x.view), 32, 4, 256);
    for (int ch = 0; ch < 4; ++ch)
      EXPECT_LT(std::fabs(var[ch] - exact.var[ch]) / exact.var[ch], 1e-5) << layout_name(layout);
    // And the normalized output is as accurate as the reference's.
    BatchNormRun ref(c);
    batch_norm_forward(ref.inputs(), options_for(c, Impl::reference), ref.outputs());
    EXPECT_TRUE(all_close(values(run.y.view), values(ref.y.view)));
  }
}

TEST_P(BatchNormForward, NanAndInfStayInTheirChannel) {
  for (TestLayout layout : {TestLayout::contiguous, TestLayout::channels_last}) {
    for (float bad : {NAN, INFINITY}) {
      BatchNormCase c{.shape = {4, 3, 5, 5}, .layout = layout};
      BatchNormRun fast(c), ref(c);
      std::vector<float> x = values(fast.x.view);
      x[(2 * 3 + 1) * 25 + 7] = bad;  // n = 2, c = 1
      assign(fast.x.view, x);
      assign(ref.x.view, x);
      batch_norm_forward(fast.inputs(), options_for(c, Impl::fast), fast.outputs());
      batch_norm_forward(ref.inputs(), options_for(c, Impl::reference), ref.outputs());
      const std::vector<float> y = values(fast.y.view), y_ref = values(ref.y.view);
      for (int n = 0; n < 4; ++n)
        for (int ch = 0; ch < 3; ++ch)
          for (int s = 0; s < 25; ++s) {
            const std::size_t i = (n * 3 + ch) * 25 + s;
            if (ch == 1) {
              EXPECT_FALSE(std::isfinite(y[i]));
            } else {
              EXPECT_TRUE(std::isfinite(y[i]));
              EXPECT_NEAR(y[i], y_ref[i], 1e-5 * (std::fabs(y_ref[i]) + 1));
            }
          }
      EXPECT_FALSE(std::isfinite(values(fast.running_mean)[1]) &&
                   std::isfinite(values(fast.running_var)[1]));
      EXPECT_TRUE(std::isfinite(values(fast.running_mean)[0]));
    }
  }
}

TEST_P(BatchNormForward, EmptyBatchGivesEmptyOutputAndKeepsRunningStats) {
  for (Shape shape : {Shape{0, 3, 4}, Shape{2, 3, 0}, Shape{0, 3, 2, 2}, Shape{2, 3, 0, 4}})
  for (TestLayout layout : {TestLayout::contiguous, TestLayout::channels_last, TestLayout::permuted}) {
    BatchNormCase c{.shape = shape, .layout = layout};
    for (Impl impl : {Impl::fast, Impl::reference}) {
      BatchNormRun run(c);
      const std::vector<float> rm = values(run.running_mean), rv = values(run.running_var);
      batch_norm_forward(run.inputs(), options_for(c, impl), run.outputs());
      EXPECT_TRUE(same_bits(values(run.running_mean), rm));
      EXPECT_TRUE(same_bits(values(run.running_var), rv));
      EXPECT_TRUE(std::isnan(values(run.save_mean)[0]));  // no statistics
      BatchNormBackwardResult g = batch_norm_backward(
          {run.y.view, run.x.view, run.weight, {}, {}, run.save_mean, run.save_invstd},
          {.training = true, .impl = impl});
      EXPECT_EQ(g.dx.numel(), 0);
      EXPECT_EQ(values(g.dweight), std::vector<float>(3, 0.0f));
      EXPECT_EQ(values(g.dbias), std::vector<float>(3, 0.0f));
    }
  }
}

TEST_P(BatchNormForward, InPlaceOutputEqualsOutOfPlace) {
  for (TestLayout layout : {TestLayout::contiguous, TestLayout::channels_last}) {
    BatchNormCase c{.shape = {3, 4, 6, 2}, .layout = layout};
    BatchNormRun out_of_place(c), in_place(c);
    batch_norm_forward(out_of_place.inputs(), options_for(c, Impl::fast), out_of_place.outputs());
    batch_norm_forward(in_place.inputs(), options_for(c, Impl::fast),
                       {in_place.x.view, in_place.save_mean, in_place.save_invstd});
    EXPECT_TRUE(same_bits(values(in_place.x.view), values(out_of_place.y.view)));
  }
}

// Channels-last rows of a few vectors are written in a held form, with
// streaming stores only to an aligned output (elementwise.cpp,
// stream_held_rows). Views that start 1 to 15 floats past a cache line get
// the bits of aligned ones, forward (training and eval) and backward; the
// ctest run with every output streamed takes the streamed branch too.
TEST_P(BatchNormForward, ChannelsLastRowsAtAnyAlignmentGiveTheSameBits) {
  const auto view_at = [](Tensor& storage, std::int64_t offset, const Shape& shape) {
    return TensorView(storage.data<float>() + offset, shape, channels_last_strides(shape), DType::float32);
  };
  for (std::int64_t C : {16, 32, 64})
    for (bool training : {true, false}) {
      const Shape shape{3, C, 5, 4};
      BatchNormCase c{.shape = shape, .layout = TestLayout::channels_last, .training = training};
      BatchNormRun aligned(c);
      batch_norm_forward(aligned.inputs(), options_for(c, Impl::fast), aligned.outputs());
      const TestTensor dy = random_tensor(shape, TestLayout::channels_last, 77, 0.0f, 1.0f);
      BatchNormBackwardInputs back{.dy = dy.view, .x = aligned.x.view, .weight = aligned.weight,
                                   .running_mean = aligned.running_mean, .running_var = aligned.running_var,
                                   .save_mean = aligned.save_mean, .save_invstd = aligned.save_invstd};
      const BatchNormBackwardResult aligned_grads = batch_norm_backward(back, options_for(c, Impl::fast));
      for (std::int64_t offset : {1, 4, 7, 15}) {
        SCOPED_TRACE("C " + std::to_string(C) + (training ? " train" : " eval") + ", offset " + std::to_string(offset));
        BatchNormRun run(c);  // the same values, fresh running statistics
        const std::int64_t n = run.x.view.numel();
        Tensor x_storage({n + 16}), y_storage({n + 16}), dy_storage({n + 16}), dx_storage({n + 16});
        const TensorView x = view_at(x_storage, offset, shape), y = view_at(y_storage, offset, shape);
        copy_into(run.x.view, x);
        batch_norm_forward({x, run.weight, run.bias, run.running_mean, run.running_var}, options_for(c, Impl::fast),
                           {y, run.save_mean, run.save_invstd});
        EXPECT_TRUE(same_bits(values(y), values(aligned.y.view)));
        EXPECT_TRUE(same_bits(values(run.running_var), values(aligned.running_var)));
        const TensorView dy_at = view_at(dy_storage, offset, shape), dx = view_at(dx_storage, offset, shape);
        copy_into(dy.view, dy_at);
        back.dy = dy_at;
        back.x = x;
        batch_norm_backward(back, options_for(c, Impl::fast), {.dx = dx});
        EXPECT_TRUE(same_bits(values(dx), values(aligned_grads.dx)));
      }
    }
}

TEST_P(BatchNormForward, ChannelScaleShiftIsTheFusedEvalForm) {
  for (TestLayout layout : {TestLayout::contiguous, TestLayout::channels_last, TestLayout::strided}) {
    BatchNormCase c{.shape = {3, 4, 5, 6}, .layout = layout, .training = false};
    BatchNormRun run(c);
    batch_norm_forward(run.inputs(), options_for(c, Impl::reference), run.outputs());
    const std::vector<float> w = values(run.weight), b = values(run.bias),
                             rm = values(run.running_mean), rv = values(run.running_var);
    std::vector<float> scale(4), shift(4);
    for (int ch = 0; ch < 4; ++ch) {
      const double s = w[ch] / std::sqrt(rv[ch] + 1e-5);
      scale[ch] = static_cast<float>(s);
      shift[ch] = static_cast<float>(b[ch] - rm[ch] * s);
    }
    TestTensor fused = make_tensor(c.shape, layout);
    channel_scale_shift(run.x.view, vector_tensor(scale), vector_tensor(shift), fused.view);
    EXPECT_TRUE(all_close(values(fused.view), values(run.y.view)));
  }
}

}  // namespace
}  // namespace normkit::test
