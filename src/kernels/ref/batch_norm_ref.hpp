// Reference Batch Normalization (with Ghost BN and Batch Renorm): double
// precision, obvious loops, no threads, no layouts. Data is logical (N, C, S)
// in C order, S = prod(spatial). It is written from the formulas of
// docs/semantics.md and shares no code with the fast kernels, so that tests
// can hold one against the other.
#pragma once

#include <cstdint>
#include <vector>

namespace normkit::ref {

struct BatchNormProblem {
  std::int64_t N = 0, C = 0, S = 1;
};

struct BatchNormForwardArgs {
  BatchNormProblem problem;
  std::vector<double> x;             // (N, C, S)
  std::vector<double> weight, bias;  // (C) or empty
  std::vector<double> running_mean, running_var;  // (C) or empty; updated when training
  bool training = true;
  double momentum = 0.1, eps = 1e-5;
  bool unbiased_running_var = true;
  std::int64_t virtual_batch_size = 0;  // Ghost BN when > 0 (training only)
  bool renorm = false;                  // Batch Renorm (training only)
  double rmax = 1, dmax = 0;
};

struct BatchNormForwardResult {
  std::vector<double> y;                       // (N, C, S)
  std::vector<double> save_mean, save_invstd;  // (groups, C) when training, else empty
  std::vector<double> renorm_r, renorm_d;      // (C) with Batch Renorm
};

// Updates args.running_mean / running_var in place when training.
BatchNormForwardResult batch_norm_forward(BatchNormForwardArgs& args);

struct BatchNormBackwardArgs {
  BatchNormProblem problem;
  std::vector<double> dy, x;                      // (N, C, S)
  std::vector<double> weight;                     // (C) or empty
  std::vector<double> running_mean, running_var;  // (C), used when !training
  std::vector<double> save_mean, save_invstd;     // (groups, C), used when training
  bool training = true;
  double eps = 1e-5;
  std::int64_t virtual_batch_size = 0;
  std::vector<double> renorm_r, renorm_d;  // (C), Batch Renorm, or empty
};

struct BatchNormBackwardResult {
  std::vector<double> dx;              // (N, C, S)
  std::vector<double> dweight, dbias;  // (C)
};

BatchNormBackwardResult batch_norm_backward(const BatchNormBackwardArgs& args);

}  // namespace normkit::ref
