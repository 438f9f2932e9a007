#include "gelu_span.hpp"

#include <algorithm>
#include <cmath>

#include "core/simd_dispatch.hpp"
#include "erf.hpp"

namespace normkit::kernels {
namespace {

constexpr auto kSqrtHalf = static_cast<float>(M_SQRT1_2);
constexpr auto kPdfScale = static_cast<float>(M_2_SQRTPI * M_SQRT1_2 * 0.5);  // 1 / sqrt(2 pi), as ATen

template <int W>
[[gnu::always_inline]] inline vfloat<W> gelu_y(const vfloat<W> x) {
  return x * 0.5f * (1.0f + erf_v<W>(x * kSqrtHalf));
}

template <int W>
[[gnu::always_inline]] inline vfloat<W> gelu_dx(const vfloat<W> dy, const vfloat<W> x) {
  const vfloat<W> cdf = 0.5f * (1.0f + erf_v<W>(x * kSqrtHalf));
  const vfloat<W> pdf = kPdfScale * exp_v<W>(x * x * -0.5f);
  return dy * (cdf + x * pdf);
}

// The last n % W values go through a padded vector (zeros), only the real
// lanes kept: the lanes are independent.
template <int W>
[[gnu::always_inline]] inline void gelu_forward_w(const float* x, float* y, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + W <= n; i += W) storev<W>(y + i, gelu_y<W>(loadv<W>(x + i)));
  if (i == n) return;
  float in[W] = {}, out[W];
  std::copy(x + i, x + n, in);
  storev<W>(out, gelu_y<W>(loadv<W>(in)));
  std::copy(out, out + (n - i), y + i);
}

template <int W>
[[gnu::always_inline]] inline void gelu_backward_w(const float* dy, const float* x, float* dx, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + W <= n; i += W) storev<W>(dx + i, gelu_dx<W>(loadv<W>(dy + i), loadv<W>(x + i)));
  if (i == n) return;
  float g[W] = {}, in[W] = {}, out[W];
  std::copy(dy + i, dy + n, g);
  std::copy(x + i, x + n, in);
  storev<W>(out, gelu_dx<W>(loadv<W>(g), loadv<W>(in)));
  std::copy(out, out + (n - i), dx + i);
}

void gelu_forward_span_portable(const float* x, float* y, std::int64_t n) { gelu_forward_w<4>(x, y, n); }
void gelu_backward_span_portable(const float* dy, const float* x, float* dx, std::int64_t n) {
  gelu_backward_w<4>(dy, x, dx, n);
}
#if NORMKIT_X86_DISPATCH
NORMKIT_TARGET_AVX2 void gelu_forward_span_avx2(const float* x, float* y, std::int64_t n) {
  gelu_forward_w<8>(x, y, n);
}
NORMKIT_TARGET_AVX2 void gelu_backward_span_avx2(const float* dy, const float* x, float* dx, std::int64_t n) {
  gelu_backward_w<8>(dy, x, dx, n);
}
NORMKIT_TARGET_AVX512 void gelu_forward_span_avx512(const float* x, float* y, std::int64_t n) {
  gelu_forward_w<16>(x, y, n);
}
NORMKIT_TARGET_AVX512 void gelu_backward_span_avx512(const float* dy, const float* x, float* dx, std::int64_t n) {
  gelu_backward_w<16>(dy, x, dx, n);
}
#endif

}  // namespace

void gelu_forward_span(const float* x, float* y, std::int64_t n) { NORMKIT_DISPATCH(gelu_forward_span, x, y, n); }
void gelu_backward_span(const float* dy, const float* x, float* dx, std::int64_t n) {
  NORMKIT_DISPATCH(gelu_backward_span, dy, x, dx, n);
}

}  // namespace normkit::kernels
