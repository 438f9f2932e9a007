#include "normkit/nn/sgd.hpp"

#include "normkit/error.hpp"
#include "optimizer_state.hpp"

namespace normkit::nn {

SGD::SGD(std::vector<Parameter*> parameters, SgdOptions options)
    : parameters_(std::move(parameters)), options_(options), momentum_(parameters_.size()) {
  NORMKIT_CHECK(options.lr >= 0, "SGD: lr: expected >= 0, got ", options.lr);
  NORMKIT_CHECK(options.momentum >= 0, "SGD: momentum: expected >= 0, got ", options.momentum);
  NORMKIT_CHECK(options.weight_decay >= 0, "SGD: weight_decay: expected >= 0, got ", options.weight_decay);
  NORMKIT_CHECK(!options.nesterov || options.momentum > 0, "SGD: nesterov needs momentum > 0");
}

void SGD::step() {
  const float lr = static_cast<float>(options_.lr), mu = static_cast<float>(options_.momentum);
  const float wd = static_cast<float>(options_.weight_decay);
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    Parameter& p = *parameters_[k];
    float* w = p.value.data<float>();
    const float* grad = p.grad.data<float>();
    const std::int64_t n = p.value.numel();
    if (mu != 0 && !momentum_[k].defined()) momentum_[k] = Tensor::zeros(p.value.shape());
    float* b = mu != 0 ? momentum_[k].data<float>() : nullptr;
    const bool first = options_.momentum != 0 && steps_ == 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const float g = grad[i] + wd * w[i];
      if (b == nullptr) {
        w[i] -= lr * g;
        continue;
      }
      b[i] = first ? g : mu * b[i] + g;
      w[i] -= lr * (options_.nesterov ? g + mu * b[i] : b[i]);
    }
  }
  ++steps_;
}

std::vector<std::string> SGD::buffer_names(std::int64_t steps) const {
  if (options_.momentum == 0 || steps == 0) return {};
  return {"momentum_buffer"};
}

std::vector<std::vector<Tensor>> SGD::buffers() const {
  if (buffer_names(steps_).empty()) return {};
  return {momentum_};
}

void SGD::load_state(std::int64_t steps, const std::vector<std::vector<Tensor>>& buffers) {
  NORMKIT_CHECK(steps >= 0, "SGD::load_state: steps: expected >= 0, got ", steps);
  check_optimizer_buffers("SGD", buffer_names(steps), buffers, parameters_);
  steps_ = steps;
  momentum_ = buffers.empty() ? std::vector<Tensor>(parameters_.size()) : copies_of(buffers[0]);
}

void SGD::zero_grad() {
  for (Parameter* p : parameters_) p->zero_grad();
}

}  // namespace normkit::nn
