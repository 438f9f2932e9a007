// The lab's networks, built from the engine's layers with a normalization
// chosen by name:
// - mlp: Ioffe and Szegedy's MNIST network, 784-100-100-100-10, sigmoid
//   units, the normalization between each hidden Linear and its sigmoid
//   (none, bn, ln, rms);
// - cnn: two 3x3 convolution blocks (conv, norm, ReLU, 2x2 max pool) of 16
//   and 32 channels, then 1568-128-10 (none, bn, gn, ln, in);
// - resnet: He et al.'s CIFAR ResNet of `depth` layers (6n + 2), post- or
//   pre-activation blocks (none, bn, gn, ln, in).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "normkit/nn/init.hpp"
#include "normkit/nn/residual.hpp"
#include "normkit/nn/sequential.hpp"

namespace normkit::train {

// The normalizations an MLP accepts: "none", "bn", "ln", "rms".
inline constexpr const char* kMlpNorms = "none, bn, ln, rms";

struct ModelOptions {
  std::int64_t depth = 20;                                     // resnet
  nn::ResidualForm form = nn::ResidualForm::post_activation;  // resnet
};

// Errors name the argument: an unknown model, or a norm the model does not
// take (GroupNorm and InstanceNorm need a convolutional model).
std::unique_ptr<nn::Sequential> make_model(const std::string& model, const std::string& norm, nn::Generator& gen,
                                           const ModelOptions& options = {});

}  // namespace normkit::train
