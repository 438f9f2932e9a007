// Parameters and state dicts shared by the nn modules.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "normkit/tensor.hpp"

namespace normkit::nn {

// A trainable tensor and its gradient. backward() accumulates into grad
// (+=, as PyTorch); zero_grad() clears it.
struct Parameter {
  Tensor value;
  Tensor grad;

  explicit Parameter(Tensor initial);
  Parameter() = default;
  void zero_grad();
  // grad += g (g of value's shape); nothing when the parameter is undefined.
  void accumulate(const Tensor& g);
};

// Named tensors in PyTorch's order and with PyTorch's key names.
using StateDict = std::vector<std::pair<std::string, Tensor>>;

// The tensor stored under `key`, or an error naming the key.
const Tensor& state_dict_get(const StateDict& state, const std::string& key);

}  // namespace normkit::nn
