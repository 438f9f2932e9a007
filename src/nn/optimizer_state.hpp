// The optimizers' shared checks and copies of their per-parameter buffers.
#pragma once

#include <string>
#include <vector>

#include "normkit/error.hpp"
#include "normkit/nn/parameter.hpp"

namespace normkit::nn {

// buffers: one per name of `names`, each a float32 tensor of its parameter's
// shape per parameter; an Error names the optimizer, the buffer and the
// parameter's index otherwise.
inline void check_optimizer_buffers(const char* optimizer, const std::vector<std::string>& names,
                                    const std::vector<std::vector<Tensor>>& buffers,
                                    const std::vector<Parameter*>& parameters) {
  NORMKIT_CHECK(buffers.size() == names.size(), optimizer, "::load_state: expected ", names.size(),
                " buffers, got ", buffers.size());
  for (std::size_t b = 0; b < names.size(); ++b) {
    NORMKIT_CHECK(buffers[b].size() == parameters.size(), optimizer, "::load_state: ", names[b], ": expected ",
                  parameters.size(), " tensors, got ", buffers[b].size());
    for (std::size_t k = 0; k < parameters.size(); ++k) {
      const Tensor& t = buffers[b][k];
      NORMKIT_CHECK(t.defined() && t.shape() == parameters[k]->value.shape() && t.dtype() == DType::float32,
                    optimizer, "::load_state: ", names[b], " ", k, ": expected float32 of shape ",
                    shape_string(parameters[k]->value.shape()), ", got ",
                    t.defined() ? dtype_name(t.dtype()) + std::string(" of shape ") + shape_string(t.shape())
                                : std::string("none"));
    }
  }
}

inline std::vector<Tensor> copies_of(const std::vector<Tensor>& tensors) {
  std::vector<Tensor> out;
  for (const Tensor& t : tensors) out.push_back(Tensor::copy_of(t));
  return out;
}

}  // namespace normkit::nn
