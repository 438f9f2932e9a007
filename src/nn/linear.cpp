#include "normkit/nn/linear.hpp"

#include "normkit/nn/grad_mode.hpp"

#include <oneapi/dnnl/dnnl.h>

#include "fixed_blocks.hpp"
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

namespace {

// C (m x n) = alpha * op(A) op(B) + beta * C, row-major, by oneDNN's sgemm
// (sequential inside the fixed blocks' parallel region).
void sgemm(char trans_a, char trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
           const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  const dnnl_status_t status = dnnl_sgemm(trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
  NORMKIT_CHECK(status == dnnl_success, "Linear: oneDNN's sgemm failed (status ", static_cast<int>(status), ")");
}

}  // namespace

Tensor Linear::forward(const TensorView& x) {
  NORMKIT_CHECK(x.defined() && x.dtype() == DType::float32 && x.dim() >= 2 && x.shape().back() == in_,
                "Linear: x: expected float32 of shape (N, ", in_, ") or (N, *, ", in_, "), got ", shape_or_none(x));
  Tensor holder;
  const float* const xp = forward_input(x, saved_x_, holder);  // also what the product reads
  // Samples (x's first dim) of `per` rows each (a token sequence: (N, T, in)).
  const std::int64_t n = x.size(0), per = n > 0 ? x.numel() / (n * in_) : 0, in = in_, out = out_;
  Shape y_shape = x.shape();
  y_shape.back() = out_;
  Tensor y(y_shape);
  float* yp = y.data<float>();
  const float* wp = weight.value.data<float>();
  const float* bp = bias.value.defined() ? bias.value.data<float>() : nullptr;
  // y = x W^T (+ b), in fixed blocks of samples.
  for_each_block(n, kSamplesPerBlock, [=](std::int64_t, std::int64_t first_sample, std::int64_t samples) {
    const std::int64_t first = first_sample * per, rows = samples * per;
    if (bp != nullptr)
      for (std::int64_t i = first; i < first + rows; ++i)
        for (std::int64_t j = 0; j < out; ++j) yp[i * out + j] = bp[j];
    sgemm('N', 'T', rows, out, in, xp + first * in, in, wp, in, bp != nullptr ? 1.0f : 0.0f, yp + first * out, out);
  });
  return y;
}

Tensor Linear::backward(const TensorView& dy) {
  NORMKIT_CHECK(saved_x_.defined(), "Linear: backward before forward", kNoGradHint);
  const Shape& x_shape = saved_x_.shape();
  const std::int64_t n = x_shape[0], per = n > 0 ? saved_x_.numel() / (n * in_) : 0, in = in_, out = out_;
  Shape y_shape = x_shape;
  y_shape.back() = out_;
  check_output_gradient(dy, y_shape, "Linear");
  Tensor holder;
  const float* gp = contiguous_values(dy, holder);
  Tensor dx = input_gradient() ? Tensor(x_shape) : Tensor();  // sgemm writes all of it
  const float* xp = saved_x_.data<float>();
  const float* wp = weight.value.data<float>();
  float* dxp = dx.defined() ? dx.data<float>() : nullptr;
  // Per block of samples: dx = dy W for its rows, and its partial of the
  // parameters' gradients, dW = dy^T x and db = dy's column sums (in row
  // order), summed in the blocks' tree.
  const std::int64_t wn = out * in, bn = bias.value.defined() ? out : 0;
  std::vector<float> partial(static_cast<std::size_t>(block_count(n, kSamplesPerBlock) * (wn + bn)));
  float* const pp = partial.data();
  for_each_block(n, kSamplesPerBlock, [=](std::int64_t b, std::int64_t first_sample, std::int64_t samples) {
    const std::int64_t first = first_sample * per, rows = samples * per;
    if (dxp != nullptr) sgemm('N', 'N', rows, in, out, gp + first * out, out, wp, in, 0.0f, dxp + first * in, in);
    float* const block = pp + b * (wn + bn);
    sgemm('T', 'N', out, in, rows, gp + first * out, out, xp + first * in, in, 0.0f, block, in);
    for (std::int64_t j = 0; j < bn; ++j) {
      float sum = 0.0f;
      for (std::int64_t i = first; i < first + rows; ++i) sum += gp[i * out + j];
      block[wn + j] = sum;
    }
  });
  add_block_gradients(block_gradient_sum(), "Linear", n, partial, weight, bias);
  return dx;
}

}  // namespace normkit::nn
