// tanh in float32 vectors, the same bits on every instruction set: only
// IEEE adds, multiplies, divides and selects, in one order, on W-wide
// vectors (W = 4, 8, 16: the lanes are independent, so the width does not
// change a lane's value; FMA contraction is off). libm's tanhf is neither
// vectorized nor the same function everywhere.
//
//   |x| < 0.625: x + x * x^2 * P(x^2), Cephes' tanhf polynomial;
//   otherwise:   1 - 2 / (exp(2|x|) + 1) with the sign of x (exp.hpp,
//                whose clamp at 88 leaves tanh 1 in float32);
//   NaN stays NaN, -0 stays -0.
// Within 2 ulp of the correctly rounded tanh over the float range
// (tests/cpp/test_dyt.cpp checks it against double).
#pragma once

#include <cstdint>

#include "exp.hpp"
#include "lanes.hpp"

namespace normkit::kernels {

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
  const F e = exp_v<W>(ax + ax);
  const F far_abs = 1.0f - 2.0f / (e + 1.0f);
  const I far_bits = __builtin_bit_cast(I, far_abs) | sign;
  const F far = __builtin_bit_cast(F, far_bits);

  // NaN fails the compare and takes near, which is NaN. (A further select
  // for NaN and -0 on x made GCC 12 compute this whole function lane by
  // lane.)
  return ax >= 0.625f ? far : near;
}

}  // namespace normkit::kernels
