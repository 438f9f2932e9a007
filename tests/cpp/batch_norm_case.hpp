// One BatchNorm problem, set up identically for the fast path and the
// reference, so that a test can run both and compare every output.
#pragma once

#include "test_util.hpp"

namespace normkit::test {

struct BatchNormCase {
  Shape shape;
  TestLayout layout = TestLayout::contiguous;
  bool training = true;
  bool track_running_stats = true;
  bool affine = true;
  double momentum = 0.1;
  std::uint64_t seed = 1;
  float mean = 0.3f, stddev = 1.7f;

  std::string name() const {
    std::string s = shape_string(shape) + " " + layout_name(layout) +
                    (training ? " train" : " eval") + (affine ? " affine" : "") +
                    (track_running_stats ? " running" : "");
    return s;
  }
};

// The tensors of one BatchNorm call. Running stats are owned so that each
// implementation updates its own copy.
struct BatchNormRun {
  TestTensor x, y;
  Tensor weight, bias, running_mean, running_var, save_mean, save_invstd;

  BatchNormRun(const BatchNormCase& c) {
    const std::int64_t C = c.shape[1];
    x = random_tensor(c.shape, c.layout, c.seed, c.mean, c.stddev);
    y = make_tensor(c.shape, c.layout);
    if (c.affine) {
      weight = vector_tensor(normal_values(C, c.seed + 1, 1.0f, 0.5f));
      bias = vector_tensor(normal_values(C, c.seed + 2, 0.0f, 0.5f));
    }
    if (c.track_running_stats || !c.training) {
      running_mean = vector_tensor(normal_values(C, c.seed + 3, 0.2f, 0.3f));
      std::vector<float> var = normal_values(C, c.seed + 4, 1.0f, 0.3f);
      for (float& v : var) v = std::fabs(v) + 0.2f;
      running_var = vector_tensor(var);
    }
    save_mean = Tensor::full({C}, -7.0f);
    save_invstd = Tensor::full({C}, -7.0f);
  }

  BatchNormInputs inputs() const { return {x.view, weight, bias, running_mean, running_var}; }
  BatchNormForwardOutputs outputs() const { return {y.view, save_mean, save_invstd}; }
};

inline BatchNormOptions options_for(const BatchNormCase& c, Impl impl) {
  return {.training = c.training, .momentum = c.momentum, .impl = impl};
}

}  // namespace normkit::test
