#include "normkit/nn/conv2d.hpp"

#include <oneapi/dnnl/dnnl.hpp>

#include <unordered_map>

#include "layer_checks.hpp"
#include "normkit/error.hpp"

namespace normkit::nn {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

}  // namespace

struct Conv2d::Primitives {
  Shape input;
  dnnl::memory::desc src, weights, bias, dst;
  dnnl::convolution_forward::primitive_desc forward;
  dnnl::convolution_backward_data::primitive_desc backward_data;
  dnnl::convolution_backward_weights::primitive_desc backward_weights;
};

Conv2d::Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, Generator& gen,
               Conv2dOptions options)
    : Layer("Conv2d"), in_(in_channels), out_(out_channels), kernel_(kernel_size), options_(options) {
  NORMKIT_CHECK(in_channels > 0 && out_channels > 0 && kernel_size > 0,
                "Conv2d: expected in_channels, out_channels and kernel_size > 0, got ", in_channels, ", ",
                out_channels, ", ", kernel_size);
  NORMKIT_CHECK(options.stride >= 1 && options.padding >= 0, "Conv2d: expected stride >= 1 and padding >= 0, got ",
                options.stride, " and ", options.padding);
  NORMKIT_CHECK(options.groups >= 1 && in_channels % options.groups == 0 && out_channels % options.groups == 0,
                "Conv2d: groups: expected a divisor of in_channels (", in_channels, ") and out_channels (",
                out_channels, "), got ", options.groups);
  const Shape shape{out_, in_ / options.groups, kernel_, kernel_};
  const std::int64_t fan_in = in_ / options.groups * kernel_ * kernel_, fan_out = out_ / options.groups * kernel_ * kernel_;
  InitialParameters initial = initial_parameters(shape, out_, fan_in, fan_out, options.init, options.bias, gen);
  weight = Parameter(std::move(initial.weight));
  if (options.bias) bias = Parameter(std::move(initial.bias));
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Conv2d::~Conv2d() = default;

Tensor Conv2d::forward(const TensorView& x) {
  NORMKIT_CHECK(x.defined() && x.dtype() == DType::float32 && x.dim() == 4 && x.size(1) == in_,
                "Conv2d: x: expected float32 of shape (N, ", in_, ", H, W), got ",
                shape_or_none(x));
  const std::int64_t n = x.size(0), h = x.size(2), w = x.size(3), k = kernel_, s = options_.stride,
                     p = options_.padding, g = options_.groups;
  NORMKIT_CHECK(h + 2 * p >= k && w + 2 * p >= k, "Conv2d: x: the padded input (", h + 2 * p, "x", w + 2 * p,
                ") is smaller than the kernel (", k, "x", k, ")");
  const std::int64_t ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1;
  saved_x_ = Tensor::copy_of(x);
  if (!primitives_ || primitives_->input != x.shape()) {
    auto prim = std::make_unique<Primitives>();
    prim->input = x.shape();
    prim->src = dnnl::memory::desc({n, in_, h, w}, dt::f32, tag::nchw);
    prim->weights = g == 1 ? dnnl::memory::desc({out_, in_, k, k}, dt::f32, tag::oihw)
                           : dnnl::memory::desc({g, out_ / g, in_ / g, k, k}, dt::f32, tag::goihw);
    prim->bias = bias.value.defined() ? dnnl::memory::desc({out_}, dt::f32, tag::a) : dnnl::memory::desc();
    prim->dst = dnnl::memory::desc({n, out_, ho, wo}, dt::f32, tag::nchw);
    const dnnl::memory::dims strides{s, s}, padding{p, p};
    prim->forward = dnnl::convolution_forward::primitive_desc(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                        prim->src, prim->weights, prim->bias, prim->dst, strides, padding, padding),
        cpu_engine());
    prim->backward_data = dnnl::convolution_backward_data::primitive_desc(
        dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, prim->src, prim->weights,
                                              prim->dst, strides, padding, padding),
        cpu_engine(), prim->forward);
    prim->backward_weights = dnnl::convolution_backward_weights::primitive_desc(
        dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, prim->src, prim->weights,
                                                 prim->bias, prim->dst, strides, padding, padding),
        cpu_engine(), prim->forward);
    primitives_ = std::move(prim);
  }
  Tensor y({n, out_, ho, wo});
  if (n == 0) return y;
  dnnl::stream stream(cpu_engine());
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, dnnl::memory(primitives_->src, cpu_engine(), saved_x_.data<float>())},
      {DNNL_ARG_WEIGHTS, dnnl::memory(primitives_->weights, cpu_engine(), weight.value.data<float>())},
      {DNNL_ARG_DST, dnnl::memory(primitives_->dst, cpu_engine(), y.data<float>())}};
  if (bias.value.defined())
    args.emplace(DNNL_ARG_BIAS, dnnl::memory(primitives_->bias, cpu_engine(), bias.value.data<float>()));
  dnnl::convolution_forward(primitives_->forward).execute(stream, args);
  stream.wait();
  return y;
}

Tensor Conv2d::backward(const TensorView& dy) {
  NORMKIT_CHECK(saved_x_.defined() && primitives_, "Conv2d: backward before forward");
  const dnnl::memory::dims out_dims = primitives_->dst.dims();
  const Shape expected(out_dims.begin(), out_dims.end());
  check_output_gradient(dy, expected, "Conv2d");
  Tensor dx = Tensor::zeros(saved_x_.shape());
  if (saved_x_.shape()[0] == 0) return dx;
  const Tensor g = Tensor::copy_of(dy);
  Tensor dw(weight.value.shape()), db = bias.value.defined() ? Tensor({out_}) : Tensor();
  dnnl::stream stream(cpu_engine());
  const dnnl::memory diff_dst(primitives_->dst, cpu_engine(), g.data<float>());
  dnnl::convolution_backward_data(primitives_->backward_data)
      .execute(stream, {{DNNL_ARG_DIFF_DST, diff_dst},
                        {DNNL_ARG_WEIGHTS, dnnl::memory(primitives_->weights, cpu_engine(), weight.value.data<float>())},
                        {DNNL_ARG_DIFF_SRC, dnnl::memory(primitives_->src, cpu_engine(), dx.data<float>())}});
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, dnnl::memory(primitives_->src, cpu_engine(), saved_x_.data<float>())},
      {DNNL_ARG_DIFF_DST, diff_dst},
      {DNNL_ARG_DIFF_WEIGHTS, dnnl::memory(primitives_->weights, cpu_engine(), dw.data<float>())}};
  if (db.defined()) args.emplace(DNNL_ARG_DIFF_BIAS, dnnl::memory(primitives_->bias, cpu_engine(), db.data<float>()));
  dnnl::convolution_backward_weights(primitives_->backward_weights).execute(stream, args);
  stream.wait();
  weight.accumulate(dw);  // oneDNN overwrites; gradients accumulate, as PyTorch's
  if (db.defined()) bias.accumulate(db);
  return dx;
}

}  // namespace normkit::nn
