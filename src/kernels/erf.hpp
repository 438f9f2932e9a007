// erf in float32 vectors, the same bits on every instruction set (IEEE
// adds, multiplies, one divide, selects; FMA contraction off): Abramowitz
// and Stegun 7.1.26, the form PyTorch's vectorized erf takes,
//   erf(|x|) = 1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) exp(-x^2),
//   t = 1 / (1 + p |x|),
// with the sign of x. Its absolute error is below 1.5e-7 (plus float
// rounding): what GELU's 1 + erf needs, not erf's relative accuracy near 0.
// NaN stays NaN; erf(+-inf) = +-1.
#pragma once

#include <cstdint>

#include "exp.hpp"
#include "lanes.hpp"

namespace normkit::kernels {

template <int W>
[[gnu::always_inline]] inline vfloat<W> erf_v(const vfloat<W> x) {
  using F = vfloat<W>;
  using I = vint<W>;
  const I bits = __builtin_bit_cast(I, x);
  const I sign = bits & static_cast<std::int32_t>(0x80000000u);
  const F ax = __builtin_bit_cast(F, bits & 0x7fffffff);
  const F t = 1.0f / (1.0f + 0.3275911f * ax);
  F poly = 1.061405429f * t - 1.453152027f;
  poly = poly * t + 1.421413741f;
  poly = poly * t - 0.284496736f;
  poly = poly * t + 0.254829592f;
  const F y = 1.0f - (poly * t) * exp_v<W>(-(ax * ax));
  return __builtin_bit_cast(F, __builtin_bit_cast(I, y) | sign);
}

}  // namespace normkit::kernels
