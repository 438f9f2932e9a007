// The state shared by the per-channel normalizations with optional affine
// parameters and running statistics (BatchNorm, InstanceNorm), registered
// under PyTorch's names: weight, bias, running_mean, running_var,
// num_batches_tracked.
#pragma once

#include <cstdint>
#include <string>

#include "normkit/nn/layer.hpp"

namespace normkit::nn {

class ChannelNorm : public Layer {
 public:
  std::int64_t num_features() const { return num_features_; }
  // Running statistics back to mean 0, variance 1, num_batches_tracked 0.
  void reset_running_stats();

  Parameter weight, bias;      // (C), ones and zeros; undefined without affine
  Tensor running_mean;         // (C), zeros; undefined without running statistics
  Tensor running_var;          // (C), ones
  Tensor num_batches_tracked;  // int64 scalar (shape ())

 protected:
  ChannelNorm(std::string name, std::int64_t num_features, bool affine, bool track_running_stats);

 private:
  std::int64_t num_features_;
};

}  // namespace normkit::nn
