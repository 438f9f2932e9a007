#include "normkit/nn/conv2d.hpp"

#include "normkit/nn/grad_mode.hpp"

#include <oneapi/dnnl/dnnl.hpp>
#include <oneapi/dnnl/dnnl_version.h>

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

// oneDNN 2.x (Debian 12) and 3.x both build normkit: the two places where
// their C++ APIs differ are here and in Conv2d::primitives (README, "oneDNN 3").
#if DNNL_VERSION_MAJOR >= 3
dnnl::memory::dims dims_of(const dnnl::memory::desc& d) { return d.get_dims(); }
#else
dnnl::memory::dims dims_of(const dnnl::memory::desc& d) { return d.dims(); }
#endif

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// Per executing thread, the buffers one block's execution needs: the
// primitive's scratchpad (user scratchpad mode: the library's shared one may
// not be used from several threads at once) and the block's tensors in the
// primitive's own (blocked) formats.
enum class Buffer { scratchpad, src, dst, diff_dst, diff_weights, count };

std::byte* thread_buffer(Buffer which, std::size_t bytes) {
  thread_local std::vector<std::byte> buffers[static_cast<int>(Buffer::count)];
  std::vector<std::byte>& b = buffers[static_cast<int>(which)];
  if (b.size() < bytes) b.resize(bytes);
  return b.data();
}

dnnl::memory scratchpad_for(const dnnl::memory::desc& desc) {
  return dnnl::memory(desc, cpu_engine(), thread_buffer(Buffer::scratchpad, desc.get_size()));
}

// A reorder between two layouts of the same tensor, or none when they are
// the same layout (then the plain memory is used directly).
struct Layout {
  dnnl::memory::desc plain, chosen;
  dnnl::reorder to_chosen, to_plain;  // set only when the layouts differ

  Layout() = default;
  Layout(const dnnl::memory::desc& p, const dnnl::memory::desc& c) : plain(p), chosen(c) {
    if (plain == chosen) return;
    to_chosen = dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), plain, cpu_engine(), chosen));
    to_plain = dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), chosen, cpu_engine(), plain));
  }
  bool same() const { return plain == chosen; }

  // `data` (plain) as the primitive wants it to read: itself, or a copy in
  // the thread's buffer.
  dnnl::memory input(dnnl::stream& stream, float* data, Buffer buffer) const {
    dnnl::memory source(plain, cpu_engine(), data);
    if (same()) return source;
    dnnl::memory converted(chosen, cpu_engine(), thread_buffer(buffer, chosen.get_size()));
    to_chosen.execute(stream, source, converted);
    return converted;
  }
  // Where the primitive writes a result bound for `data` (plain); finish()
  // puts it there.
  dnnl::memory output(float* data, Buffer buffer) const {
    if (same()) return dnnl::memory(plain, cpu_engine(), data);
    return dnnl::memory(chosen, cpu_engine(), thread_buffer(buffer, chosen.get_size()));
  }
  void finish(dnnl::stream& stream, dnnl::memory& written, float* data) const {
    if (same()) return;
    dnnl::memory target(plain, cpu_engine(), data);
    to_plain.execute(stream, written, target);
  }
};

}  // namespace

// oneDNN's primitives for one block of `samples` samples of an input shape,
// and the layouts each wants its tensors in (plain NCHW/OIHW, or oneDNN's
// blocked formats where it is faster).
struct Conv2d::BlockPrimitives {
  std::int64_t samples;
  dnnl::memory::desc bias;
  dnnl::convolution_forward::primitive_desc forward_pd;
  dnnl::convolution_backward_data::primitive_desc backward_data_pd;
  dnnl::convolution_backward_weights::primitive_desc backward_weights_pd;
  dnnl::convolution_forward forward;
  dnnl::convolution_backward_data backward_data;
  dnnl::convolution_backward_weights backward_weights;
  // forward: src, weights, dst; backward data: diff_dst, weights, diff_src;
  // backward weights: src, diff_dst, diff_weights.
  Layout fwd_src, fwd_weights, fwd_dst, bwd_diff_dst, bwd_weights, bwd_diff_src, w_src, w_diff_dst, w_diff_weights;
  std::vector<float> weights_for_forward, weights_for_backward;  // the layer's weights in those layouts
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

Conv2d::BlockPrimitives& Conv2d::primitives(std::int64_t samples, std::int64_t h, std::int64_t w) {
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
  prim->samples = samples;
  const dnnl::memory::desc src({samples, in_, h, w}, dt::f32, tag::nchw);
  const dnnl::memory::desc weights = g == 1 ? dnnl::memory::desc({out_, in_, k, k}, dt::f32, tag::oihw)
                                            : dnnl::memory::desc({g, out_ / g, in_ / g, k, k}, dt::f32, tag::goihw);
  const dnnl::memory::desc dst({samples, out_, ho, wo}, dt::f32, tag::nchw);
  prim->bias = bias.value.defined() ? dnnl::memory::desc({out_}, dt::f32, tag::a) : dnnl::memory::desc();
  // oneDNN's blocked layouts (its direct JIT kernels) win from 8 channels in
  // and out (32 -> 64 channels at 14x14: 1.7x); below that its GEMM-based
  // kernels on NCHW do.
  const bool blocked = g == 1 && in_ % 8 == 0 && out_ % 8 == 0;
  const auto any = [&](const dnnl::memory::desc& d) {
    return blocked ? dnnl::memory::desc(dims_of(d), dt::f32, tag::any) : d;
  };
  const dnnl::memory::dims strides{s, s}, padding{p, p};
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const auto direct = dnnl::algorithm::convolution_direct;
#if DNNL_VERSION_MAJOR >= 3
  // oneDNN 3: primitive descriptors straight from the engine and the shapes.
  prim->forward_pd = dnnl::convolution_forward::primitive_desc(
      cpu_engine(), dnnl::prop_kind::forward_training, direct, any(src), any(weights), prim->bias, any(dst), strides,
      padding, padding, attr);
  prim->backward_data_pd = dnnl::convolution_backward_data::primitive_desc(
      cpu_engine(), direct, any(src), any(weights), any(dst), strides, padding, padding, prim->forward_pd, attr);
  prim->backward_weights_pd = dnnl::convolution_backward_weights::primitive_desc(
      cpu_engine(), direct, any(src), any(weights), prim->bias, any(dst), strides, padding, padding, prim->forward_pd,
      attr);
#else
  // oneDNN 2: an operation descriptor first, then its primitive descriptor.
  prim->forward_pd = dnnl::convolution_forward::primitive_desc(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, direct, any(src), any(weights), prim->bias,
                                      any(dst), strides, padding, padding),
      attr, cpu_engine());
  prim->backward_data_pd = dnnl::convolution_backward_data::primitive_desc(
      dnnl::convolution_backward_data::desc(direct, any(src), any(weights), any(dst), strides, padding, padding),
      attr, cpu_engine(), prim->forward_pd);
  prim->backward_weights_pd = dnnl::convolution_backward_weights::primitive_desc(
      dnnl::convolution_backward_weights::desc(direct, any(src), any(weights), prim->bias, any(dst), strides, padding,
                                               padding),
      attr, cpu_engine(), prim->forward_pd);
#endif
  prim->forward = dnnl::convolution_forward(prim->forward_pd);
  prim->backward_data = dnnl::convolution_backward_data(prim->backward_data_pd);
  prim->backward_weights = dnnl::convolution_backward_weights(prim->backward_weights_pd);
  prim->fwd_src = Layout(src, prim->forward_pd.src_desc());
  prim->fwd_weights = Layout(weights, prim->forward_pd.weights_desc());
  prim->fwd_dst = Layout(dst, prim->forward_pd.dst_desc());
  prim->bwd_diff_dst = Layout(dst, prim->backward_data_pd.diff_dst_desc());
  prim->bwd_weights = Layout(weights, prim->backward_data_pd.weights_desc());
  prim->bwd_diff_src = Layout(src, prim->backward_data_pd.diff_src_desc());
  prim->w_src = Layout(src, prim->backward_weights_pd.src_desc());
  prim->w_diff_dst = Layout(dst, prim->backward_weights_pd.diff_dst_desc());
  prim->w_diff_weights = Layout(weights, prim->backward_weights_pd.diff_weights_desc());
  slot = std::move(prim);
  return *slot;
}

std::pair<Conv2d::BlockPrimitives&, Conv2d::BlockPrimitives&> Conv2d::batch_primitives(std::int64_t n, std::int64_t h,
                                                                                      std::int64_t w) {
  BlockPrimitives& full = primitives(std::min(n, kSamplesPerBlock), h, w);
  const std::int64_t last = n % kSamplesPerBlock;
  return {full, last == 0 ? full : primitives(last, h, w)};
}

namespace {

// The layer's weights in a primitive's layout: the plain tensor itself, or
// its reordered copy in `copy`.
float* weights_in(const Layout& layout, const Tensor& weights, std::vector<float>& copy) {
  float* plain = const_cast<float*>(weights.data<float>());  // oneDNN reads it only
  if (layout.same()) return plain;
  copy.resize(layout.chosen.get_size() / sizeof(float));
  dnnl::stream stream(cpu_engine());
  dnnl::memory source(layout.plain, cpu_engine(), plain), target(layout.chosen, cpu_engine(), copy.data());
  layout.to_chosen.execute(stream, source, target);
  stream.wait();
  return copy.data();
}

}  // namespace

Tensor Conv2d::forward(const TensorView& x) {
  NORMKIT_CHECK(x.defined() && x.dtype() == DType::float32 && x.dim() == 4 && x.size(1) == in_,
                "Conv2d: x: expected float32 of shape (N, ", in_, ", H, W), got ",
                shape_or_none(x));
  const std::int64_t n = x.size(0), h = x.size(2), w = x.size(3), k = kernel_, s = options_.stride,
                     p = options_.padding;
  NORMKIT_CHECK(h + 2 * p >= k && w + 2 * p >= k, "Conv2d: x: the padded input (", h + 2 * p, "x", w + 2 * p,
                ") is smaller than the kernel (", k, "x", k, ")");
  const std::int64_t ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1;
  // The input, contiguous: kept for backward, or read where it is under NoGrad.
  Tensor holder;
  const float* const input = forward_input(x, saved_x_, holder);
  Tensor y({n, out_, ho, wo});
  if (n == 0) return y;
  // The weights in each block size's layout.
  // (References, not a structured binding: clang 14, the fuzzers' compiler,
  // cannot capture one in a lambda.)
  const auto primitives = batch_primitives(n, h, w);
  BlockPrimitives& full = primitives.first;
  BlockPrimitives& tail = primitives.second;
  float* const full_weights = weights_in(full.fwd_weights, weight.value, full.weights_for_forward);
  float* const tail_weights =
      &tail == &full ? full_weights : weights_in(tail.fwd_weights, weight.value, tail.weights_for_forward);
  const std::int64_t in_sample = in_ * h * w, out_sample = out_ * ho * wo;
  for_each_block(n, kSamplesPerBlock, [&](std::int64_t, std::int64_t first, std::int64_t samples) {
    const BlockPrimitives& prim = samples == full.samples ? full : tail;
    // (oneDNN's source memory takes a float*; the forward only reads it.)
    float* const x_block = const_cast<float*>(input) + first * in_sample;
    float* const y_block = y.data<float>() + first * out_sample;
    dnnl::stream stream(cpu_engine());
    dnnl::memory dst = prim.fwd_dst.output(y_block, Buffer::dst);
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, prim.fwd_src.input(stream, x_block, Buffer::src)},
        {DNNL_ARG_WEIGHTS, dnnl::memory(prim.fwd_weights.chosen, cpu_engine(),
                                        samples == full.samples ? full_weights : tail_weights)},
        {DNNL_ARG_DST, dst},
        {DNNL_ARG_SCRATCHPAD, scratchpad_for(prim.forward_pd.scratchpad_desc())}};
    if (bias.value.defined())
      args.emplace(DNNL_ARG_BIAS, dnnl::memory(prim.bias, cpu_engine(), bias.value.data<float>()));
    prim.forward.execute(stream, args);
    prim.fwd_dst.finish(stream, dst, y_block);
    stream.wait();
  });
  return y;
}

Tensor Conv2d::backward(const TensorView& dy) {
  NORMKIT_CHECK(saved_x_.defined() && !blocks_.empty(), "Conv2d: backward before forward", kNoGradHint);
  const std::int64_t n = saved_x_.shape()[0], h = saved_x_.shape()[2], w = saved_x_.shape()[3];
  // (References, not a structured binding: clang 14, the fuzzers' compiler,
  // cannot capture one in a lambda.)
  const auto primitives = batch_primitives(n, h, w);
  BlockPrimitives& full = primitives.first;
  BlockPrimitives& tail = primitives.second;
  const dnnl::memory::dims out_dims = dims_of(full.fwd_dst.plain);
  check_output_gradient(dy, {n, out_dims[1], out_dims[2], out_dims[3]}, "Conv2d");
  Tensor dx = input_gradient() ? Tensor(saved_x_.shape()) : Tensor();  // oneDNN writes all of it
  // Each block's weight (and bias) gradient, plain, summed in the blocks' tree below.
  const std::int64_t blocks = block_count(n, kSamplesPerBlock), wn = weight.value.numel();
  const std::int64_t bn = bias.value.defined() ? out_ : 0;
  std::vector<float> partial(static_cast<std::size_t>(blocks * (wn + bn)));
  if (n == 0) {  // no samples: nothing to compute, but the sum still takes part (across ranks)
    add_block_gradients(block_gradient_sum(), "Conv2d", 0, partial, weight, bias);
    return dx;
  }
  Tensor holder;
  const float* const dy_values = contiguous_values(dy, holder);
  float* const full_weights = dx.defined() ? weights_in(full.bwd_weights, weight.value, full.weights_for_backward) : nullptr;
  float* const tail_weights = !dx.defined() || &tail == &full
                                  ? full_weights
                                  : weights_in(tail.bwd_weights, weight.value, tail.weights_for_backward);
  const std::int64_t in_sample = in_ * h * w, out_sample = out_dims[1] * out_dims[2] * out_dims[3];
  for_each_block(n, kSamplesPerBlock, [&](std::int64_t b, std::int64_t first, std::int64_t samples) {
    const BlockPrimitives& prim = samples == full.samples ? full : tail;
    float* const x_block = saved_x_.data<float>() + first * in_sample;
    float* const dy_block = const_cast<float*>(dy_values) + first * out_sample;
    dnnl::stream stream(cpu_engine());
    if (dx.defined()) {
      float* const dx_block = dx.data<float>() + first * in_sample;
      dnnl::memory diff_src = prim.bwd_diff_src.output(dx_block, Buffer::src);
      prim.backward_data.execute(
          stream, {{DNNL_ARG_DIFF_DST, prim.bwd_diff_dst.input(stream, dy_block, Buffer::diff_dst)},
                   {DNNL_ARG_WEIGHTS, dnnl::memory(prim.bwd_weights.chosen, cpu_engine(),
                                                   samples == full.samples ? full_weights : tail_weights)},
                   {DNNL_ARG_DIFF_SRC, diff_src},
                   {DNNL_ARG_SCRATCHPAD, scratchpad_for(prim.backward_data_pd.scratchpad_desc())}});
      prim.bwd_diff_src.finish(stream, diff_src, dx_block);
    }
    float* const dw = partial.data() + b * (wn + bn);
    dnnl::memory diff_weights = prim.w_diff_weights.output(dw, Buffer::diff_weights);
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, prim.w_src.input(stream, x_block, Buffer::src)},
        {DNNL_ARG_DIFF_DST, prim.w_diff_dst.input(stream, dy_block, Buffer::diff_dst)},
        {DNNL_ARG_DIFF_WEIGHTS, diff_weights},
        {DNNL_ARG_SCRATCHPAD, scratchpad_for(prim.backward_weights_pd.scratchpad_desc())}};
    if (bn > 0) args.emplace(DNNL_ARG_DIFF_BIAS, dnnl::memory(prim.bias, cpu_engine(), dw + wn));
    prim.backward_weights.execute(stream, args);
    prim.w_diff_weights.finish(stream, diff_weights, dw);
    stream.wait();
  });
  add_block_gradients(block_gradient_sum(), "Conv2d", n, partial, weight, bias);
  return dx;
}

}  // namespace normkit::nn
