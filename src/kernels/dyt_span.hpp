// DyT's row kernels (normkit/dyt.hpp): one row of cols floats at a time,
// each with a variant per instruction set (core/simd_dispatch.hpp; all give
// the same bits).
#pragma once

#include <cstdint>

namespace normkit::kernels {

// y = tanh(alpha * x) * w + b (w null: 1, b null: 0).
struct DyTForwardSpan {
  const float* x;
  float* y;
  std::int64_t n;
  float alpha;
  const float* w;
  const float* b;
};
void dyt_forward_span(const DyTForwardSpan& s);

// With t = tanh(alpha * x), g = dy * w (dy when w is null), slope = 1 - t * t:
//   dx = (g * alpha) * slope                      (dx null: not written)
//   col_t[d] += dy * t,  col_dy[d] += dy           (col_t null: not wanted)
// and returns sum((g * x) * slope), element d in lane d % 16, the lanes
// added in lanes.hpp's fixed order (in double).
struct DyTBackwardSpan {
  const float* dy;
  const float* x;
  float* dx;
  std::int64_t n;
  float alpha;
  const float* w;
  float* col_t;
  float* col_dy;
};
double dyt_backward_span(const DyTBackwardSpan& s);

}  // namespace normkit::kernels
