// Conv2d and Linear sum their parameter gradients as partials of 16-sample
// blocks in a pairwise tree over the block index (nn/block_gradients.hpp):
// what lets data-parallel training split a batch between ranks in whole
// blocks and keep the bits of one process. Held here against a plain
// recursive pairwise sum of the gradients of each block computed alone.
#include <functional>

#include "nn/fixed_blocks.hpp"
#include "normkit/nn/conv2d.hpp"
#include "normkit/nn/linear.hpp"
#include "module_util.hpp"

namespace normkit::test {
namespace {

using nn::Generator;

// The reference: sum of values[lo..hi) split at lo + (hi - lo) / 2, in float.
float pairwise(const std::vector<float>& values, std::size_t lo, std::size_t hi) {
  if (hi - lo == 1) return values[lo];
  const std::size_t mid = lo + (hi - lo) / 2;
  return pairwise(values, lo, mid) + pairwise(values, mid, hi);
}

TEST(BlockGradients, TreeSumIsThePairwiseSumOfBlocks) {
  Generator gen(11);
  const std::int64_t count = 300;  // more than one merge strip of 256 values
  for (std::int64_t blocks = 0; blocks <= 9; ++blocks) {
    SCOPED_TRACE(blocks);
    const std::vector<float> partials = values(nn::normal_tensor({std::max<std::int64_t>(blocks, 1), count}, 1.0, gen));
    std::vector<float> out(count, -1.0f);
    nn::sum_block_tree(blocks, count, partials.data(), out.data());
    std::vector<float> expected(count, 0.0f);
    if (blocks > 0)
      for (std::int64_t i = 0; i < count; ++i) {
        std::vector<float> column;
        for (std::int64_t b = 0; b < blocks; ++b) column.push_back(partials[b * count + i]);
        expected[i] = pairwise(column, 0, column.size());
      }
    EXPECT_TRUE(same_bits(out, expected));
  }
}

// A layer's gradients over a batch of n samples, against the pairwise sum of
// the gradients of each 16-sample block run through a fresh copy alone.
void expect_blocks_summed_in_tree(const std::function<std::unique_ptr<nn::Layer>()>& make, const Shape& x_shape,
                                  const Shape& dy_shape) {
  Generator gen(21);
  const Tensor x = nn::normal_tensor(x_shape, 1.0, gen), dy = nn::normal_tensor(dy_shape, 1.0, gen);
  const std::int64_t n = x_shape[0], blocks = nn::block_count(n, nn::kSamplesPerBlock);
  auto whole = make();
  whole->forward(x);
  whole->backward(dy);
  std::vector<std::vector<float>> per_block;  // each block's gradients, all parameters in order
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::int64_t first = b * nn::kSamplesPerBlock, rows = std::min(nn::kSamplesPerBlock, n - first);
    Shape xs = x_shape, ds = dy_shape;
    xs[0] = ds[0] = rows;
    Tensor xb(xs), db(ds);
    const std::int64_t x_row = x.numel() / n, d_row = dy.numel() / n;
    std::copy_n(x.data<float>() + first * x_row, rows * x_row, xb.data<float>());
    std::copy_n(dy.data<float>() + first * d_row, rows * d_row, db.data<float>());
    auto alone = make();
    alone->forward(xb);
    alone->backward(db);
    std::vector<float> grads;
    for (const nn::Parameter* p : alone->parameters()) {
      const std::vector<float> g = values(p->grad);
      grads.insert(grads.end(), g.begin(), g.end());
    }
    per_block.push_back(grads);
  }
  std::vector<float> expected, got;
  for (std::size_t i = 0; i < per_block[0].size(); ++i) {
    std::vector<float> column;
    for (const auto& g : per_block) column.push_back(g[i]);
    expected.push_back(pairwise(column, 0, column.size()));
  }
  for (const nn::Parameter* p : whole->parameters()) {
    const std::vector<float> g = values(p->grad);
    got.insert(got.end(), g.begin(), g.end());
  }
  EXPECT_TRUE(same_bits(got, expected));
}

TEST(BlockGradients, Conv2dSumsItsBlocksInTheTree) {
  for (const std::int64_t n : {16, 40, 77}) {
    SCOPED_TRACE(n);
    expect_blocks_summed_in_tree(
        [] {
          Generator same(3);
          return std::make_unique<nn::Conv2d>(8, 8, 3, same, nn::Conv2dOptions{.padding = 1});
        },
        {n, 8, 6, 6}, {n, 8, 6, 6});
  }
}

TEST(BlockGradients, LinearSumsItsBlocksInTheTree) {
  for (const std::int64_t n : {5, 48, 70}) {
    SCOPED_TRACE(n);
    expect_blocks_summed_in_tree(
        [] {
          Generator same(4);
          return std::make_unique<nn::Linear>(30, 12, same);
        },
        {n, 30}, {n, 12});
  }
}

// A layer hands its partials to the sum it was given, with its name and
// sample count, and adds what the sum returns to its gradients.
class RecordingSum final : public nn::BlockGradientSum {
 public:
  void sum(const char* layer, std::int64_t samples, std::int64_t count, const float*, float* out) override {
    calls.emplace_back(layer, samples);
    std::fill(out, out + count, 2.0f);
  }
  std::vector<std::pair<std::string, std::int64_t>> calls;
};

TEST(BlockGradients, ALayerUsesTheSumItWasGiven) {
  Generator gen(5);
  RecordingSum recording;
  nn::Linear linear(4, 3, gen);
  linear.set_block_gradient_sum(&recording);
  linear.forward(nn::normal_tensor({20, 4}, 1.0, gen));
  linear.backward(nn::normal_tensor({20, 3}, 1.0, gen));
  linear.forward(Tensor({0, 4}));  // no samples: the sum is still called
  linear.backward(Tensor({0, 3}));
  ASSERT_EQ(recording.calls.size(), 2u);
  EXPECT_EQ(recording.calls[0], (std::pair<std::string, std::int64_t>{"Linear", 20}));
  EXPECT_EQ(recording.calls[1].second, 0);
  EXPECT_TRUE(same_bits(values(linear.weight.grad), std::vector<float>(12, 4.0f)));
  EXPECT_TRUE(same_bits(values(linear.bias.grad), std::vector<float>(3, 4.0f)));
  linear.set_block_gradient_sum(nullptr);  // back to the local tree
  linear.forward(nn::normal_tensor({20, 4}, 1.0, gen));
  linear.backward(nn::normal_tensor({20, 3}, 1.0, gen));
  EXPECT_EQ(recording.calls.size(), 2u);
}

}  // namespace
}  // namespace normkit::test
