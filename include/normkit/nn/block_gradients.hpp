// Conv2d and Linear compute a parameter's gradient as one partial per block
// of kSamplesPerBlock samples (blocks fixed by the batch, never by the
// threads), and sum the blocks' partials in a pairwise tree over the block
// index (docs/numerics.md). A BlockGradientSum does that sum: in one process,
// the tree over its own blocks (local_block_sum(), the default); in
// data-parallel training, the whole batch's tree across ranks
// (dist::DataParallel), which gives every rank the bits of one process.
#pragma once

#include <cstdint>

namespace normkit::nn {

// Samples per block of a Conv2d or Linear layer's batch. Part of the
// numerical contract: changing it changes bits.
inline constexpr std::int64_t kSamplesPerBlock = 16;

class BlockGradientSum {
 public:
  virtual ~BlockGradientSum() = default;
  // out[i] = the sum over this process's blocks b of partials[b * count + i],
  // where the process holds `samples` samples in blocks of kSamplesPerBlock
  // (the last maybe shorter); 0 without samples. `layer` names the layer.
  virtual void sum(const char* layer, std::int64_t samples, std::int64_t count, const float* partials,
                   float* out) = 0;
};

// The pairwise tree over one process's blocks.
BlockGradientSum& local_block_sum();

// A layer whose parameter gradients are summed in blocks (Conv2d, Linear).
class BlockGradientLayer {
 public:
  // The sum used from the next backward on (null: local_block_sum()); it
  // must outlive its use.
  void set_block_gradient_sum(BlockGradientSum* sum) { sum_ = sum; }

 protected:
  BlockGradientLayer() = default;
  ~BlockGradientLayer() = default;
  BlockGradientSum& block_gradient_sum() const { return sum_ != nullptr ? *sum_ : local_block_sum(); }

 private:
  BlockGradientSum* sum_ = nullptr;
};

}  // namespace normkit::nn
