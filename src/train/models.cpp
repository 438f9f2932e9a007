#include "normkit/train/models.hpp"

#include <vector>

#include "normkit/error.hpp"
#include "normkit/nn/activation.hpp"
#include "normkit/nn/conv2d.hpp"
#include "normkit/nn/dropout.hpp"
#include "normkit/nn/linear.hpp"
#include "normkit/nn/pooling.hpp"
#include "normkit/nn/residual.hpp"
#include "normkit/nn/vit.hpp"
#include "normkit/train/norms.hpp"

namespace normkit::train {
namespace {

constexpr std::int64_t kPixels = 28 * 28, kClasses = 10, kHidden = 100, kImageSize = 28;

void add_dropout(nn::Sequential& net, double p, nn::Generator& gen) {
  if (p > 0) net.add(std::make_unique<nn::Dropout>(p, gen));
}

// A convolutional network's head: the maps flattened, a hidden layer of 128
// ReLU units (with Dropout after it when asked) and 10 outputs.
void add_conv_classifier(nn::Sequential& net, std::int64_t features, const ModelOptions& o, nn::Generator& gen) {
  net.add(std::make_unique<nn::Flatten>());
  net.add(std::make_unique<nn::Linear>(features, 128, gen, nn::LinearOptions{.init = nn::Init::kaiming_normal}));
  net.add(std::make_unique<nn::ReLU>());
  add_dropout(net, o.dropout, gen);
  net.add(std::make_unique<nn::Linear>(128, kClasses, gen));
}

// A 3x3 convolution (padding 1, Kaiming initialization, no bias before a norm
// that centres), its norm over `size` x `size` maps, and ReLU.
void add_conv_norm_relu(nn::Sequential& net, const NormChoice& norm, const ModelOptions& o, std::int64_t in,
                        std::int64_t out, std::int64_t size, nn::Generator& gen) {
  net.add(std::make_unique<nn::Conv2d>(in, out, 3, gen,
                                       nn::Conv2dOptions{.padding = 1,
                                                         .bias = o.bias_before_norm || !norm_centres(norm.name),
                                                         .init = nn::Init::kaiming_normal}));
  if (auto n = map_norm(norm, out, size, size)) net.add(std::move(n));
  net.add(std::make_unique<nn::ReLU>());
}

std::unique_ptr<nn::Sequential> make_mlp(const NormChoice& norm, const ModelOptions& o, nn::Generator& gen) {
  auto net = std::make_unique<nn::Sequential>();
  net->add(std::make_unique<nn::Flatten>());
  std::int64_t width = kPixels;
  for (int layer = 0; layer < 3; ++layer) {
    // Glorot for sigmoid units; no bias before a norm that centres.
    net->add(std::make_unique<nn::Linear>(
        width, kHidden, gen,
        nn::LinearOptions{.bias = o.bias_before_norm || !norm_centres(norm.name), .init = nn::Init::glorot_uniform}));
    if (auto n = feature_norm(norm, kHidden)) net->add(std::move(n));
    net->add(std::make_unique<nn::Sigmoid>());
    add_dropout(*net, o.dropout, gen);
    width = kHidden;
  }
  net->add(std::make_unique<nn::Linear>(width, kClasses, gen, nn::LinearOptions{.init = nn::Init::glorot_uniform}));
  return net;
}

// Two convolution blocks (3x3 conv, norm, ReLU, 2x2 max pool: 16 then 32
// channels, times o.width), then a hidden layer of 128 ReLU units: the
// "2 conv + pooling + BN" network of the published Fashion-MNIST anchor (0.934);
// with o.small_map_stage, a third block of 64 channels on the 7x7 maps.
std::unique_ptr<nn::Sequential> make_cnn(const NormChoice& norm, const ModelOptions& o, nn::Generator& gen) {
  NORMKIT_CHECK(o.width >= 1, "width: expected >= 1, got ", o.width);
  auto net = std::make_unique<nn::Sequential>();
  std::int64_t channels = 1, size = kImageSize;
  for (const std::int64_t width : {16 * o.width, 32 * o.width}) {
    net->add(std::make_unique<nn::Conv2d>(
        channels, width, 3, gen,
        nn::Conv2dOptions{.padding = 1,
                          .bias = o.bias_before_norm || o.norm_after_activation || !norm_centres(norm.name),
                          .init = nn::Init::kaiming_normal}));
    if (!o.norm_after_activation)
      if (auto n = map_norm(norm, width, size, size)) net->add(std::move(n));
    net->add(std::make_unique<nn::ReLU>());
    if (o.norm_after_activation)
      if (auto n = map_norm(norm, width, size, size)) net->add(std::move(n));
    net->add(std::make_unique<nn::MaxPool2d>(2));
    channels = width;
    size /= 2;
  }
  if (o.small_map_stage) {
    add_conv_norm_relu(*net, norm, o, channels, 2 * channels, size, gen);
    channels *= 2;
  }
  add_conv_classifier(*net, channels * size * size, o, gen);
  return net;
}

// A plain VGG-style network: `depth` 3x3 convolutions (conv, norm, ReLU), no
// residuals, in stages of 32, 64 and 128 channels (times o.width) at 28x28,
// 14x14 and 7x7 with 2x2 max pooling after the first two; up to 4
// convolutions, two stages (depth 4: 32, 32, pool, 64, 64, pool). Then a
// hidden layer of 128 ReLU units and 10 outputs.
std::unique_ptr<nn::Sequential> make_vgg(const NormChoice& norm, const ModelOptions& o, nn::Generator& gen) {
  NORMKIT_CHECK(o.depth >= 2 && o.depth <= 16, "depth: expected 2 to 16 convolutions for vgg, got ", o.depth);
  NORMKIT_CHECK(o.width >= 1, "width: expected >= 1, got ", o.width);
  std::vector<std::int64_t> stages;  // convolutions per stage
  if (o.depth <= 4) {
    stages = {(o.depth + 1) / 2, o.depth / 2};
  } else {
    const std::int64_t first = (o.depth + 2) / 3, second = (o.depth - first + 1) / 2;
    stages = {first, second, o.depth - first - second};
  }
  auto net = std::make_unique<nn::Sequential>();
  std::int64_t channels = 1, size = kImageSize;
  for (std::size_t stage = 0; stage < stages.size(); ++stage) {
    const std::int64_t width = (32 << stage) * o.width;
    for (std::int64_t c = 0; c < stages[stage]; ++c) {
      add_conv_norm_relu(*net, norm, o, channels, width, size, gen);
      channels = width;
    }
    if (stage < 2) {
      net->add(std::make_unique<nn::MaxPool2d>(2));
      size /= 2;
    }
  }
  add_conv_classifier(*net, channels * size * size, o, gen);
  return net;
}

// He et al.'s CIFAR ResNet on 28x28 images: a 3x3 stem of 16 channels,
// three stages of (depth - 2) / 6 residual blocks of 16, 32 and 64 channels
// (the first block of the last two stages halves the map), global average
// pooling, Linear(64, 10). Pre-activation networks end with a norm and ReLU.
std::unique_ptr<nn::Sequential> make_resnet(const NormChoice& norm, const ModelOptions& o, nn::Generator& gen) {
  NORMKIT_CHECK(o.depth >= 8 && (o.depth - 2) % 6 == 0, "depth: expected 6n + 2 with n >= 1 (8, 14, 20, 56, ...), got ",
                o.depth);
  const nn::MapNormFactory make_norm = [&norm](std::int64_t channels, std::int64_t height, std::int64_t width) {
    return map_norm(norm, channels, height, width);
  };
  const std::int64_t blocks = (o.depth - 2) / 6;
  const bool pre = o.form == nn::ResidualForm::pre_activation;
  auto net = std::make_unique<nn::Sequential>();
  auto stem_norm = pre ? nullptr : make_norm(16, kImageSize, kImageSize);
  net->add(std::make_unique<nn::Conv2d>(
      1, 16, 3, gen,
      nn::Conv2dOptions{.padding = 1, .bias = !norm_centres(norm.name), .init = nn::Init::kaiming_normal}));
  if (!pre) {
    if (stem_norm) net->add(std::move(stem_norm));
    net->add(std::make_unique<nn::ReLU>());
  }
  std::int64_t channels = 16, size = kImageSize;
  for (const std::int64_t width : {16, 32, 64})
    for (std::int64_t b = 0; b < blocks; ++b) {
      const std::int64_t stride = (b == 0 && width != 16) ? 2 : 1;
      net->add(std::make_unique<nn::ResidualBlock>(channels, width, stride, size, make_norm, o.form, gen));
      channels = width;
      size = (size - 1) / stride + 1;
    }
  if (pre) {
    if (auto n = make_norm(channels, size, size)) net->add(std::move(n));
    net->add(std::make_unique<nn::ReLU>());
  }
  net->add(std::make_unique<nn::GlobalAvgPool2d>());
  add_dropout(*net, o.dropout, gen);
  net->add(std::make_unique<nn::Linear>(channels, kClasses, gen));
  return net;
}

// Patch embedding, the blocks, a final norm (pre-norm: the blocks' outputs
// are not normalized otherwise), the class token, the classifier.
std::unique_ptr<nn::Sequential> make_vit(const NormChoice& norm, const ModelOptions& o, nn::Generator& gen) {
  const VitOptions& v = o.vit;
  NORMKIT_CHECK(v.depth >= 1 && v.dim >= 1 && v.heads >= 1 && v.dim % v.heads == 0 && v.mlp_ratio >= 1,
                "vit: expected depth, dim, heads, mlp_ratio >= 1 and dim a multiple of heads, got depth ", v.depth,
                ", dim ", v.dim, ", heads ", v.heads, ", mlp_ratio ", v.mlp_ratio);
  NORMKIT_CHECK(v.patch >= 1 && kImageSize % v.patch == 0, "patch: expected a divisor of 28, got ", v.patch);
  auto net = std::make_unique<nn::Sequential>();
  net->add(std::make_unique<nn::PatchEmbedding>(1, kImageSize, v.patch, v.dim, gen));
  const nn::TokenNormFactory make_norm = [&](std::int64_t d) { return token_norm(norm, d); };
  for (std::int64_t b = 0; b < v.depth; ++b)
    net->add(std::make_unique<nn::TransformerBlock>(
        v.dim, make_norm,
        nn::TransformerBlockOptions{.heads = v.heads, .hidden = v.mlp_ratio * v.dim, .placement = v.placement,
                                    .qk_norm = v.qk_norm, .dropout = o.dropout},
        gen));
  if (v.placement == nn::NormPlacement::pre)
    if (auto n = token_norm(norm, v.dim)) net->add(std::move(n));
  net->add(std::make_unique<nn::ClassToken>());
  net->add(std::make_unique<nn::Linear>(v.dim, kClasses, gen));
  return net;
}

}  // namespace

std::unique_ptr<nn::Sequential> make_model(const std::string& model, const std::string& norm, nn::Generator& gen,
                                           const ModelOptions& options) {
  NORMKIT_CHECK(options.dropout >= 0 && options.dropout < 1, "dropout: expected a probability in [0, 1), got ",
                options.dropout);
  const NormChoice choice{.name = norm, .ghost_batch = options.ghost_batch, .renorm = options.renorm};
  if (model == "mlp") return make_mlp(choice, options, gen);
  if (model == "cnn") return make_cnn(choice, options, gen);
  if (model == "vgg") return make_vgg(choice, options, gen);
  if (model == "resnet") return make_resnet(choice, options, gen);
  if (model == "vit") return make_vit(choice, options, gen);
  detail::throw_error("model: expected mlp, cnn, vgg, resnet or vit, got '", model, "'");
}

}  // namespace normkit::train
