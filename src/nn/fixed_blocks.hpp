// Work split into blocks fixed by the problem, never by the thread count:
// each block is computed by one thread with single-threaded library calls
// (oneDNN runs sequentially inside an OpenMP parallel region), and partial
// results of blocks are summed in a pairwise tree over the block index
// (normkit/nn/block_gradients.hpp). So a convolution or a matrix product
// gives the same bits on 1 thread or 16, as the normalization kernels' fixed
// reduction trees do (docs/numerics.md).
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "normkit/nn/block_gradients.hpp"
#include "normkit/nn/parameter.hpp"
#include "normkit/threading.hpp"

namespace normkit::nn {

// While alive, the calling thread's OpenMP thread count is 1: oneDNN
// primitives created then are configured for one thread whatever the
// machine, so their results cannot depend on it.
class SingleThreadedSetup {
 public:
  SingleThreadedSetup() : saved_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~SingleThreadedSetup() { omp_set_num_threads(saved_); }
  SingleThreadedSetup(const SingleThreadedSetup&) = delete;
  SingleThreadedSetup& operator=(const SingleThreadedSetup&) = delete;

 private:
  int saved_;
};

inline std::int64_t block_count(std::int64_t count, std::int64_t block) { return (count + block - 1) / block; }

// body(block index, first item, items) for every block of `block` items of `count`.
template <typename Body>
void for_each_block(std::int64_t count, std::int64_t block, Body body) {
  const std::int64_t blocks = block_count(count, block);
  // Always inside an active parallel region (two threads at least, even for
  // one block), so that oneDNN's calls run sequentially on the thread that
  // makes them; on one thread everything is sequential anyway.
  const int available = normkit::num_threads();
  const int threads = available < 2 ? 1 : static_cast<int>(std::clamp<std::int64_t>(blocks, 2, available));
  // On one thread the region is inactive: oneDNN would ask this thread's own
  // OpenMP count, which set_num_threads on another thread did not change.
  std::optional<SingleThreadedSetup> one_thread;
  if (threads == 1) one_thread.emplace();
#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t b = 0; b < blocks; ++b) body(b, b * block, std::min(block, count - b * block));
  }
}

// out = the pairwise tree sum of `blocks` partials of `count` values each
// (partials[b * count + i]); zeros when blocks is 0.
void sum_block_tree(std::int64_t blocks, std::int64_t count, const float* partials, float* out);

// weight.grad (and bias.grad, when bias is defined) += `sum` of the blocks'
// partials of a layer's `samples` samples; each partial holds the weight's
// gradient, then the bias's.
void add_block_gradients(BlockGradientSum& sum, const char* layer, std::int64_t samples,
                         const std::vector<float>& partials, Parameter& weight, Parameter& bias);


}  // namespace normkit::nn
