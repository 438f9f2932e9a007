#include "normkit/nn/block_gradients.hpp"

#include <algorithm>

#include "fixed_blocks.hpp"
#include "kernels/blocked_reduce.hpp"
#include "parallel_loop.hpp"

namespace normkit::nn {
namespace {

class LocalBlockSum final : public BlockGradientSum {
 public:
  void sum(const char* /*layer*/, std::int64_t samples, std::int64_t count, const float* partials,
           float* out) override {
    sum_block_tree(block_count(samples, kSamplesPerBlock), count, partials, out);
  }
};

}  // namespace

void sum_block_tree(std::int64_t blocks, std::int64_t count, const float* partials, float* out) {
  const kernels::SampleTree tree = kernels::SampleTree::one_leaf_per_sample(blocks);
  kernels::merge_given(tree, tree.leaf_test(), 0, blocks, 1, blocks, count, partials, out);
}

BlockGradientSum& local_block_sum() {
  static LocalBlockSum local;
  return local;
}

void add_block_gradients(BlockGradientSum& sum, const char* layer, std::int64_t samples,
                         const std::vector<float>& partials, Parameter& weight, Parameter& bias) {
  const std::int64_t wn = weight.value.numel(), bn = bias.value.defined() ? bias.value.numel() : 0;
  std::vector<float> total(static_cast<std::size_t>(wn + bn));
  sum.sum(layer, samples, wn + bn, partials.data(), total.data());
  float* weight_grad = weight.grad.data<float>();
  float* bias_grad = bn > 0 ? bias.grad.data<float>() : nullptr;
  const float* t = total.data();
  // Gradients accumulate, as PyTorch's += .
  parallel_for_elements(wn + bn, [=](std::int64_t i) {
    if (i < wn) weight_grad[i] += t[i];
    else bias_grad[i - wn] += t[i];
  });
}

}  // namespace normkit::nn
