#include "normkit/nn/conv2d.hpp"

#include <oneapi/dnnl/dnnl.hpp>

#include <map>
#include <vector>

#include "fixed_blocks.hpp"
#include "layer_checks.hpp"
#include "normkit/error.hpp"
#include "parallel_loop.hpp"

namespace normkit::nn {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// A primitive's scratchpad, per executing thread (user scratchpad mode: the
// library's shared one may not be used from several threads at once).
dnnl::memory scratchpad_for(const dnnl::memory::desc& desc) {
  thread_local std::vector<std::byte> buffer;
  if (buffer.size() < desc.get_size()) buffer.resize(desc.get_size());
  return dnnl::memory(desc, cpu_engine(), buffer.data());
}

}  // namespace

// oneDNN's primitives for one block of `samples` samples of an input shape.
struct Conv2d::BlockPrimitives {
  dnnl::memory::desc src, weights, bias, dst;
  dnnl::convolution_forward::primitive_desc forward_pd;
  dnnl::convolution_backward_data::primitive_desc backward_data_pd;
  dnnl::convolution_backward_weights::primitive_desc backward_weights_pd;
  dnnl::convolution_forward forward;
  dnnl::convolution_backward_data backward_data;
  dnnl::convolution_backward_weights backward_weights;
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

const Conv2d::BlockPrimitives& Conv2d::primitives(std::int64_t samples, std::int64_t h, std::int64_t w) {
  if (block_input_ != Shape{in_, h, w}) {
    blocks_.clear();
    block_input_ = {in_, h, w};
  }
  auto& slot = blocks_[samples];
  if (slot) return *slot;
  const std::int64_t k = kernel_, s = options_.stride, p = options_.padding, g = options_.groups;
  const std::int64_t ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1;
  const SingleThreadedSetup one_thread;  // the same configuration on every machine
  auto prim = std::make_unique<BlockPrimitives>();
  prim->src = dnnl::memory::desc({samples, in_, h, w}, dt::f32, tag::nchw);
  prim->weights = g == 1 ? dnnl::memory::desc({out_, in_, k, k}, dt::f32, tag::oihw)
                         : dnnl::memory::desc({g, out_ / g, in_ / g, k, k}, dt::f32, tag::goihw);
  prim->bias = bias.value.defined() ? dnnl::memory::desc({out_}, dt::f32, tag::a) : dnnl::memory::desc();
  prim->dst = dnnl::memory::desc({samples, out_, ho, wo}, dt::f32, tag::nchw);
  const dnnl::memory::dims strides{s, s}, padding{p, p};
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  prim->forward_pd = dnnl::convolution_forward::primitive_desc(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                      prim->src, prim->weights, prim->bias, prim->dst, strides, padding, padding),
      attr, cpu_engine());
  prim->backward_data_pd = dnnl::convolution_backward_data::primitive_desc(
      dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, prim->src, prim->weights, prim->dst,
                                            strides, padding, padding),
      attr, cpu_engine(), prim->forward_pd);
  prim->backward_weights_pd = dnnl::convolution_backward_weights::primitive_desc(
      dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, prim->src, prim->weights,
                                               prim->bias, prim->dst, strides, padding, padding),
      attr, cpu_engine(), prim->forward_pd);
  prim->forward = dnnl::convolution_forward(prim->forward_pd);
  prim->backward_data = dnnl::convolution_backward_data(prim->backward_data_pd);
  prim->backward_weights = dnnl::convolution_backward_weights(prim->backward_weights_pd);
  slot = std::move(prim);
  return *slot;
}

Tensor Conv2d::forward(const TensorView& x) {
  NORMKIT_CHECK(x.defined() && x.dtype() == DType::float32 && x.dim() == 4 && x.size(1) == in_,
                "Conv2d: x: expected float32 of shape (N, ", in_, ", H, W), got ",
                shape_or_none(x));
  const std::int64_t n = x.size(0), h = x.size(2), w = x.size(3), k = kernel_, s = options_.stride,
                     p = options_.padding;
  NORMKIT_CHECK(h + 2 * p >= k && w + 2 * p >= k, "Conv2d: x: the padded input (", h + 2 * p, "x", w + 2 * p,
                ") is smaller than the kernel (", k, "x", k, ")");
  const std::int64_t ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1;
  saved_x_ = Tensor::copy_of(x);
  Tensor y({n, out_, ho, wo});
  if (n == 0) return y;
  // Every block size this batch needs, made before the threads start.
  const BlockPrimitives& full = primitives(std::min(n, kSamplesPerBlock), h, w);
  const BlockPrimitives& tail = primitives(n % kSamplesPerBlock == 0 ? full.src.dims()[0] : n % kSamplesPerBlock, h, w);
  const std::int64_t in_sample = in_ * h * w, out_sample = out_ * ho * wo;
  for_each_block(n, kSamplesPerBlock, [&](std::int64_t, std::int64_t first, std::int64_t samples) {
    const BlockPrimitives& prim = samples == full.src.dims()[0] ? full : tail;
    dnnl::stream stream(cpu_engine());
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, dnnl::memory(prim.src, cpu_engine(), saved_x_.data<float>() + first * in_sample)},
        {DNNL_ARG_WEIGHTS, dnnl::memory(prim.weights, cpu_engine(), weight.value.data<float>())},
        {DNNL_ARG_DST, dnnl::memory(prim.dst, cpu_engine(), y.data<float>() + first * out_sample)},
        {DNNL_ARG_SCRATCHPAD, scratchpad_for(prim.forward_pd.scratchpad_desc())}};
    if (bias.value.defined())
      args.emplace(DNNL_ARG_BIAS, dnnl::memory(prim.bias, cpu_engine(), bias.value.data<float>()));
    prim.forward.execute(stream, args);
    stream.wait();
  });
  return y;
}

Tensor Conv2d::backward(const TensorView& dy) {
  NORMKIT_CHECK(saved_x_.defined() && !blocks_.empty(), "Conv2d: backward before forward");
  const std::int64_t n = saved_x_.shape()[0], h = saved_x_.shape()[2], w = saved_x_.shape()[3];
  const BlockPrimitives& full = primitives(std::min(n, kSamplesPerBlock), h, w);
  const BlockPrimitives& tail = primitives(n % kSamplesPerBlock == 0 ? full.src.dims()[0] : n % kSamplesPerBlock, h, w);
  const dnnl::memory::dims out_dims = full.dst.dims();
  check_output_gradient(dy, {n, out_dims[1], out_dims[2], out_dims[3]}, "Conv2d");
  Tensor dx = input_gradient() ? Tensor(saved_x_.shape()) : Tensor();  // oneDNN writes all of it
  if (n == 0) return dx;
  const Tensor g = Tensor::copy_of(dy);
  const std::int64_t in_sample = in_ * h * w, out_sample = out_dims[1] * out_dims[2] * out_dims[3];
  // Each block's weight (and bias) gradient, summed in block order below.
  const std::int64_t blocks = block_count(n, kSamplesPerBlock), wn = weight.value.numel();
  const std::int64_t bn = bias.value.defined() ? out_ : 0;
  std::vector<float> partial(static_cast<std::size_t>(blocks * (wn + bn)));
  for_each_block(n, kSamplesPerBlock, [&](std::int64_t b, std::int64_t first, std::int64_t samples) {
    const BlockPrimitives& prim = samples == full.src.dims()[0] ? full : tail;
    dnnl::stream stream(cpu_engine());
    const dnnl::memory diff_dst(prim.dst, cpu_engine(), g.data<float>() + first * out_sample);
    if (dx.defined())
      prim.backward_data.execute(
          stream, {{DNNL_ARG_DIFF_DST, diff_dst},
                   {DNNL_ARG_WEIGHTS, dnnl::memory(prim.weights, cpu_engine(), weight.value.data<float>())},
                   {DNNL_ARG_DIFF_SRC, dnnl::memory(prim.src, cpu_engine(), dx.data<float>() + first * in_sample)},
                   {DNNL_ARG_SCRATCHPAD, scratchpad_for(prim.backward_data_pd.scratchpad_desc())}});
    float* dw = partial.data() + b * (wn + bn);
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, dnnl::memory(prim.src, cpu_engine(), saved_x_.data<float>() + first * in_sample)},
        {DNNL_ARG_DIFF_DST, diff_dst},
        {DNNL_ARG_DIFF_WEIGHTS, dnnl::memory(prim.weights, cpu_engine(), dw)},
        {DNNL_ARG_SCRATCHPAD, scratchpad_for(prim.backward_weights_pd.scratchpad_desc())}};
    if (bn > 0) args.emplace(DNNL_ARG_DIFF_BIAS, dnnl::memory(prim.bias, cpu_engine(), dw + wn));
    prim.backward_weights.execute(stream, args);
    stream.wait();
  });
  // Gradients accumulate (oneDNN overwrites), block 0 first, as PyTorch's += .
  float* weight_grad = weight.grad.data<float>();
  float* bias_grad = bn > 0 ? bias.grad.data<float>() : nullptr;
  const float* parts = partial.data();
  parallel_for_elements(wn + bn, [=](std::int64_t i) {
    float sum = 0.0f;
    for (std::int64_t b = 0; b < blocks; ++b) sum += parts[b * (wn + bn) + i];
    if (i < wn) weight_grad[i] += sum;
    else bias_grad[i - wn] += sum;
  });
  return dx;
}

}  // namespace normkit::nn
