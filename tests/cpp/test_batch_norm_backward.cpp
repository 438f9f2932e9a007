// BatchNorm backward: the reference against central differences in double,
// then the fast path against the reference.
#include "batch_norm_case.hpp"
#include "kernels/ref/batch_norm_ref.hpp"

namespace normkit::test {
namespace {

class BatchNormBackward : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, BatchNormBackward, every_simd_path(), simd_path_param_name);

std::vector<double> normal_doubles(std::size_t n, std::uint64_t seed, double mean = 0,
                                   double stddev = 1) {
  return normal_values<double>(n, seed, mean, stddev);
}

double probe_loss(ref::BatchNormForwardArgs args, const std::vector<double>& probe) {
  return test::probe_loss(probe, ref::batch_norm_forward(args).y);
}

// Central difference of the loss in one coordinate of one argument.
double numeric_grad(ref::BatchNormForwardArgs args, std::vector<double> ref::BatchNormForwardArgs::*field,
                    std::size_t i, const std::vector<double>& probe) {
  const double h = 1e-6;
  ref::BatchNormForwardArgs plus = args, minus = args;
  (plus.*field)[i] += h;
  (minus.*field)[i] -= h;
  return (probe_loss(plus, probe) - probe_loss(minus, probe)) / (2 * h);
}

void expect_near_all(const std::vector<double>& analytic, const std::vector<double>& numeric,
                     const char* what) {
  double scale = 0;
  for (double v : numeric) scale = std::max(scale, std::fabs(v));
  for (std::size_t i = 0; i < analytic.size(); ++i)
    EXPECT_NEAR(analytic[i], numeric[i], 1e-6 * (std::fabs(numeric[i]) + scale)) << what << "[" << i << "]";
}

TEST_P(BatchNormBackward, ReferenceMatchesFiniteDifferences) {
  for (bool training : {true, false})
    for (const ref::BatchNormProblem p : {ref::BatchNormProblem{3, 2, 4}, ref::BatchNormProblem{5, 3, 1},
                                          ref::BatchNormProblem{2, 2, 6}}) {
      SCOPED_TRACE(std::string(training ? "train " : "eval ") + std::to_string(p.N) + "x" +
                   std::to_string(p.C) + "x" + std::to_string(p.S));
      const std::size_t n = static_cast<std::size_t>(p.N * p.C * p.S), C = static_cast<std::size_t>(p.C);
      ref::BatchNormForwardArgs args{.problem = p,
                                     .x = normal_doubles(n, 1, 0.5, 2.0),
                                     .weight = normal_doubles(C, 2, 1.0, 0.5),
                                     .bias = normal_doubles(C, 3),
                                     .running_mean = normal_doubles(C, 4),
                                     .running_var = normal_doubles(C, 5, 2.0, 0.1),
                                     .training = training};
      const std::vector<double> probe = normal_doubles(n, 6);
      ref::BatchNormForwardArgs forward_args = args;
      const ref::BatchNormForwardResult fwd = ref::batch_norm_forward(forward_args);
      const ref::BatchNormBackwardResult g = ref::batch_norm_backward({.problem = p,
                                                                       .dy = probe,
                                                                       .x = args.x,
                                                                       .weight = args.weight,
                                                                       .running_mean = args.running_mean,
                                                                       .running_var = args.running_var,
                                                                       .save_mean = fwd.save_mean,
                                                                       .save_invstd = fwd.save_invstd,
                                                                       .training = training,
                                                                       .eps = args.eps});
      std::vector<double> dx(n), dw(C), db(C);
      for (std::size_t i = 0; i < n; ++i) dx[i] = numeric_grad(args, &ref::BatchNormForwardArgs::x, i, probe);
      for (std::size_t c = 0; c < C; ++c) {
        dw[c] = numeric_grad(args, &ref::BatchNormForwardArgs::weight, c, probe);
        db[c] = numeric_grad(args, &ref::BatchNormForwardArgs::bias, c, probe);
      }
      expect_near_all(g.dx, dx, "dx");
      expect_near_all(g.dweight, dw, "dweight");
      expect_near_all(g.dbias, db, "dbias");
    }
}

struct BackwardRun {
  BatchNormRun forward;
  TestTensor dy, dx;
  Tensor dweight, dbias;

  BackwardRun(const BatchNormCase& c, TestLayout dy_layout)
      : forward(c), dy(random_tensor(c.shape, dy_layout, c.seed + 9)),
        dx(make_tensor(c.shape, c.layout)), dweight(Tensor::full({c.shape[1]}, -3.0f)),
        dbias(Tensor::full({c.shape[1]}, -3.0f)) {
    batch_norm_forward(forward.inputs(), options_for(c, Impl::fast), forward.outputs());
  }

  void backward(const BatchNormCase& c, Impl impl, BatchNormGradMask mask) {
    batch_norm_backward({dy.view, forward.x.view, forward.weight, forward.running_mean,
                         forward.running_var, c.training ? forward.save_mean.view() : TensorView{},
                         c.training ? forward.save_invstd.view() : TensorView{}},
                        {.training = c.training, .impl = impl},
                        {mask.input ? dx.view : TensorView{}, mask.weight ? dweight.view() : TensorView{},
                         mask.bias ? dbias.view() : TensorView{}});
  }
};

void expect_backward_matches_reference(const BatchNormCase& c, TestLayout dy_layout,
                                       BatchNormGradMask mask) {
  SCOPED_TRACE(c.name() + " dy " + layout_name(dy_layout));
  BackwardRun fast(c, dy_layout), ref(c, dy_layout);
  fast.backward(c, Impl::fast, mask);
  ref.backward(c, Impl::reference, mask);
  // dx = gamma*invstd * (dy - mean(dy) - xhat*mean(dy*xhat)) cancels when the
  // batch is small (for m = 2 it is nearly zero): hold it to the size of its
  // terms, |gamma * invstd * dy|.
  double term_scale = 0;
  {
    const std::vector<float> dy = values(ref.dy.view);
    const std::vector<float> gamma = c.affine ? values(ref.forward.weight) : std::vector<float>(c.shape[1], 1.0f);
    std::vector<float> invstd = values(ref.forward.save_invstd);
    if (!c.training) {
      invstd = values(ref.forward.running_var);
      for (float& v : invstd) v = 1.0f / std::sqrt(v + 1e-5f);
    }
    double max_dy = 0, max_k = 0;
    for (float v : dy) max_dy = std::max<double>(max_dy, std::fabs(v));
    for (std::size_t ch = 0; ch < gamma.size(); ++ch)
      max_k = std::max<double>(max_k, std::fabs(gamma[ch] * invstd[ch]));
    term_scale = max_dy * max_k;
  }
  if (mask.input) EXPECT_TRUE(all_close(values(fast.dx.view), values(ref.dx.view), 1e-5, term_scale));
  if (mask.weight) EXPECT_TRUE(all_close(values(fast.dweight), values(ref.dweight)));
  if (mask.bias) EXPECT_TRUE(all_close(values(fast.dbias), values(ref.dbias)));
  // What the mask left out is not written.
  if (!mask.weight) EXPECT_EQ(values(fast.dweight)[0], -3.0f);
  if (!mask.bias) EXPECT_EQ(values(fast.dbias)[0], -3.0f);
}

TEST_P(BatchNormBackward, FastMatchesReferenceOnEveryShapeLayoutAndMode) {
  const TestLayout layouts[] = {TestLayout::contiguous, TestLayout::channels_last,
                                TestLayout::permuted, TestLayout::strided};
  std::uint64_t seed = 500;
  for (const Shape& shape : batch_norm_shapes())
    for (TestLayout layout : layouts)
      for (bool training : {true, false})
        for (bool affine : {true, false}) {
          BatchNormCase c{.shape = shape, .layout = layout, .training = training,
                          .affine = affine, .seed = ++seed};
          expect_backward_matches_reference(c, layout, {});
        }
}

TEST_P(BatchNormBackward, GradientMaskAndMixedLayouts) {
  BatchNormCase c{.shape = {4, 6, 5, 7}};
  for (bool training : {true, false}) {
    c.training = training;
    expect_backward_matches_reference(c, TestLayout::channels_last, {});
    expect_backward_matches_reference(c, TestLayout::permuted, {true, false, false});
    expect_backward_matches_reference(c, TestLayout::contiguous, {false, true, false});
    expect_backward_matches_reference(c, TestLayout::contiguous, {false, false, true});
  }
}

TEST_P(BatchNormBackward, AccurateAtLargeMean) {
  for (TestLayout layout : {TestLayout::contiguous, TestLayout::channels_last}) {
    BatchNormCase c{.shape = {16, 3, 12, 12}, .layout = layout, .mean = 1e4f, .stddev = 1.0f};
    expect_backward_matches_reference(c, layout, {});
  }
}

}  // namespace
}  // namespace normkit::test
