#include "normkit/nn/sgd.hpp"

#include "normkit/error.hpp"

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

void SGD::load_state(std::int64_t steps, const std::vector<Tensor>& momentum_buffers) {
  NORMKIT_CHECK(steps >= 0, "SGD::load_state: steps: expected >= 0, got ", steps);
  NORMKIT_CHECK(momentum_buffers.size() == parameters_.size(), "SGD::load_state: expected ", parameters_.size(),
                " momentum buffers, got ", momentum_buffers.size());
  for (std::size_t k = 0; k < parameters_.size(); ++k)
    NORMKIT_CHECK(!momentum_buffers[k].defined() || (momentum_buffers[k].shape() == parameters_[k]->value.shape() &&
                                                      momentum_buffers[k].dtype() == DType::float32),
                  "SGD::load_state: momentum buffer ", k, ": expected float32 of shape ",
                  shape_string(parameters_[k]->value.shape()), ", got ", dtype_name(momentum_buffers[k].dtype()),
                  " of shape ", shape_string(momentum_buffers[k].shape()));
  steps_ = steps;
  momentum_.clear();
  for (const Tensor& t : momentum_buffers) momentum_.push_back(t.defined() ? Tensor::copy_of(t) : Tensor());
}

void SGD::zero_grad() {
  for (Parameter* p : parameters_) p->zero_grad();
}

}  // namespace normkit::nn
