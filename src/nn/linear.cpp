#include "normkit/nn/linear.hpp"

#include <cblas.h>

#include "layer_checks.hpp"
#include "normkit/error.hpp"

namespace normkit::nn {

Linear::Linear(std::int64_t in_features, std::int64_t out_features, Generator& gen, LinearOptions options)
    : Layer("Linear"), in_(in_features), out_(out_features) {
  NORMKIT_CHECK(in_features > 0 && out_features > 0, "Linear: expected in_features and out_features > 0, got ",
                in_features, " and ", out_features);
  InitialParameters initial = initial_parameters({out_, in_}, out_, in_, out_, options.init, options.bias, gen);
  weight = Parameter(std::move(initial.weight));
  if (options.bias) bias = Parameter(std::move(initial.bias));
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Tensor Linear::forward(const TensorView& x) {
  NORMKIT_CHECK(x.defined() && x.dtype() == DType::float32 && x.dim() == 2 && x.size(1) == in_,
                "Linear: x: expected float32 of shape (N, ", in_, "), got ",
                shape_or_none(x));
  saved_x_ = Tensor::copy_of(x);
  const std::int64_t n = x.size(0);
  Tensor y({n, out_});
  float* out = y.data<float>();
  if (bias.value.defined())
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < out_; ++j) out[i * out_ + j] = bias.value.data<float>()[j];
  // y (+)= x W^T
  if (n > 0)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), static_cast<int>(out_),
                static_cast<int>(in_), 1.0f, saved_x_.data<float>(), static_cast<int>(in_), weight.value.data<float>(),
                static_cast<int>(in_), bias.value.defined() ? 1.0f : 0.0f, out, static_cast<int>(out_));
  return y;
}

Tensor Linear::backward(const TensorView& dy) {
  NORMKIT_CHECK(saved_x_.defined(), "Linear: backward before forward");
  const std::int64_t n = saved_x_.shape()[0];
  check_output_gradient(dy, {n, out_}, "Linear");
  const Tensor g = Tensor::copy_of(dy);
  Tensor dx = Tensor::zeros({n, in_});
  if (n == 0) return dx;
  // dx = dy W;  dW += dy^T x;  db += sum_i dy_i
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(n), static_cast<int>(in_),
              static_cast<int>(out_), 1.0f, g.data<float>(), static_cast<int>(out_), weight.value.data<float>(),
              static_cast<int>(in_), 0.0f, dx.data<float>(), static_cast<int>(in_));
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(out_), static_cast<int>(in_),
              static_cast<int>(n), 1.0f, g.data<float>(), static_cast<int>(out_), saved_x_.data<float>(),
              static_cast<int>(in_), 1.0f, weight.grad.data<float>(), static_cast<int>(in_));
  if (bias.value.defined()) {
    float* db = bias.grad.data<float>();
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < out_; ++j) db[j] += g.data<float>()[i * out_ + j];
  }
  return dx;
}

}  // namespace normkit::nn
