// Bitwise determinism: forward and backward give the same bits for any
// number of threads (DESIGN.md section 2).
#include "batch_norm_case.hpp"

namespace normkit::test {
namespace {

struct Bits {
  std::vector<std::vector<float>> outputs;
  bool operator==(const Bits& o) const {
    for (std::size_t i = 0; i < outputs.size(); ++i)
      if (!same_bits(outputs[i], o.outputs[i])) return false;
    return true;
  }
};

Bits run_with_threads(const BatchNormCase& c, int threads) {
  const int before = num_threads();
  set_num_threads(threads);
  BatchNormRun run(c);
  batch_norm_forward(run.inputs(), options_for(c, Impl::fast), run.outputs());
  TestTensor dy = random_tensor(c.shape, c.layout, 77);
  BatchNormBackwardResult g = batch_norm_backward(
      {dy.view, run.x.view, run.weight, run.running_mean, run.running_var, run.save_mean,
       run.save_invstd},
      {.training = c.training});
  set_num_threads(before);
  return {{values(run.y.view), values(run.save_mean), values(run.save_invstd),
           values(run.running_mean), values(run.running_var), values(g.dx), values(g.dweight),
           values(g.dbias)}};
}

TEST(Determinism, SameBitsForOneTwoThreeAndEightThreads) {
  for (const Shape& shape : {Shape{32, 16, 28, 28}, Shape{256, 1024}, Shape{7, 33, 13},
                             Shape{3, 5, 127, 9}})
    for (TestLayout layout : {TestLayout::contiguous, TestLayout::channels_last}) {
      BatchNormCase c{.shape = shape, .layout = layout};
      SCOPED_TRACE(c.name());
      const Bits one = run_with_threads(c, 1);
      for (int threads : {2, 3, 8}) EXPECT_TRUE(run_with_threads(c, threads) == one) << threads << " threads";
    }
}

}  // namespace
}  // namespace normkit::test
