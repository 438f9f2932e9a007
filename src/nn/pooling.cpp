#include "normkit/nn/pooling.hpp"

#include "normkit/nn/grad_mode.hpp"

#include <cmath>
#include <cstdint>

#include "layer_checks.hpp"
#include "parallel_loop.hpp"
#include "normkit/error.hpp"

namespace normkit::nn {
namespace {

void check_images(const TensorView& x, const char* layer) {
  NORMKIT_CHECK(x.defined() && x.dtype() == DType::float32 && x.dim() == 4, layer,
                ": x: expected float32 of shape (N, C, H, W), got ",
                shape_or_none(x));
}

// Whether v replaces the running maximum m: larger, or NaN over a number
// (NaN wins, as PyTorch). Written as selects: maxima of noise would
// mispredict branches half the time, and selects vectorize.
inline bool takes_over(float v, float m) { return v > m || (v != v && m == m); }

// The maxima of one plane's k x k windows at stride s (rows of width w), and
// where they are, windows scanned row by row.
void pool_plane(const float* p, std::int64_t w, std::int64_t ho, std::int64_t wo, std::int64_t k, std::int64_t s,
                float* out, std::int32_t* arg) {
  for (std::int64_t i = 0; i < ho; ++i)
    for (std::int64_t j = 0; j < wo; ++j) {
      std::int64_t best = i * s * w + j * s;
      float best_value = p[best];
      for (std::int64_t a = 0; a < k; ++a)
        for (std::int64_t b = 0; b < k; ++b) {
          const std::int64_t at = (i * s + a) * w + j * s + b;
          const bool take = takes_over(p[at], best_value);
          best = take ? at : best;
          best_value = take ? p[at] : best_value;
        }
      out[i * wo + j] = best_value;
      arg[i * wo + j] = static_cast<std::int32_t>(best);
    }
}

// The same for 2 x 2 windows at stride 2, one output row at a time (rows r0
// and r1 = r0 + w of the plane, r0 starting at plane offset `at`): the same
// scan order, in a loop the compiler vectorizes.
void pool_row_2x2(const float* __restrict r0, const float* __restrict r1, std::int64_t wo, std::int32_t at,
                  std::int32_t w, float* __restrict out, std::int32_t* __restrict arg) {
  for (std::int64_t j = 0; j < wo; ++j) {
    const std::int32_t first = at + 2 * static_cast<std::int32_t>(j);
    float m = r0[2 * j];
    std::int32_t where = first;
    bool take = takes_over(r0[2 * j + 1], m);
    m = take ? r0[2 * j + 1] : m, where = take ? first + 1 : where;
    take = takes_over(r1[2 * j], m);
    m = take ? r1[2 * j] : m, where = take ? first + w : where;
    take = takes_over(r1[2 * j + 1], m);
    m = take ? r1[2 * j + 1] : m, where = take ? first + w + 1 : where;
    out[j] = m;
    arg[j] = where;
  }
}

}  // namespace

MaxPool2d::MaxPool2d(std::int64_t kernel_size, std::int64_t stride)
    : Layer("MaxPool2d"), kernel_(kernel_size), stride_(stride == 0 ? kernel_size : stride) {
  NORMKIT_CHECK(kernel_size >= 1 && stride >= 0, "MaxPool2d: expected kernel_size >= 1 and stride >= 0, got ",
                kernel_size, " and ", stride);
}

Tensor MaxPool2d::forward(const TensorView& x) {
  check_images(x, "MaxPool2d");
  const std::int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  NORMKIT_CHECK(h >= kernel_ && w >= kernel_, "MaxPool2d: x: the input (", h, "x", w, ") is smaller than the window (",
                kernel_, "x", kernel_, ")");
  NORMKIT_CHECK(h * w <= INT32_MAX, "MaxPool2d: x: planes of more than 2^31 values are not supported");
  const std::int64_t ho = (h - kernel_) / stride_ + 1, wo = (w - kernel_) / stride_ + 1;
  // A contiguous input is read where it is; any other is copied first.
  const Tensor src = x.is_contiguous() ? Tensor() : Tensor::copy_of(x);
  Tensor y({n, c, ho, wo});
  input_shape_ = grad_enabled() ? x.shape() : Shape{};
  output_shape_ = y.shape();
  argmax_.resize(static_cast<std::size_t>(y.numel()));
  const float* in = src.defined() ? src.data<float>() : x.data<float>();
  float* out = y.data<float>();
  std::int32_t* arg = argmax_.data();
  if (kernel_ == 2 && stride_ == 2)
    parallel_for_items(n * c, h * w, [=](std::int64_t plane) {
      const float* p = in + plane * h * w;
      for (std::int64_t i = 0; i < ho; ++i)
        pool_row_2x2(p + 2 * i * w, p + (2 * i + 1) * w, wo, static_cast<std::int32_t>(2 * i * w),
                     static_cast<std::int32_t>(w), out + (plane * ho + i) * wo, arg + (plane * ho + i) * wo);
    });
  else
    parallel_for_items(n * c, h * w, [=, k = kernel_, s = stride_](std::int64_t plane) {
      pool_plane(in + plane * h * w, w, ho, wo, k, s, out + plane * ho * wo, arg + plane * ho * wo);
    });
  return y;
}

Tensor MaxPool2d::backward(const TensorView& dy) {
  NORMKIT_CHECK(!input_shape_.empty(), "MaxPool2d: backward before forward", kNoGradHint);
  check_output_gradient(dy, output_shape_, "MaxPool2d");
  Tensor holder;
  const float* grad_out = contiguous_values(dy, holder);
  Tensor dx = Tensor::zeros(input_shape_);
  const std::int64_t planes = input_shape_[0] * input_shape_[1], in_plane = input_shape_[2] * input_shape_[3];
  const std::int64_t out_plane = output_shape_[2] * output_shape_[3];
  // Windows may overlap (stride < kernel): each plane is one thread's, so the
  // additions into it keep their order.
  float* grad_in = dx.data<float>();
  const std::int32_t* argmax = argmax_.data();
  parallel_for_items(planes, in_plane, [=](std::int64_t plane) {
    for (std::int64_t o = 0; o < out_plane; ++o)
      grad_in[plane * in_plane + argmax[plane * out_plane + o]] += grad_out[plane * out_plane + o];
  });
  return dx;
}

Tensor GlobalAvgPool2d::forward(const TensorView& x) {
  check_images(x, "GlobalAvgPool2d");
  input_shape_ = grad_enabled() ? x.shape() : Shape{};
  const Tensor c = Tensor::copy_of(x);
  const std::int64_t rows = x.size(0) * x.size(1), area = x.size(2) * x.size(3);
  Tensor y({x.size(0), x.size(1)});
  const float* in = c.data<float>();
  float* out = y.data<float>();
  parallel_for_items(rows, area, [=](std::int64_t r) {
    double sum = 0;
    for (std::int64_t i = 0; i < area; ++i) sum += in[r * area + i];
    out[r] = area > 0 ? static_cast<float>(sum / static_cast<double>(area)) : 0.0f;
  });
  return y;
}

Tensor GlobalAvgPool2d::backward(const TensorView& dy) {
  NORMKIT_CHECK(!input_shape_.empty(), "GlobalAvgPool2d: backward before forward", kNoGradHint);
  const Shape expected{input_shape_[0], input_shape_[1]};
  check_output_gradient(dy, expected, "GlobalAvgPool2d");
  const Tensor g = Tensor::copy_of(dy);
  const std::int64_t rows = expected[0] * expected[1], area = input_shape_[2] * input_shape_[3];
  Tensor dx(input_shape_);
  const float* grad_out = g.data<float>();
  float* grad_in = dx.data<float>();
  parallel_for_items(rows, area, [=](std::int64_t r) {
    const float v = area > 0 ? grad_out[r] / static_cast<float>(area) : 0.0f;
    for (std::int64_t i = 0; i < area; ++i) grad_in[r * area + i] = v;
  });
  return dx;
}

}  // namespace normkit::nn
