// The elementwise passes of the family, with coefficients per (a, c):
//
//   forward:  y  = ((x - center_hi) - center_lo) * scale + shift
//   backward: dx = dy * k_dy + ((x - center_hi) - center_lo) * k_x + k_0
//
// The centre is a float pair (hi + lo) so that x - mean is accurate when the
// mean is large. y may alias x and dx may alias dy (in-place).
#pragma once

#include <cstdint>
#include <vector>

#include "grad_sums.hpp"
#include "norm_plan.hpp"

namespace normkit::kernels {

// The passes are templates over the element type T of the data,
// instantiated for float, Bf16 and F16 (the 16-bit floats as stored,
// vectors.hpp: widened as read, rounded as stored).
struct Bf16;
struct F16;

template <typename T>
struct NormalizeArgsOf {
  const T* x = nullptr;  // (A, B, C, D)
  T* y = nullptr;        // (A, B, C, D)
  const float* center_hi = nullptr;  // (A, C), and each below
  const float* center_lo = nullptr;
  const float* scale = nullptr;
  const float* shift = nullptr;
  NormPlan plan;
  // No statistics pass read x before this one (eval mode, a fused scale and
  // shift): y may stay in cache (stream_single_pass_output).
  bool single_pass = false;
};
using NormalizeArgs = NormalizeArgsOf<float>;
template <typename T>
void normalize_apply(const NormalizeArgsOf<T>& args);

template <typename T>
struct InputGradArgsOf {
  const T* dy = nullptr;  // (A, B, C, D)
  const T* x = nullptr;   // (A, B, C, D)
  T* dx = nullptr;        // (A, B, C, D)
  const float* center_hi = nullptr;  // (A, C), and each below
  const float* center_lo = nullptr;
  const float* k_dy = nullptr;
  const float* k_x = nullptr;
  const float* k_0 = nullptr;
  NormPlan plan;
};
using InputGradArgs = InputGradArgsOf<float>;
template <typename T>
void input_grad_apply(const InputGradArgsOf<T>& args);

// A mean as a float pair: hi = float(mean), lo = float(mean - hi).
struct CenterPair {
  float hi, lo;
};
[[gnu::always_inline]] inline CenterPair center_pair(double mean) {
  const float hi = static_cast<float>(mean);
  return {hi, static_cast<float>(mean - hi)};
}

// x - mean per (a, c), n = A * C, computed as (x - hi) - lo: the mean as a
// float pair (center_pair), so that x - mean stays accurate when the mean is
// large.
struct ChannelCenters {
  std::vector<float> hi, lo;

  explicit ChannelCenters(std::int64_t n) : hi(n), lo(n) {}
  void set(std::int64_t i, double mean) {
    const CenterPair c = center_pair(mean);
    hi[i] = c.hi;
    lo[i] = c.lo;
  }
  // The sums' arguments (dy, x, plan, out) centred on these means.
  template <typename T>
  GradSumsArgsOf<T> centering_data(GradSumsArgsOf<T> sums) const {
    sums.center_hi = hi.data();
    sums.center_lo = lo.data();
    return sums;
  }
  GradSumsArgs centering(const GradSumsArgs& sums) const { return centering_data(sums); }
};

// The forward pass's coefficients per (a, c): y = (x - mean) * scale + shift.
struct NormalizeCoefficients {
  ChannelCenters center;
  std::vector<float> scale, shift;

  explicit NormalizeCoefficients(std::int64_t n) : center(n), scale(n), shift(n) {}
  // The pass's arguments (x, y, plan) with these coefficients.
  template <typename T>
  NormalizeArgsOf<T> applied_to_data(NormalizeArgsOf<T> pass) const {
    pass.center_hi = center.hi.data();
    pass.center_lo = center.lo.data();
    pass.scale = scale.data();
    pass.shift = shift.data();
    return pass;
  }
  NormalizeArgs applied_to(const NormalizeArgs& pass) const { return applied_to_data(pass); }
};

// The backward pass's per (a, c): dx = dy * k_dy + (x - mean) * k_x + k_0.
struct InputGradCoefficients {
  ChannelCenters center;
  std::vector<float> k_dy, k_x, k_0;

  explicit InputGradCoefficients(std::int64_t n) : center(n), k_dy(n), k_x(n), k_0(n) {}
  // The pass's arguments (dy, x, dx, plan) with these coefficients.
  template <typename T>
  InputGradArgsOf<T> applied_to_data(InputGradArgsOf<T> pass) const {
    pass.center_hi = center.hi.data();
    pass.center_lo = center.lo.data();
    pass.k_dy = k_dy.data();
    pass.k_x = k_x.data();
    pass.k_0 = k_0.data();
    return pass;
  }
  InputGradArgs applied_to(const InputGradArgs& pass) const { return applied_to_data(pass); }
};

// The same passes over samples [s0, s1) of the (a, c) slice only (D > 1),
// with ac = a * C + c: for a caller that has just reduced that slice
// (reduce_each_slice) and still has it in cache. Safe to call from several
// threads on different slices; a slice's streamed stores are fenced by the
// call that reaches its last sample.
template <typename T>
void normalize_slice(const NormalizeArgsOf<T>& args, std::int64_t ac, std::int64_t s0, std::int64_t s1);
template <typename T>
void input_grad_slice(const InputGradArgsOf<T>& args, std::int64_t ac, std::int64_t s0, std::int64_t s1);

}  // namespace normkit::kernels
