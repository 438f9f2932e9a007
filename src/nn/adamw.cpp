#include "normkit/nn/adamw.hpp"

#include <algorithm>
#include <cmath>

#include "normkit/error.hpp"
#include "optimizer_state.hpp"

namespace normkit::nn {

AdamW::AdamW(std::vector<Parameter*> parameters, AdamWOptions options, std::vector<Parameter*> no_decay)
    : parameters_(std::move(parameters)), options_(options), exp_avg_(parameters_.size()),
      exp_avg_sq_(parameters_.size()) {
  NORMKIT_CHECK(options.lr >= 0, "AdamW: lr: expected >= 0, got ", options.lr);
  NORMKIT_CHECK(options.beta1 >= 0 && options.beta1 < 1, "AdamW: beta1: expected in [0, 1), got ", options.beta1);
  NORMKIT_CHECK(options.beta2 >= 0 && options.beta2 < 1, "AdamW: beta2: expected in [0, 1), got ", options.beta2);
  NORMKIT_CHECK(options.eps >= 0, "AdamW: eps: expected >= 0, got ", options.eps);
  NORMKIT_CHECK(options.weight_decay >= 0, "AdamW: weight_decay: expected >= 0, got ", options.weight_decay);
  for (Parameter* p : parameters_)
    decayed_.push_back(std::find(no_decay.begin(), no_decay.end(), p) == no_decay.end());
}

void AdamW::step() {
  ++steps_;
  const double t = static_cast<double>(steps_);
  const double bias_correction1 = 1 - std::pow(options_.beta1, t);
  const double bias_correction2_sqrt = std::sqrt(1 - std::pow(options_.beta2, t));
  const auto step_size = static_cast<float>(-(options_.lr / bias_correction1));
  const auto c2 = static_cast<float>(bias_correction2_sqrt), eps = static_cast<float>(options_.eps);
  const auto one_minus_beta1 = static_cast<float>(1 - options_.beta1), beta2 = static_cast<float>(options_.beta2);
  const auto one_minus_beta2 = static_cast<float>(1 - options_.beta2);
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    Parameter& p = *parameters_[k];
    if (!exp_avg_[k].defined()) {
      exp_avg_[k] = Tensor::zeros(p.value.shape());
      exp_avg_sq_[k] = Tensor::zeros(p.value.shape());
    }
    float* const w = p.value.data<float>();
    const float* const g = p.grad.data<float>();
    float* const m = exp_avg_[k].data<float>();
    float* const v = exp_avg_sq_[k].data<float>();
    const auto keep = static_cast<float>(1 - options_.lr * (decayed_[k] ? options_.weight_decay : 0.0));
    const std::int64_t n = p.value.numel();
    for (std::int64_t i = 0; i < n; ++i) {
      w[i] = w[i] * keep;
      m[i] = m[i] + one_minus_beta1 * (g[i] - m[i]);
      v[i] = v[i] * beta2 + one_minus_beta2 * g[i] * g[i];
      w[i] = w[i] + step_size * m[i] / (std::sqrt(v[i]) / c2 + eps);
    }
  }
}

void AdamW::zero_grad() {
  for (Parameter* p : parameters_) p->zero_grad();
}

std::vector<std::string> AdamW::buffer_names(std::int64_t steps) const {
  if (steps == 0) return {};
  return {"exp_avg", "exp_avg_sq"};
}

std::vector<std::vector<Tensor>> AdamW::buffers() const {
  if (steps_ == 0) return {};
  return {exp_avg_, exp_avg_sq_};
}

void AdamW::load_state(std::int64_t steps, const std::vector<std::vector<Tensor>>& buffers) {
  NORMKIT_CHECK(steps >= 0, "AdamW::load_state: steps: expected >= 0, got ", steps);
  check_optimizer_buffers("AdamW", buffer_names(steps), buffers, parameters_);
  steps_ = steps;
  exp_avg_ = buffers.empty() ? std::vector<Tensor>(parameters_.size()) : copies_of(buffers[0]);
  exp_avg_sq_ = buffers.empty() ? std::vector<Tensor>(parameters_.size()) : copies_of(buffers[1]);
}

}  // namespace normkit::nn
