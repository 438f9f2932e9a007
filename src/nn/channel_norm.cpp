#include "normkit/nn/channel_norm.hpp"

namespace normkit::nn {

ChannelNorm::ChannelNorm(std::string name, std::int64_t num_features, bool affine,
                         bool track_running_stats)
    : Layer(std::move(name)), num_features_(num_features) {
  NORMKIT_CHECK(num_features > 0, this->name(), ": num_features: expected > 0, got ", num_features);
  if (affine) {
    weight = Parameter(Tensor::full({num_features}, 1.0f));
    bias = Parameter(Tensor::full({num_features}, 0.0f));
  }
  if (track_running_stats) {
    running_mean = Tensor::full({num_features}, 0.0f);
    running_var = Tensor::full({num_features}, 1.0f);
    num_batches_tracked = Tensor::zeros({}, DType::int64);
  }
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
  register_buffer("running_mean", &running_mean);
  register_buffer("running_var", &running_var);
  register_buffer("num_batches_tracked", &num_batches_tracked);
}

void ChannelNorm::reset_running_stats() {
  if (!running_mean.defined()) return;
  for (std::int64_t c = 0; c < num_features_; ++c) {
    running_mean.data<float>()[c] = 0.0f;
    running_var.data<float>()[c] = 1.0f;
  }
  *num_batches_tracked.data<std::int64_t>() = 0;
}

}  // namespace normkit::nn
