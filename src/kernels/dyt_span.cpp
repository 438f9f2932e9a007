#include "dyt_span.hpp"

#include <algorithm>

#include "core/simd_dispatch.hpp"
#include "lanes.hpp"
#include "tanh.hpp"

namespace normkit::kernels {
namespace {

// The last n % W elements are computed as a whole vector from a padded copy
// (x 0, w 1, b 0, dy 0) and only the first n % W results kept: the lanes are
// independent, so each kept value is the one a full vector gives.
template <int W>
[[gnu::always_inline]] inline vfloat<W> dyt_y(const vfloat<W> x, float alpha, const float* w, const float* b) {
  vfloat<W> y = tanh_v<W>(x * alpha);
  if (w != nullptr) y *= loadv<W>(w);
  if (b != nullptr) y += loadv<W>(b);
  return y;
}

template <int W>
[[gnu::always_inline]] inline void dyt_forward_span_w(const DyTForwardSpan& s) {
  std::int64_t d = 0;
  for (; d + W <= s.n; d += W)
    storev<W>(s.y + d, dyt_y<W>(loadv<W>(s.x + d), s.alpha, s.w ? s.w + d : nullptr, s.b ? s.b + d : nullptr));
  const std::int64_t rest = s.n - d;
  if (rest == 0) return;
  float x[W] = {}, w[W], b[W] = {}, y[W];
  std::fill(w, w + W, 1.0f);
  std::copy(s.x + d, s.x + s.n, x);
  if (s.w != nullptr) std::copy(s.w + d, s.w + s.n, w);
  if (s.b != nullptr) std::copy(s.b + d, s.b + s.n, b);
  storev<W>(y, dyt_y<W>(loadv<W>(x), s.alpha, s.w ? w : nullptr, s.b ? b : nullptr));
  std::copy(y, y + rest, s.y + d);
}

// One vector of W elements: dx, the column sums, and its terms of dalpha.
template <int W>
[[gnu::always_inline]] inline vfloat<W> dyt_backward_vector(const float* dy_p, const float* x_p, float* dx_p,
                                                           float alpha, const float* w_p, float* col_t,
                                                           float* col_dy) {
  const vfloat<W> dy = loadv<W>(dy_p), x = loadv<W>(x_p);
  const vfloat<W> t = tanh_v<W>(x * alpha);
  const vfloat<W> slope = 1.0f - t * t;
  const vfloat<W> g = w_p != nullptr ? dy * loadv<W>(w_p) : dy;
  if (dx_p != nullptr) storev<W>(dx_p, (g * alpha) * slope);
  if (col_t != nullptr) {
    storev<W>(col_t, loadv<W>(col_t) + dy * t);
    storev<W>(col_dy, loadv<W>(col_dy) + dy);
  }
  return (g * x) * slope;
}

template <int W>
[[gnu::always_inline]] inline double dyt_backward_span_w(const DyTBackwardSpan& s) {
  constexpr int K = kLanes / W;
  LaneSet<W> terms;
  std::int64_t d = 0;
  for (; d + kLanes <= s.n; d += kLanes)
#pragma GCC unroll 4
    for (int k = 0; k < K; ++k) {
      const std::int64_t i = d + k * W;
      terms.v[k] += dyt_backward_vector<W>(s.dy + i, s.x + i, s.dx ? s.dx + i : nullptr, s.alpha,
                                           s.w ? s.w + i : nullptr, s.col_t ? s.col_t + i : nullptr,
                                           s.col_dy ? s.col_dy + i : nullptr);
    }
  const std::int64_t rest = s.n - d;
  if (rest > 0) {
    // The tail in 16-float buffers: dy 0 there, so its padded terms are 0.
    float dy[kLanes] = {}, x[kLanes] = {}, w[kLanes], dx[kLanes], col_t[kLanes] = {}, col_dy[kLanes] = {};
    std::fill(w, w + kLanes, 1.0f);
    std::copy(s.dy + d, s.dy + s.n, dy);
    std::copy(s.x + d, s.x + s.n, x);
    if (s.w != nullptr) std::copy(s.w + d, s.w + s.n, w);
    if (s.col_t != nullptr) {
      std::copy(s.col_t + d, s.col_t + s.n, col_t);
      std::copy(s.col_dy + d, s.col_dy + s.n, col_dy);
    }
#pragma GCC unroll 4
    for (int k = 0; k < K; ++k)
      terms.v[k] += dyt_backward_vector<W>(dy + k * W, x + k * W, dx + k * W, s.alpha, s.w ? w + k * W : nullptr,
                                           col_t + k * W, col_dy + k * W);
    if (s.dx != nullptr) std::copy(dx, dx + rest, s.dx + d);
    if (s.col_t != nullptr) {
      std::copy(col_t, col_t + rest, s.col_t + d);
      std::copy(col_dy, col_dy + rest, s.col_dy + d);
    }
  }
  return terms.total();
}

void dyt_forward_span_portable(const DyTForwardSpan& s) { dyt_forward_span_w<4>(s); }
double dyt_backward_span_portable(const DyTBackwardSpan& s) { return dyt_backward_span_w<4>(s); }
#if NORMKIT_X86_DISPATCH
NORMKIT_TARGET_AVX2 void dyt_forward_span_avx2(const DyTForwardSpan& s) { dyt_forward_span_w<8>(s); }
NORMKIT_TARGET_AVX2 double dyt_backward_span_avx2(const DyTBackwardSpan& s) { return dyt_backward_span_w<8>(s); }
NORMKIT_TARGET_AVX512 void dyt_forward_span_avx512(const DyTForwardSpan& s) { dyt_forward_span_w<16>(s); }
NORMKIT_TARGET_AVX512 double dyt_backward_span_avx512(const DyTBackwardSpan& s) {
  return dyt_backward_span_w<16>(s);
}
#endif

}  // namespace

void dyt_forward_span(const DyTForwardSpan& s) { NORMKIT_DISPATCH(dyt_forward_span, s); }
double dyt_backward_span(const DyTBackwardSpan& s) { return NORMKIT_DISPATCH(dyt_backward_span, s); }

}  // namespace normkit::kernels
