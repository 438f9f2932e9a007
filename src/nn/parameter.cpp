#include "normkit/nn/parameter.hpp"

#include <cstring>

#include "parallel_loop.hpp"

namespace normkit::nn {

Parameter::Parameter(Tensor initial)
    : value(std::move(initial)), grad(Tensor::zeros(value.shape())) {}

void Parameter::zero_grad() {
  if (grad.defined())
    std::memset(grad.data<float>(), 0, static_cast<std::size_t>(grad.numel()) * sizeof(float));
}

void Parameter::accumulate(const Tensor& g) {
  if (!value.defined()) return;
  NORMKIT_CHECK(g.numel() == grad.numel(), "Parameter::accumulate: expected ", grad.numel(),
                " values, got ", g.numel());
  float* sum = grad.data<float>();
  const float* add = g.data<float>();
  parallel_for_elements(g.numel(), [=](std::int64_t i) { sum[i] += add[i]; });
}

const Tensor& state_dict_get(const StateDict& state, const std::string& key) {
  for (const auto& [name, tensor] : state)
    if (name == key) return tensor;
  detail::throw_error("state_dict: missing key '", key, "'");
}

}  // namespace normkit::nn
