// GELU (exact, erf-based: torch.nn.GELU's default) over a span of float32
// values, on the SIMD path normkit/simd.hpp chose, the same bits on every
// path (erf.hpp, exp.hpp):
//   y  = x * 0.5 * (1 + erf(x / sqrt(2)))
//   dx = dy * (cdf + x * pdf), cdf = 0.5 (1 + erf(x / sqrt(2))),
//        pdf = exp(-x^2 / 2) / sqrt(2 pi)   (ATen's GeluBackward)
#pragma once

#include <cstdint>

namespace normkit::kernels {

void gelu_forward_span(const float* x, float* y, std::int64_t n);
void gelu_backward_span(const float* dy, const float* x, float* dx, std::int64_t n);

}  // namespace normkit::kernels
