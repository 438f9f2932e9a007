// What the engine's tests share: random matrices, labels, and the gradient
// check of a whole network by central differences.
#pragma once

#include <cmath>

#include "module_util.hpp"
#include "normkit/nn/init.hpp"
#include "normkit/nn/loss.hpp"
#include "normkit/nn/sequential.hpp"

namespace normkit::test {

inline Tensor matrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed, double scale = 1.0) {
  nn::Generator gen(seed);
  return nn::normal_tensor({rows, cols}, scale, gen);
}

// Labels 0, 1, 2, 0, 1, ... for n samples.
inline Tensor cyclic_labels(std::int64_t n, std::int64_t classes) {
  Tensor labels({n}, DType::int64);
  for (std::int64_t i = 0; i < n; ++i) labels.data<std::int64_t>()[i] = i % classes;
  return labels;
}

// Every `every`-th element of every parameter of net: the gradient of the
// cross-entropy of net(x) that backward accumulates against a central
// difference (float, step 1e-3), within abs + rel * |numeric|.
inline void expect_gradients_match_central_differences(nn::Sequential& net, const Tensor& x, const Tensor& labels,
                                                std::int64_t every, double abs, double rel) {
  auto loss = [&] { return nn::softmax_cross_entropy(net.forward(x), labels).loss; };
  net.zero_grad();
  net.backward(nn::softmax_cross_entropy(net.forward(x), labels).grad);
  for (const auto& [name, p] : net.named_parameters()) {
    const Tensor analytic = Tensor::copy_of(p->grad);
    for (std::int64_t i = 0; i < p->value.numel(); i += every) {
      const double numeric = central_difference(p->value.data<float>()[i], 1e-3f, loss);
      EXPECT_NEAR(analytic.data<float>()[i], numeric, abs + rel * std::fabs(numeric)) << name << "[" << i << "]";
    }
  }
}

}  // namespace normkit::test
