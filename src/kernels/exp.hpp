// exp in float32 vectors, the same bits on every instruction set (only IEEE
// adds, multiplies and conversions, in one order, on W-wide vectors; FMA
// contraction is off): Cephes' expf, exp(v) = 2^k * Q(v - k ln 2) with
// k = floor(v / ln 2 + 1/2) and ln 2 in two parts, v clamped to
// [-87, 88] (2^k stays a normal float). Within 2 ulp of exp over that range;
// below it the result is exp(-87), a number tanh and erf only multiply by
// what makes it vanish.
#pragma once

#include <cstdint>

#include "lanes.hpp"

namespace normkit::kernels {

template <int W>
[[gnu::always_inline]] inline vfloat<W> exp_v(vfloat<W> v) {
  using F = vfloat<W>;
  using I = vint<W>;
  v = v < 88.0f ? v : F{} + 88.0f;  // (NaN takes 88 here)
  v = v > -87.0f ? v : F{} - 87.0f;
  const F t = v * 1.44269504088896341f + 0.5f;
  I k = __builtin_convertvector(t, I);  // truncation: floor for t >= 0, one more below 0 ...
  k += __builtin_convertvector(k, F) > t;  // ... taken back (a true compare is -1)
  const F kf = __builtin_convertvector(k, F);
  const F r = (v - kf * 0.693359375f) - kf * -2.12194440e-4f;
  F q = 1.9875691500e-4f * r + 1.3981999507e-3f;
  q = q * r + 8.3334519073e-3f;
  q = q * r + 4.1665795894e-2f;
  q = q * r + 1.6666665459e-1f;
  q = q * r + 5.0000001201e-1f;
  q = q * (r * r) + r + 1.0f;
  return q * __builtin_bit_cast(F, (k + 127) << 23);
}

}  // namespace normkit::kernels
