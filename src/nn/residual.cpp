#include "normkit/nn/residual.hpp"

#include "normkit/error.hpp"
#include "parallel_loop.hpp"

namespace normkit::nn {
namespace {

Tensor sum(const Tensor& a, const Tensor& b) { return sum_of(a, b, "ResidualBlock: the branches'"); }

// A norm layer's forward and backward, or the identity for "none" (null).
Tensor through_norm(const std::unique_ptr<Layer>& norm, const Tensor& x) { return norm ? norm->forward(x) : x; }
Tensor back_through_norm(const std::unique_ptr<Layer>& norm, const Tensor& dy) {
  return norm ? norm->backward(dy) : dy;
}

}  // namespace

ResidualBlock::ResidualBlock(std::int64_t in_channels, std::int64_t out_channels, std::int64_t stride,
                             std::int64_t in_size, const MapNormFactory& make_norm, ResidualForm form, Generator& gen)
    : Layer("ResidualBlock"), form_(form) {
  NORMKIT_CHECK(in_size >= 1 && stride >= 1, "ResidualBlock: in_size and stride: expected >= 1, got ", in_size,
                " and ", stride);
  const std::int64_t out_size = (in_size - 1) / stride + 1;  // 3x3, padding 1
  // Pre-activation: the first norm sees the block's input. (Norms draw no
  // random numbers: making them first leaves the weights' draws in order.)
  norm1_ = form == ResidualForm::pre_activation ? make_norm(in_channels, in_size, in_size)
                                                : make_norm(out_channels, out_size, out_size);
  norm2_ = make_norm(out_channels, out_size, out_size);
  const bool with_bias = norm1_ == nullptr;
  conv1_ = std::make_unique<Conv2d>(in_channels, out_channels, 3, gen,
                                    Conv2dOptions{.stride = stride, .padding = 1, .bias = with_bias, .init = Init::kaiming_normal});
  conv2_ = std::make_unique<Conv2d>(out_channels, out_channels, 3, gen,
                                    Conv2dOptions{.padding = 1, .bias = with_bias, .init = Init::kaiming_normal});
  register_module("conv1", conv1_.get());
  if (norm1_) register_module("bn1", norm1_.get());
  register_module("conv2", conv2_.get());
  if (norm2_) register_module("bn2", norm2_.get());
  if (stride != 1 || in_channels != out_channels) {
    downsample_ = std::make_unique<Sequential>();
    auto shortcut_norm = make_norm(out_channels, out_size, out_size);
    downsample_->add(std::make_unique<Conv2d>(in_channels, out_channels, 1, gen,
                                              Conv2dOptions{.stride = stride, .bias = shortcut_norm == nullptr, .init = Init::kaiming_normal}));
    if (shortcut_norm) downsample_->add(std::move(shortcut_norm));
    register_module("downsample", downsample_.get());
  }
}

void ResidualBlock::convert_children(const LayerConverter& convert) {
  // Every child is offered to `convert` (which may also just visit them);
  // the convolutions stay convolutions.
  for (auto [key, conv] : {std::pair{"conv1", conv1_.get()}, std::pair{"conv2", conv2_.get()}})
    NORMKIT_CHECK(convert(*conv) == nullptr, "ResidualBlock: ", key, ": a convolution cannot be replaced");
  convert_child(convert, "bn1", norm1_);
  convert_child(convert, "bn2", norm2_);
  if (downsample_) downsample_->convert_children(convert);
}

Tensor ResidualBlock::forward(const TensorView& x) {
  const Tensor input = Tensor::copy_of(x);
  const Tensor shortcut = downsample_ ? downsample_->forward(input) : input;
  if (form_ == ResidualForm::post_activation) {
    const Tensor h = relu1_.forward(through_norm(norm1_, conv1_->forward(input)));
    return relu2_.forward(sum(through_norm(norm2_, conv2_->forward(h)), shortcut));
  }
  const Tensor h = conv1_->forward(relu1_.forward(through_norm(norm1_, input)));
  return sum(conv2_->forward(relu2_.forward(through_norm(norm2_, h))), shortcut);
}

Tensor ResidualBlock::backward(const TensorView& dy) {
  Tensor g = Tensor::copy_of(dy);
  if (form_ == ResidualForm::post_activation) g = relu2_.backward(g);
  const Tensor to_shortcut = downsample_ ? downsample_->backward(g) : g;
  Tensor main;
  if (form_ == ResidualForm::post_activation) {
    const Tensor gh = conv2_->backward(back_through_norm(norm2_, g));
    main = conv1_->backward(back_through_norm(norm1_, relu1_.backward(gh)));
  } else {
    const Tensor gh = back_through_norm(norm2_, relu2_.backward(conv2_->backward(g)));
    main = back_through_norm(norm1_, relu1_.backward(conv1_->backward(gh)));
  }
  return sum(main, to_shortcut);
}

}  // namespace normkit::nn
