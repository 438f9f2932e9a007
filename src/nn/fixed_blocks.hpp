// Work split into blocks fixed by the problem, never by the thread count:
// each block is computed by one thread with single-threaded library calls
// (oneDNN runs sequentially inside an OpenMP parallel region), and partial
// results of blocks are combined in block order. So a convolution or a
// matrix product gives the same bits on 1 thread or 16, as the normalization
// kernels' fixed reduction trees do (docs/numerics.md).
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace normkit::nn {

// Samples per block of a convolution or Linear layer's batch.
inline constexpr std::int64_t kSamplesPerBlock = 16;

inline std::int64_t block_count(std::int64_t count, std::int64_t block) { return (count + block - 1) / block; }

// body(block index, first item, items) for every block of `block` items of `count`.
template <typename Body>
void for_each_block(std::int64_t count, std::int64_t block, Body body) {
  const std::int64_t blocks = block_count(count, block);
  // Always inside an active parallel region (two threads at least, even for
  // one block), so that oneDNN's calls run sequentially on the thread that
  // makes them; on one thread everything is sequential anyway.
  const int available = omp_get_max_threads();
  const int threads = available < 2 ? 1 : static_cast<int>(std::clamp<std::int64_t>(blocks, 2, available));
#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t b = 0; b < blocks; ++b) body(b, b * block, std::min(block, count - b * block));
  }
}

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

}  // namespace normkit::nn
