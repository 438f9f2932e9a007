// AdaIN's functional forward and backward: the fast path against the
// reference on every SIMD path, the reference against finite differences.
#include "kernels/ref/adain_ref.hpp"
#include "test_util.hpp"

namespace normkit::test {
namespace {

class AdaIN : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, AdaIN, every_simd_path(), simd_path_param_name);

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float e : v) m = std::max<double>(m, std::fabs(e));
  return m;
}

TEST_P(AdaIN, FastMatchesReference) {
  for (TestLayout layout : {TestLayout::contiguous, TestLayout::channels_last, TestLayout::strided})
    for (const auto& [content_shape, style_shape] :
         {std::pair{Shape{2, 3, 5, 4}, Shape{2, 3, 7, 6}}, std::pair{Shape{3, 8, 16}, Shape{3, 8, 9}}}) {
      SCOPED_TRACE(shape_string(content_shape) + " " + layout_name(layout));
      const TestTensor c = random_tensor(content_shape, layout, 1, 1.0f, 2.0f);
      const TestTensor s = random_tensor(style_shape, TestLayout::contiguous, 2, -3.0f, 0.5f);
      const TestTensor dy = random_tensor(content_shape, layout, 3);
      const AdaINForwardResult f = adain_forward(c.view, s.view);
      const AdaINForwardResult fr = adain_forward(c.view, s.view, {.impl = Impl::reference});
      EXPECT_TRUE(all_close(values(f.y), values(fr.y)));
      EXPECT_TRUE(all_close(values(f.stats.style_rstd), values(fr.stats.style_rstd)));
      const AdaINBackwardResult g = adain_backward(dy.view, c.view, s.view, f.stats);
      const AdaINBackwardResult gr = adain_backward(dy.view, c.view, s.view, f.stats, {.impl = Impl::reference});
      const double term = max_abs(values(dy.view)) * 4 * max_abs(values(f.stats.content_rstd)) /
                          (max_abs(values(f.stats.style_rstd)) > 0 ? 1e-3 + 0 * max_abs(values(f.stats.style_rstd)) : 1);
      EXPECT_TRUE(all_close(values(g.dcontent), values(gr.dcontent), 1e-5, term));
      EXPECT_TRUE(all_close(values(g.dstyle), values(gr.dstyle), 1e-5, max_abs(values(gr.dstyle)) * 10));
    }
}

TEST(AdaIN, ReferenceMatchesFiniteDifferencesForBothInputs) {
  const ref::AdaINProblem p{2, 2, 4, 3};
  std::vector<double> c = normal_values<double>(16, 1, 1.0, 2.0), s = normal_values<double>(12, 2, -1.0, 0.7),
                      probe = normal_values<double>(16, 3);
  auto loss = [&] { return probe_loss(probe, ref::adain_forward(p, c, s, 1e-5).y); };
  auto numeric = [&](std::vector<double>& v, std::size_t i) { return central_difference(v, i, loss); };
  const ref::AdaINBackwardResult g = ref::adain_backward(p, probe, c, s, 1e-5);
  for (std::size_t i = 0; i < 16; ++i) EXPECT_NEAR(g.dcontent[i], numeric(c, i), 1e-6);
  for (std::size_t i = 0; i < 12; ++i) EXPECT_NEAR(g.dstyle[i], numeric(s, i), 1e-6);
}

}  // namespace
}  // namespace normkit::test

namespace normkit::test {
namespace {

// Found by the listed fuzzer: backward takes the forward's statistics from
// the caller, and the reference used to recompute them with backward's eps.
// Both now differentiate at the given statistics, whatever eps says.
TEST_P(AdaIN, BackwardWorksAtTheGivenStatisticsWhateverItsEps) {
  const TestTensor c = random_tensor({2, 3, 5, 4}, TestLayout::contiguous, 1, 1.0f, 2.0f);
  const TestTensor s = random_tensor({2, 3, 6, 5}, TestLayout::contiguous, 2, -3.0f, 0.5f);
  const TestTensor dy = random_tensor({2, 3, 5, 4}, TestLayout::contiguous, 3);
  const AdaINForwardResult f = adain_forward(c.view, s.view, {.eps = 1e-5});
  const AdaINBackwardResult fast = adain_backward(dy.view, c.view, s.view, f.stats, {.eps = 0.5});
  const AdaINBackwardResult ref = adain_backward(dy.view, c.view, s.view, f.stats, {.eps = 0.5, .impl = Impl::reference});
  EXPECT_TRUE(all_close(values(fast.dcontent), values(ref.dcontent), 1e-5, max_abs(values(ref.dcontent))));
  EXPECT_TRUE(all_close(values(fast.dstyle), values(ref.dstyle), 1e-5, max_abs(values(ref.dstyle))));
}

}  // namespace
}  // namespace normkit::test
