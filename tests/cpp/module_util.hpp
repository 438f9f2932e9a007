// Helpers of the tests above the kernels layer (modules, training, the lab).
#pragma once

#include "normkit/normkit.hpp"
#include "normkit/nn/module.hpp"
#include "test_util.hpp"

namespace normkit::test {

// Every float32 value of a module's state, in state-dict order.
inline std::vector<float> float_state(const nn::Module& m) {
  std::vector<float> out;
  for (const auto& [_, t] : m.state_dict())
    if (t.dtype() == DType::float32) out.insert(out.end(), t.data<float>(), t.data<float>() + t.numel());
  return out;
}

}  // namespace normkit::test
