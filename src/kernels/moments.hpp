// Forward statistics: per (a, c) count, mean and M2 (sum of squared
// deviations) over (b, d), through the blocked reduction engine.
#pragma once

#include <cstdint>

#include "norm_plan.hpp"

namespace normkit::kernels {

// Partial statistics of a set of elements, merged with Chan et al.'s formula.
struct Moments {
  double count = 0, mean = 0, m2 = 0;

  static Moments merge(const Moments& p, const Moments& q) {
    if (p.count == 0) return q;
    if (q.count == 0) return p;
    const double n = p.count + q.count;
    const double q_share = q.count / n;  // one division per merge
    const double delta = q.mean - p.mean;
    return {n, p.mean + delta * q_share, p.m2 + q.m2 + delta * delta * (p.count * q_share)};
  }
  double biased_var() const { return m2 / count; }
};

// Statistics per (a, c): out (A, C). x: (A, B, C, D) contiguous.
struct MomentsArgs {
  const float* x = nullptr;
  NormPlan plan;
  Moments* out = nullptr;
};
void moments(const MomentsArgs& args);

// Mean of squares per (a, c), for RMSNorm: out (A, C). x: (A, B, C, D).
struct MeanSquaresArgs {
  const float* x = nullptr;
  NormPlan plan;
  double* out = nullptr;
};
void mean_squares(const MeanSquaresArgs& args);

// Statistics of one contiguous run of n > 0 floats: the engine's block kernel.
Moments run_moments(const float* x, std::int64_t n);
// Sum of squares of one contiguous run (float lanes, double total).
double run_square_sum(const float* x, std::int64_t n);

}  // namespace normkit::kernels
