#include "normkit/nn/batch_norm.hpp"

#include "normkit/nn/grad_mode.hpp"

#include <cmath>
#include <algorithm>
#include <cstring>

namespace normkit::nn {

BatchNorm::BatchNorm(std::string name, std::int64_t num_features, BatchNormModuleOptions options,
                     std::int64_t min_rank, std::int64_t max_rank)
    : ChannelNorm(std::move(name), num_features, options.affine, options.track_running_stats),
      options_(options), min_rank_(min_rank), max_rank_(max_rank) {
  const std::string& name_ = this->name();
  NORMKIT_CHECK(options.eps > 0 && std::isfinite(options.eps), name_,
                ": eps: expected a positive finite number, got ", options.eps);
  NORMKIT_CHECK(!options.momentum || (*options.momentum >= 0 && *options.momentum <= 1), name_,
                ": momentum: expected a value in [0, 1] or None, got ", options.momentum.value_or(0));
  NORMKIT_CHECK(options.virtual_batch_size >= 0, name_,
                ": virtual_batch_size: expected >= 0 (0 is off), got ", options.virtual_batch_size);
  NORMKIT_CHECK(!options.renorm || options.track_running_stats, name_,
                ": renorm: Batch Renorm needs running statistics (track_running_stats=True)");
  NORMKIT_CHECK(!options.renorm || options.virtual_batch_size == 0, name_,
                ": renorm: Batch Renorm and Ghost BN do not combine");
  if (options.renorm) {  // found now, not when warm-up ends thousands of steps later
    const BatchRenormSchedule& s = *options.renorm;
    NORMKIT_CHECK(s.rmax >= 1 && std::isfinite(s.rmax), name_, ": renorm: rmax: expected a finite number >= 1, got ",
                  s.rmax);
    NORMKIT_CHECK(s.dmax >= 0 && std::isfinite(s.dmax), name_, ": renorm: dmax: expected a finite number >= 0, got ",
                  s.dmax);
    NORMKIT_CHECK(s.warmup_steps >= 0 && s.rmax_steps >= 0 && s.dmax_steps >= 0, name_,
                  ": renorm: warmup_steps, rmax_steps, dmax_steps: expected >= 0, got ", s.warmup_steps, ", ",
                  s.rmax_steps, ", ", s.dmax_steps);
  }
}

void BatchNorm::check_input_rank(const TensorView& x) const {
  const std::string& name_ = name();
  NORMKIT_CHECK(x.defined(), name_, ": input: expected a tensor, got none");
  NORMKIT_CHECK(x.dim() >= min_rank_ && x.dim() <= max_rank_, name_, ": input: expected ",
                min_rank_ == max_rank_ ? std::to_string(min_rank_)
                                       : std::to_string(min_rank_) + "-D or " +
                                             std::to_string(max_rank_),
                "-D input (got ", x.dim(), "-D input of shape ", shape_string(x.shape()), ")");
  NORMKIT_CHECK(x.dtype() == DType::float32, name_, ": input: expected float32, got ",
                dtype_name(x.dtype()));
  NORMKIT_CHECK(x.size(1) == num_features(), name_, ": input: expected ", num_features(),
                " channels on axis 1, got shape ", shape_string(x.shape()));
}

Tensor BatchNorm::forward(const TensorView& x) {
  check_input_rank(x);
  // As torch.nn.modules.batchnorm: batch statistics in training, or always
  // when no running statistics are kept; running statistics are passed (and
  // updated) only when they are tracked.
  const bool batch_stats = is_training() || !options_.track_running_stats;
  const bool update_running = is_training() && options_.track_running_stats;
  // num_batches_tracked moves only once the call has succeeded, so that a
  // rejected input leaves no trace; the functional call checks everything
  // before it writes the running statistics.
  std::int64_t* tracked = update_running ? num_batches_tracked.data<std::int64_t>() : nullptr;
  const std::int64_t seen = tracked != nullptr ? *tracked : 0;  // training batches before this one
  double factor = options_.momentum.value_or(0.0);
  if (update_running && !options_.momentum) factor = 1.0 / static_cast<double>(seen + 1);
  BatchNormOptions functional{.training = batch_stats,
                              .momentum = factor,
                              .eps = options_.eps,
                              .unbiased_running_var = options_.unbiased_running_var,
                              .virtual_batch_size = options_.virtual_batch_size};
  if (options_.renorm && update_running) functional.renorm = options_.renorm->at(seen);
  BatchNormForwardResult r = run_forward(
      {x, weight.value, bias.value,
       options_.track_running_stats ? running_mean.view() : TensorView{},
       options_.track_running_stats ? running_var.view() : TensorView{}},
      functional);
  if (tracked != nullptr) ++*tracked;
  Tensor x_copy = grad_enabled() ? Tensor::copy_of(x, x.memory_format()) : Tensor();
  const auto saved = saved_state_lock();
  saved_x_ = std::move(x_copy);
  saved_mean_ = std::move(r.save_mean);
  saved_invstd_ = std::move(r.save_invstd);
  saved_r_ = std::move(r.renorm_r);
  saved_d_ = std::move(r.renorm_d);
  saved_options_ = functional;
  return std::move(r.y);
}

Tensor BatchNorm::backward(const TensorView& dy) {
  NORMKIT_CHECK(saved_x_.defined(), name(), ": backward: call forward first", kNoGradHint);
  const bool batch_stats = saved_options_.training;
  BatchNormBackwardResult g = run_backward(
      {dy, saved_x_, weight.value, running_mean, running_var,
       batch_stats ? saved_mean_.view() : TensorView{},
       batch_stats ? saved_invstd_.view() : TensorView{}, saved_r_, saved_d_},
      saved_options_, {.input = true, .weight = options_.affine, .bias = options_.affine});
  weight.accumulate(g.dweight);
  bias.accumulate(g.dbias);
  return std::move(g.dx);
}

BatchRenormLimits BatchRenormSchedule::at(std::int64_t step) const {
  // Fraction of the way from the start of relaxation to the step where a
  // limit reaches its final value (1 when that step is not after warm-up).
  auto progress = [&](std::int64_t reached_at) {
    if (step < warmup_steps) return 0.0;
    if (reached_at <= warmup_steps) return 1.0;
    return std::min(1.0, static_cast<double>(step - warmup_steps) /
                             static_cast<double>(reached_at - warmup_steps));
  };
  return {1.0 + (rmax - 1.0) * progress(rmax_steps), dmax * progress(dmax_steps)};
}

Recalibration::Recalibration(const std::vector<BatchNorm*>& layers) {
  for (std::size_t i = 0; i < layers.size(); ++i) {
    BatchNorm* bn = layers[i];
    NORMKIT_CHECK(bn != nullptr, "recalibrate_running_stats: layers[", i, "]: expected a BatchNorm layer, got None");
    if (std::find(layers_.begin(), layers_.end(), bn) != layers_.end()) continue;
    const auto copy = [](const Tensor& t) { return t.defined() ? Tensor::copy_of(t) : Tensor(); };
    layers_.push_back(bn);
    saved_.push_back({bn->options().momentum, bn->is_training(), copy(bn->running_mean), copy(bn->running_var),
                      copy(bn->num_batches_tracked)});
  }
}

const Recalibration::Saved& Recalibration::saved(const BatchNorm& bn) const {
  const auto at = std::find(layers_.begin(), layers_.end(), &bn) - layers_.begin();
  return saved_[static_cast<std::size_t>(at)];
}

void Recalibration::start(BatchNorm& bn) const {
  bn.reset_running_stats();
  bn.set_momentum(std::nullopt);
  bn.train();
}

void Recalibration::finish(BatchNorm& bn) const {
  const Saved& s = saved(bn);
  bn.set_momentum(s.momentum);
  bn.train(s.training);
}

void Recalibration::undo(BatchNorm& bn) const {
  finish(bn);
  const Saved& s = saved(bn);
  if (!s.running_mean.defined()) return;
  copy_into(s.running_mean, bn.running_mean);
  copy_into(s.running_var, bn.running_var);
  copy_into(s.num_batches_tracked, bn.num_batches_tracked);
}

void BatchNorm::set_momentum(std::optional<double> momentum) {
  NORMKIT_CHECK(!momentum || (*momentum >= 0 && *momentum <= 1), name(),
                ": momentum: expected a value in [0, 1] or None, got ", momentum.value_or(0));
  options_.momentum = momentum;
}

FusedScaleShift BatchNorm::fused_scale_shift() const {
  NORMKIT_CHECK(options_.track_running_stats, name(),
                ": fused_scale_shift: needs running statistics (track_running_stats=True)");
  FusedScaleShift fused{Tensor({num_features()}), Tensor({num_features()})};
  for (std::int64_t c = 0; c < num_features(); ++c) {
    const double gamma = options_.affine ? weight.value.data<float>()[c] : 1.0;
    const double beta = options_.affine ? bias.value.data<float>()[c] : 0.0;
    const double scale = gamma / std::sqrt(static_cast<double>(running_var.data<float>()[c]) +
                                           options_.eps);
    fused.scale.data<float>()[c] = static_cast<float>(scale);
    fused.shift.data<float>()[c] =
        static_cast<float>(beta - running_mean.data<float>()[c] * scale);
  }
  return fused;
}

}  // namespace normkit::nn
