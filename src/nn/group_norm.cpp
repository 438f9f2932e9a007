#include "normkit/nn/group_norm.hpp"

#include "normkit/nn/grad_mode.hpp"

#include "layer_checks.hpp"
#include "normkit/batch_norm.hpp"

namespace normkit::nn {

GroupNorm::GroupNorm(std::int64_t num_groups, std::int64_t num_channels, GroupNormModuleOptions options)
    : Layer("GroupNorm"), num_groups_(num_groups), num_channels_(num_channels), options_(options) {
  NORMKIT_CHECK(num_groups > 0 && num_channels > 0 && num_channels % num_groups == 0,
                "GroupNorm: num_groups: expected a positive divisor of num_channels = ", num_channels,
                ", got ", num_groups);
  NORMKIT_CHECK(options.eps > 0, "GroupNorm: eps: expected a positive number, got ", options.eps);
  if (options.affine) {
    weight = Parameter(Tensor::full({num_channels}, 1.0f));
    bias = Parameter(Tensor::full({num_channels}, 0.0f));
  }
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Tensor GroupNorm::forward(const TensorView& x) {
  NORMKIT_CHECK(x.defined() && x.dim() >= 2 && x.size(1) == num_channels_, name(),
                ": input: expected (N, ", num_channels_, ", *spatial), got ",
                shape_or_none(x));
  GroupNormForwardResult r = group_norm_forward(
      {x, weight.value, bias.value}, {.num_groups = num_groups_, .eps = options_.eps});
  Tensor x_copy = grad_enabled() ? Tensor::copy_of(x, x.memory_format()) : Tensor();
  const auto saved = saved_state_lock();
  saved_x_ = std::move(x_copy);
  saved_mean_ = std::move(r.mean);
  saved_rstd_ = std::move(r.rstd);
  return std::move(r.y);
}

Tensor GroupNorm::backward(const TensorView& dy) {
  NORMKIT_CHECK(saved_x_.defined(), name(), ": backward: call forward first", kNoGradHint);
  GroupNormBackwardResult g =
      group_norm_backward({dy, saved_x_, saved_mean_, saved_rstd_, weight.value},
                          {.num_groups = num_groups_, .eps = options_.eps});
  weight.accumulate(g.dweight);
  bias.accumulate(g.dbias);
  return std::move(g.dx);
}

InstanceNorm::InstanceNorm(std::string name, std::int64_t num_features,
                           InstanceNormModuleOptions options, std::int64_t rank)
    : ChannelNorm(std::move(name), num_features, options.affine, options.track_running_stats),
      rank_(rank), options_(options) {
  NORMKIT_CHECK(options.eps > 0, this->name(), ": eps: expected a positive number, got ", options.eps);
  NORMKIT_CHECK(options.momentum >= 0 && options.momentum <= 1, this->name(),
                ": momentum: expected a value in [0, 1], got ", options.momentum);
}

Tensor InstanceNorm::forward(const TensorView& x) {
  NORMKIT_CHECK(x.defined() && x.dim() == rank_, name(), ": input: expected ", rank_,
                "-D input (got ", x.defined() ? x.dim() : 0, "-D input)");
  NORMKIT_CHECK(x.size(1) == num_features(), name(), ": input: expected ", num_features(),
                " channels on axis 1, got shape ", shape_string(x.shape()));
  const bool input_stats = is_training() || !options_.track_running_stats;
  InstanceNormForwardResult r = instance_norm_forward(
      {x, weight.value, bias.value, running_mean, running_var},
      {.use_input_stats = input_stats, .momentum = options_.momentum, .eps = options_.eps});
  Tensor x_copy = grad_enabled() ? Tensor::copy_of(x, x.memory_format()) : Tensor();
  const auto saved = saved_state_lock();
  saved_x_ = std::move(x_copy);
  saved_mean_ = std::move(r.mean);
  saved_rstd_ = std::move(r.rstd);
  saved_input_stats_ = input_stats;
  return std::move(r.y);
}

Tensor InstanceNorm::backward(const TensorView& dy) {
  NORMKIT_CHECK(saved_x_.defined(), name(), ": backward: call forward first", kNoGradHint);
  if (saved_input_stats_) {
    GroupNormBackwardResult g = instance_norm_backward(
        {dy, saved_x_, weight.value, saved_mean_, saved_rstd_}, {.eps = options_.eps});
    weight.accumulate(g.dweight);
    bias.accumulate(g.dbias);
    return std::move(g.dx);
  }
  // Running statistics are per-channel constants: this is BatchNorm's eval
  // backward.
  BatchNormBackwardResult g = batch_norm_backward(
      {dy, saved_x_, weight.value, running_mean, running_var},
      {.training = false, .eps = options_.eps},
      {.input = true, .weight = options_.affine, .bias = options_.affine});
  weight.accumulate(g.dweight);
  bias.accumulate(g.dbias);
  return std::move(g.dx);
}

}  // namespace normkit::nn
