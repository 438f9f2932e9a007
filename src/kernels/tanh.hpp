// tanh in float32 vectors, the same bits on every instruction set: only
// IEEE adds, multiplies, divides and selects, in one order, on W-wide
// vectors (W = 4, 8, 16: the lanes are independent, so the width does not
// change a lane's value; FMA contraction is off). libm's tanhf is neither
// vectorized nor the same function everywhere.
//
//   |x| < 0.625: x + x * x^2 * P(x^2), Cephes' tanhf polynomial;
//   otherwise:   1 - 2 / (exp(2|x|) + 1) with the sign of x, exp(v) as
//                2^k * Q(v - k ln 2) (Cephes' expf, ln 2 in two parts),
//                2|x| clamped to 88 (tanh is then 1 in float32);
//   NaN stays NaN, -0 stays -0.
// Within 2 ulp of the correctly rounded tanh over the float range
// (tests/cpp/test_dyt.cpp checks it against double).
#pragma once

#include <cstdint>

#include "lanes.hpp"

namespace normkit::kernels {

template <int W>
struct IntVector {
  typedef std::int32_t type __attribute__((vector_size(4 * W)));
};
template <int W>
using vint = typename IntVector<W>::type;

template <int W>
[[gnu::always_inline]] inline vfloat<W> tanh_v(const vfloat<W> x) {
  using F = vfloat<W>;
  using I = vint<W>;
  const I bits = __builtin_bit_cast(I, x);
  const I sign = bits & static_cast<std::int32_t>(0x80000000u);
  const I abs_bits = bits & 0x7fffffff;
  const F ax = __builtin_bit_cast(F, abs_bits);

  // Near 0: the odd polynomial.
  const F z = x * x;
  F p = -5.70498872745e-3f * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  // tanh is odd and near's sum has x's sign, so its sign bit is x's: set,
  // it also makes tanh(-0) = -0 (the sum alone gives +0).
  const F near = __builtin_bit_cast(F, __builtin_bit_cast(I, x + x * z * p) | sign);

  // Beyond: 1 - 2 / (exp(2|x|) + 1).
  F v = ax + ax;
  v = v < 88.0f ? v : F{} + 88.0f;  // (NaN takes 88 here; restored below)
  const I k = __builtin_convertvector(v * 1.44269504088896341f + 0.5f, I);  // v >= 0: truncation is floor
  const F kf = __builtin_convertvector(k, F);
  const F r = (v - kf * 0.693359375f) - kf * -2.12194440e-4f;
  F q = 1.9875691500e-4f * r + 1.3981999507e-3f;
  q = q * r + 8.3334519073e-3f;
  q = q * r + 4.1665795894e-2f;
  q = q * r + 1.6666665459e-1f;
  q = q * r + 5.0000001201e-1f;
  q = q * (r * r) + r + 1.0f;
  const I scale_bits = (k + 127) << 23;
  const F e = q * __builtin_bit_cast(F, scale_bits);
  const F far_abs = 1.0f - 2.0f / (e + 1.0f);
  const I far_bits = __builtin_bit_cast(I, far_abs) | sign;
  const F far = __builtin_bit_cast(F, far_bits);

  // NaN fails the compare and takes near, which is NaN. (A further select
  // for NaN and -0 on x made GCC 12 compute this whole function lane by
  // lane.)
  return ax >= 0.625f ? far : near;
}

}  // namespace normkit::kernels
