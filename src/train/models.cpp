#include "normkit/train/models.hpp"

#include "normkit/error.hpp"
#include "normkit/nn/activation.hpp"
#include "normkit/nn/batch_norm.hpp"
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

}  // namespace

std::unique_ptr<nn::Sequential> make_model(const std::string& model, const std::string& norm, nn::Generator& gen) {
  if (model == "mlp") return make_mlp(norm, gen);
  detail::throw_error("--model: expected mlp, got '", model,
                      "' (the cnn and resnet models of issue 5 are not built yet)");
}

}  // namespace normkit::train
