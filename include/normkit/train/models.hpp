// The lab's networks, built from the engine's layers with a normalization
// chosen by name (train/norms.hpp: none, bn, gn, ln, in, rms, ghost, renorm):
// - mlp: Ioffe and Szegedy's MNIST network, 784-100-100-100-10, sigmoid
//   units, the normalization between each hidden Linear and its sigmoid
//   (every norm but in, which needs feature maps);
// - cnn: two 3x3 convolution blocks (conv, norm, ReLU, 2x2 max pool) of 16
//   and 32 channels (times `width`), then a hidden layer of 128 and 10 outputs;
// - vgg: a plain VGG-style CNN of `depth` 3x3 convolutions (2 to 16; the
//   CLI's and Python's default 8) in stages of 32, 64 and 128 channels, no
//   residuals; depth 4 is the 4-conv network (32, 32, 64, 64) of PyTorch's
//   Fashion-MNIST recipes;
// - resnet: He et al.'s CIFAR ResNet of `depth` layers (6n + 2), post- or
//   pre-activation blocks;
// - vit: a Vision Transformer (patch embedding with a class token and
//   learned positions, `vit.depth` transformer blocks of `vit.dim` features
//   and `vit.heads` heads, pre- or post-norm, optional QK-norm, a final norm
//   when pre-norm, the class token's features to 10 classes); the norm is a
//   token norm (none, bn, ln, rms, dyt).
// A Linear or convolution just before a norm that centres has no bias (unless
// bias_before_norm: the lab shows that such a bias gets no gradient).
// With dropout > 0, Dropout follows each hidden layer's activation (mlp) or
// comes just before the last Linear (cnn, vgg, resnet).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "normkit/nn/init.hpp"
#include "normkit/nn/residual.hpp"
#include "normkit/nn/sequential.hpp"
#include "normkit/nn/transformer.hpp"
#include "normkit/train/norms.hpp"

namespace normkit::train {

struct VitOptions {
  std::int64_t depth = 6, dim = 64, heads = 4, patch = 4;
  std::int64_t mlp_ratio = 2;  // the MLP's width, times dim
  nn::NormPlacement placement = nn::NormPlacement::pre;
  bool qk_norm = false;
};

struct ModelOptions {
  std::int64_t depth = 20;                                     // resnet: layers; vgg: convolutions
  nn::ResidualForm form = nn::ResidualForm::post_activation;  // resnet
  std::int64_t width = 1;                                      // cnn, vgg: channel multiplier
  double dropout = 0;                                          // drop probability (0: no Dropout layers)
  std::int64_t ghost_batch = 16;                               // norm "ghost": samples per virtual batch
  nn::BatchRenormSchedule renorm = NormChoice{}.renorm;         // norm "renorm": the limits' schedule
  bool norm_after_activation = false;  // cnn: the norm after the ReLU instead of before it
  bool bias_before_norm = false;       // mlp, cnn: keep the (redundant) bias before a norm that centres
  // cnn: a third block (3x3 conv of 64 channels, norm, ReLU) on the 7x7 maps,
  // where a norm's statistics average the fewest values (ResNet's last stage).
  bool small_map_stage = false;
  VitOptions vit;                      // vit
};

// Errors name the argument: an unknown model or norm, or a norm the model
// does not take (InstanceNorm needs a convolutional model).
std::unique_ptr<nn::Sequential> make_model(const std::string& model, const std::string& norm, nn::Generator& gen,
                                           const ModelOptions& options = {});

}  // namespace normkit::train
