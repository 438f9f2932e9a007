// Bitwise determinism: forward and backward give the same bits for any
// number of threads (DESIGN.md section 2).
#include <bit>
#include <random>

#include "batch_norm_case.hpp"
#include "kernels/blocked_reduce.hpp"
#include "kernels/moments.hpp"
#include "normkit/group_norm.hpp"
#include "normkit/layer_norm.hpp"

namespace normkit::test {
namespace {

class Determinism : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, Determinism, every_simd_path(), simd_path_param_name);

// f() on `threads` threads, the thread count restored after.
template <typename F>
auto on_threads(int threads, const F& f) {
  const int before = num_threads();
  set_num_threads(threads);
  auto result = f();
  set_num_threads(before);
  return result;
}

struct Bits {
  std::vector<std::vector<float>> outputs;
  bool operator==(const Bits& o) const {
    for (std::size_t i = 0; i < outputs.size(); ++i)
      if (!same_bits(outputs[i], o.outputs[i])) return false;
    return true;
  }
};

Bits run_with_threads(const BatchNormCase& c, int threads) {
  return on_threads(threads, [&] {
    BatchNormRun run(c);
    batch_norm_forward(run.inputs(), options_for(c, Impl::fast), run.outputs());
    TestTensor dy = random_tensor(c.shape, c.layout, 77);
    BatchNormBackwardResult g = batch_norm_backward(
        {dy.view, run.x.view, run.weight, run.running_mean, run.running_var, run.save_mean,
         run.save_invstd},
        {.training = c.training});
    return Bits{{values(run.y.view), values(run.save_mean), values(run.save_invstd),
                 values(run.running_mean), values(run.running_var), values(g.dx), values(g.dweight),
                 values(g.dbias)}};
  });
}

TEST_P(Determinism, SameBitsForOneTwoThreeAndEightThreads) {
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

namespace normkit::test {
namespace {

// Runs `body` (which returns every output as float vectors) with 1 thread and
// with 2, 3 and 8, and expects the same bits.
template <typename Body>
void expect_same_bits_for_any_thread_count(const Body& body) {
  const std::vector<std::vector<float>> one = on_threads(1, body);
  for (int threads : {2, 3, 8}) {
    const std::vector<std::vector<float>> many = on_threads(threads, body);
    for (std::size_t i = 0; i < one.size(); ++i)
      EXPECT_TRUE(same_bits(one[i], many[i])) << "output " << i << ", " << threads << " threads";
  }
}

TEST_P(Determinism, FamilySameBitsForAnyThreadCount) {
  const TestTensor x = random_tensor({8, 32, 14, 14}, TestLayout::channels_last, 1, 1.0f, 2.0f);
  const TestTensor dy = random_tensor({8, 32, 14, 14}, TestLayout::channels_last, 2);
  const TestTensor rows = random_tensor({300, 768}, TestLayout::contiguous, 3, 1.0f, 2.0f);
  const TestTensor drows = random_tensor({300, 768}, TestLayout::contiguous, 4);
  const Tensor w = vector_tensor(normal_values(768, 5, 1.0f, 0.3f));
  const Tensor cw = vector_tensor(normal_values(32, 6, 1.0f, 0.3f));
  expect_same_bits_for_any_thread_count([&] {
    const LayerNormForwardResult ln = layer_norm_forward({rows.view, {768}, w, w});
    const LayerNormBackwardResult lg =
        layer_norm_backward({drows.view, rows.view, {768}, ln.mean, ln.rstd, w}, {}, true, true);
    const RMSNormForwardResult rms = rms_norm_forward({rows.view, {768}, w});
    const RMSNormBackwardResult rg = rms_norm_backward({drows.view, rows.view, {768}, rms.rstd, w});
    const GroupNormForwardResult gn = group_norm_forward({x.view, cw, cw}, {.num_groups = 8});
    const GroupNormBackwardResult gg =
        group_norm_backward({dy.view, x.view, gn.mean, gn.rstd, cw}, {.num_groups = 8});
    const BatchNormForwardResult ghost = batch_norm_forward({x.view}, {.virtual_batch_size = 2});
    return std::vector<std::vector<float>>{
        values(ln.y), values(lg.dx), values(lg.dweight), values(lg.dbias), values(rms.y),
        values(rg.dx), values(rg.dweight), values(gn.y), values(gg.dx), values(gg.dweight),
        values(ghost.y), values(ghost.save_invstd)};
  });
}

// Rows longer than two of the backward's column chunks (row_apply.cpp: a
// group of rows' dx passes chunk by chunk): one block of rows, on several
// threads by columns, and several blocks; each row's dx also has the bits
// of that row's backward alone.
TEST_P(Determinism, LongRowsSameBitsForAnyThreadCount) {
  for (const std::int64_t rows : {40, 100}) {
    const std::int64_t cols = 3000;
    SCOPED_TRACE(rows);
    const TestTensor x = random_tensor({rows, cols}, TestLayout::contiguous, 7, 1.0f, 2.0f);
    const TestTensor dy = random_tensor({rows, cols}, TestLayout::contiguous, 8);
    const Tensor w = vector_tensor(normal_values(static_cast<std::size_t>(cols), 9, 1.0f, 0.3f));
    const LayerNormForwardResult ln = layer_norm_forward({x.view, {cols}, w, w});
    expect_same_bits_for_any_thread_count([&] {
      const LayerNormBackwardResult lg =
          layer_norm_backward({dy.view, x.view, {cols}, ln.mean, ln.rstd, w}, {}, true, true);
      const RMSNormForwardResult rms = rms_norm_forward({x.view, {cols}, w});
      const RMSNormBackwardResult rg = rms_norm_backward({dy.view, x.view, {cols}, rms.rstd, w});
      return std::vector<std::vector<float>>{values(lg.dx), values(lg.dweight), values(lg.dbias),
                                             values(rg.dx), values(rg.dweight)};
    });
    const LayerNormBackwardResult all =
        layer_norm_backward({dy.view, x.view, {cols}, ln.mean, ln.rstd, w}, {}, true, true);
    const std::vector<float> all_dx = values(all.dx);
    for (const std::int64_t r : {std::int64_t{0}, rows / 2, rows - 1}) {
      const TensorView x_row(x.storage.data<float>() + r * cols, {1, cols});
      const TensorView dy_row(dy.storage.data<float>() + r * cols, {1, cols});
      const TensorView mean_row(ln.mean.data<float>() + r, {1, 1}), rstd_row(ln.rstd.data<float>() + r, {1, 1});
      const LayerNormBackwardResult one =
          layer_norm_backward({dy_row, x_row, {cols}, mean_row, rstd_row, w}, {}, false, false);
      const std::vector<float> row_dx(all_dx.begin() + r * cols, all_dx.begin() + (r + 1) * cols);
      EXPECT_TRUE(same_bits(values(one.dx), row_dx)) << "row " << r;
    }
  }
}

// The merge of the leaves' partials splits its channels among the threads
// (blocks of up to 256, at least one per thread): any split gives the same
// bits, also where the channels do not divide evenly.
TEST(Determinism, LeafMergeSameBitsForAnyChannelSplit) {
  const std::int64_t samples = 2000;
  const kernels::SampleTree tree = kernels::SampleTree::one_leaf_per_sample(samples);
  std::mt19937 gen(5);
  std::uniform_real_distribution<double> mean(-3.0, 3.0), m2(0.0, 10.0);
  for (const std::int64_t A : {1, 3})
    for (const std::int64_t C : {33, 256, 1000}) {
      SCOPED_TRACE(testing::Message() << "A " << A << ", C " << C);
      std::vector<kernels::Moments> per_leaf(static_cast<std::size_t>(A * samples * C));
      for (std::int64_t i = 0; i < A * samples * C; ++i)
        per_leaf[i] = {static_cast<double>(1 + (i / C) % samples % 7), mean(gen), m2(gen)};
      const auto merged = [&](int threads) {
        return on_threads(threads, [&] {
          std::vector<kernels::Moments> out(static_cast<std::size_t>(A * C));
          kernels::merge_leaves(tree, A, samples, C, per_leaf.data(), out.data());
          return out;
        });
      };
      const std::vector<kernels::Moments> one = merged(1);
      for (int threads : {2, 3, 8}) {
        const std::vector<kernels::Moments> many = merged(threads);
        for (std::int64_t j = 0; j < A * C; ++j)
          ASSERT_TRUE(std::bit_cast<std::uint64_t>(one[j].mean) == std::bit_cast<std::uint64_t>(many[j].mean) &&
                      std::bit_cast<std::uint64_t>(one[j].m2) == std::bit_cast<std::uint64_t>(many[j].m2) &&
                      one[j].count == many[j].count)
              << threads << " threads, channel " << j;
      }
    }
}

// An empty batch (A = 0) or no channels: nothing to merge, on any thread
// count. (The split of channels among threads once divided by A: the
// functional fuzzer's input in fuzz/regressions/functional/merge-zero-batch.)
TEST(Determinism, LeafMergeOfNothingWritesNothing) {
  const kernels::SampleTree tree = kernels::SampleTree::one_leaf_per_sample(4);
  const std::vector<kernels::Moments> per_leaf(4 * 8, kernels::Moments{1.0, 2.0, 3.0});
  for (const int threads : {1, 2, 8})
    for (const auto& [A, C] : {std::pair<std::int64_t, std::int64_t>{0, 8}, {3, 0}, {0, 0}}) {
      const kernels::Moments untouched = on_threads(threads, [&] {
        kernels::Moments out{-1.0, -1.0, -1.0};
        kernels::merge_leaves(tree, A, 4, C, per_leaf.data(), &out);
        return out;
      });
      EXPECT_EQ(untouched.count, -1.0) << "A " << A << ", C " << C << ", " << threads << " threads";
    }
}

}  // namespace
}  // namespace normkit::test
