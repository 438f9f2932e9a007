// The lab's networks, built from the engine's layers with a normalization
// chosen by name. So far the multilayer perceptron of Ioffe and Szegedy's
// MNIST experiment: 784-100-100-100-10, sigmoid units, the normalization
// between each hidden Linear and its sigmoid.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "normkit/nn/init.hpp"
#include "normkit/nn/sequential.hpp"

namespace normkit::train {

// The normalizations an MLP accepts: "none", "bn", "ln", "rms".
inline constexpr const char* kMlpNorms = "none, bn, ln, rms";

// Errors name the argument: an unknown model, or a norm the model does not
// take (GroupNorm and InstanceNorm need a convolutional model).
std::unique_ptr<nn::Sequential> make_model(const std::string& model, const std::string& norm, nn::Generator& gen);

}  // namespace normkit::train
