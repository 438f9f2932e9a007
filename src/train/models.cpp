#include "normkit/train/models.hpp"

#include "normkit/error.hpp"
#include "normkit/nn/activation.hpp"
#include "normkit/nn/batch_norm.hpp"
#include "normkit/nn/conv2d.hpp"
#include "normkit/nn/group_norm.hpp"
#include "normkit/nn/pooling.hpp"
#include "normkit/nn/residual.hpp"
#include "normkit/nn/layer_norm.hpp"
#include "normkit/nn/linear.hpp"

namespace normkit::train {
namespace {

constexpr std::int64_t kPixels = 28 * 28, kClasses = 10, kHidden = 100;

// The normalization of `width` features named `norm`, or null for "none".
std::unique_ptr<nn::Layer> feature_norm(const std::string& norm, std::int64_t width) {
  if (norm == "bn") return std::make_unique<nn::BatchNorm1d>(width);
  if (norm == "ln") return std::make_unique<nn::LayerNorm>(Shape{width});
  if (norm == "rms") return std::make_unique<nn::RMSNorm>(Shape{width});
  return nullptr;
}

std::unique_ptr<nn::Sequential> make_mlp(const std::string& norm, nn::Generator& gen) {
  NORMKIT_CHECK(norm == "none" || norm == "bn" || norm == "ln" || norm == "rms", "--norm: the mlp takes ",
                kMlpNorms, "; got '", norm, "'",
                norm == "gn" || norm == "in" ? " (GroupNorm and InstanceNorm need a convolutional model)" : "");
  auto net = std::make_unique<nn::Sequential>();
  net->add(std::make_unique<nn::Flatten>());
  std::int64_t width = kPixels;
  for (int layer = 0; layer < 3; ++layer) {
    // Glorot for sigmoid units; no bias before a normalization that
    // centres (BN, LN: the bias would be subtracted again).
    const bool centred = norm == "bn" || norm == "ln";
    net->add(std::make_unique<nn::Linear>(width, kHidden, gen,
                                          nn::LinearOptions{.bias = !centred, .init = nn::Init::glorot_uniform}));
    if (auto n = feature_norm(norm, kHidden)) net->add(std::move(n));
    net->add(std::make_unique<nn::Sigmoid>());
    width = kHidden;
  }
  net->add(std::make_unique<nn::Linear>(width, kClasses, gen, nn::LinearOptions{.init = nn::Init::glorot_uniform}));
  return net;
}

// The normalization of `channels` feature maps named `norm`, or null.
// GroupNorm: 8 groups (Wu and He's default is 32 groups of 512+ channels;
// these layers have 16 and 32); LayerNorm on maps: one group over (C, H, W),
// as Wu and He define it; InstanceNorm with affine parameters.
std::unique_ptr<nn::Layer> map_norm(const std::string& norm, std::int64_t channels) {
  if (norm == "bn") return std::make_unique<nn::BatchNorm2d>(channels);
  if (norm == "gn") return std::make_unique<nn::GroupNorm>(8, channels);
  if (norm == "ln") return std::make_unique<nn::GroupNorm>(1, channels);
  if (norm == "in") return std::make_unique<nn::InstanceNorm2d>(channels, nn::InstanceNormModuleOptions{.affine = true});
  return nullptr;
}

// Two convolution blocks (3x3 conv, norm, ReLU, 2x2 max pool: 16 then 32
// channels), then 1568-128-10 with ReLU: the "2 conv + pooling + BN" network
// of the published Fashion-MNIST anchor (0.934).
std::unique_ptr<nn::Sequential> make_cnn(const std::string& norm, nn::Generator& gen) {
  NORMKIT_CHECK(norm == "none" || norm == "bn" || norm == "gn" || norm == "ln" || norm == "in",
                "--norm: the cnn takes none, bn, gn, ln, in; got '", norm, "'");
  auto net = std::make_unique<nn::Sequential>();
  std::int64_t channels = 1;
  for (const std::int64_t width : {16, 32}) {
    net->add(std::make_unique<nn::Conv2d>(channels, width, 3, gen,
                                          nn::Conv2dOptions{.padding = 1, .bias = norm == "none", .init = nn::Init::kaiming_normal}));
    if (auto n = map_norm(norm, width)) net->add(std::move(n));
    net->add(std::make_unique<nn::ReLU>());
    net->add(std::make_unique<nn::MaxPool2d>(2));
    channels = width;
  }
  net->add(std::make_unique<nn::Flatten>());
  net->add(std::make_unique<nn::Linear>(channels * 7 * 7, 128, gen, nn::LinearOptions{.init = nn::Init::kaiming_normal}));
  net->add(std::make_unique<nn::ReLU>());
  net->add(std::make_unique<nn::Linear>(128, kClasses, gen));
  return net;
}

// He et al.'s CIFAR ResNet on 28x28 images: a 3x3 stem of 16 channels,
// three stages of (depth - 2) / 6 residual blocks of 16, 32 and 64 channels
// (the first block of the last two stages halves the map), global average
// pooling, Linear(64, 10). Pre-activation networks end with a norm and ReLU.
std::unique_ptr<nn::Sequential> make_resnet(const std::string& norm, const ModelOptions& o, nn::Generator& gen) {
  NORMKIT_CHECK(norm == "none" || norm == "bn" || norm == "gn" || norm == "ln" || norm == "in",
                "--norm: the resnet takes none, bn, gn, ln, in; got '", norm, "'");
  NORMKIT_CHECK(o.depth >= 8 && (o.depth - 2) % 6 == 0, "--depth: expected 6n + 2 with n >= 1 (8, 14, 20, 56, ...), got ",
                o.depth);
  const std::int64_t blocks = (o.depth - 2) / 6;
  const bool pre = o.form == nn::ResidualForm::pre_activation;
  auto net = std::make_unique<nn::Sequential>();
  net->add(std::make_unique<nn::Conv2d>(1, 16, 3, gen,
                                        nn::Conv2dOptions{.padding = 1, .bias = norm == "none", .init = nn::Init::kaiming_normal}));
  if (!pre) {
    if (auto n = map_norm(norm, 16)) net->add(std::move(n));
    net->add(std::make_unique<nn::ReLU>());
  }
  std::int64_t channels = 16;
  for (const std::int64_t width : {16, 32, 64})
    for (std::int64_t b = 0; b < blocks; ++b) {
      const std::int64_t stride = (b == 0 && width != 16) ? 2 : 1;
      net->add(std::make_unique<nn::ResidualBlock>(channels, width, stride, norm, &map_norm, o.form, gen));
      channels = width;
    }
  if (pre) {
    if (auto n = map_norm(norm, channels)) net->add(std::move(n));
    net->add(std::make_unique<nn::ReLU>());
  }
  net->add(std::make_unique<nn::GlobalAvgPool2d>());
  net->add(std::make_unique<nn::Linear>(channels, kClasses, gen));
  return net;
}

}  // namespace

std::unique_ptr<nn::Sequential> make_model(const std::string& model, const std::string& norm, nn::Generator& gen,
                                           const ModelOptions& options) {
  if (model == "mlp") return make_mlp(norm, gen);
  if (model == "cnn") return make_cnn(norm, gen);
  if (model == "resnet") return make_resnet(norm, options, gen);
  detail::throw_error("--model: expected mlp, cnn or resnet, got '", model, "'");
}

}  // namespace normkit::train
