#include "normkit/train/norms.hpp"

#include "normkit/error.hpp"
#include "normkit/nn/dyt.hpp"
#include "normkit/nn/group_norm.hpp"
#include "normkit/nn/layer_norm.hpp"
#include "normkit/nn/vit.hpp"

namespace normkit::train {
namespace {

void check_known(const std::string& name) {
  NORMKIT_CHECK(name == "none" || name == "bn" || name == "gn" || name == "ln" || name == "in" || name == "rms" ||
                    name == "ghost" || name == "renorm" || name == "dyt",
                "norm: expected one of ", kNormNames, "; got '", name, "'");
}

// The BatchNorm variants (bn, ghost, renorm), or null for another name.
template <typename BN>
std::unique_ptr<nn::Layer> batch_norm_variant(const NormChoice& norm, std::int64_t channels) {
  if (norm.name == "bn") return std::make_unique<BN>(channels);
  if (norm.name == "ghost") {
    NORMKIT_CHECK(norm.ghost_batch >= 2, "ghost_batch: expected >= 2 samples per virtual batch, got ",
                  norm.ghost_batch);
    return std::make_unique<BN>(channels, nn::BatchNormModuleOptions{.virtual_batch_size = norm.ghost_batch});
  }
  if (norm.name == "renorm") return std::make_unique<BN>(channels, nn::BatchNormModuleOptions{.renorm = norm.renorm});
  return nullptr;
}

}  // namespace

bool norm_centres(const std::string& name) { return name != "none" && name != "rms" && name != "dyt"; }

std::unique_ptr<nn::Layer> feature_norm(const NormChoice& norm, std::int64_t features) {
  check_known(norm.name);
  NORMKIT_CHECK(norm.name != "in", "norm: in (InstanceNorm) needs feature maps: a feature vector has no "
                                   "spatial extent to normalize over; use a convolutional model");
  if (auto bn = batch_norm_variant<nn::BatchNorm1d>(norm, features)) return bn;
  if (norm.name == "gn") {
    NORMKIT_CHECK(features % 4 == 0, "norm gn: 4 groups need a multiple of 4 features, got ", features);
    return std::make_unique<nn::GroupNorm>(4, features);
  }
  if (norm.name == "ln") return std::make_unique<nn::LayerNorm>(Shape{features});
  if (norm.name == "rms") return std::make_unique<nn::RMSNorm>(Shape{features});
  if (norm.name == "dyt") return std::make_unique<nn::DyT>(features);
  return nullptr;
}

std::unique_ptr<nn::Layer> map_norm(const NormChoice& norm, std::int64_t channels, std::int64_t height,
                                    std::int64_t width) {
  check_known(norm.name);
  if (auto bn = batch_norm_variant<nn::BatchNorm2d>(norm, channels)) return bn;
  if (norm.name == "gn") {
    // Wu and He's default is 32 groups of ImageNet's 64-2048 channels; the
    // lab's layers have 16-64, so 8 groups (2-8 channels each).
    NORMKIT_CHECK(channels % 8 == 0, "norm gn: 8 groups need a multiple of 8 channels, got ", channels);
    return std::make_unique<nn::GroupNorm>(8, channels);
  }
  if (norm.name == "ln") return std::make_unique<nn::GroupNorm>(1, channels);
  if (norm.name == "in")
    return std::make_unique<nn::InstanceNorm2d>(channels, nn::InstanceNormModuleOptions{.affine = true});
  if (norm.name == "rms") return std::make_unique<nn::RMSNorm>(Shape{channels, height, width});
  NORMKIT_CHECK(norm.name != "dyt", "norm: dyt works over the last dim (features or tokens), not over feature maps; "
                                    "use the mlp or the vit");
  return nullptr;
}

std::unique_ptr<nn::Layer> token_norm(const NormChoice& norm, std::int64_t features) {
  check_known(norm.name);
  if (norm.name == "ln") return std::make_unique<nn::LayerNorm>(Shape{features});
  if (norm.name == "rms") return std::make_unique<nn::RMSNorm>(Shape{features});
  if (norm.name == "dyt") return std::make_unique<nn::DyT>(features);
  if (norm.name == "bn") return std::make_unique<nn::TokenBatchNorm>(features);
  NORMKIT_CHECK(norm.name == "none", "norm: on tokens expected one of ", kTokenNormNames, "; got '", norm.name, "'");
  return nullptr;
}

}  // namespace normkit::train
