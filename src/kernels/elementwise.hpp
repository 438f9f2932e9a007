// The elementwise spans every pass of the family is made of, each compiled
// for every instruction set and dispatched at run time (core/simd_dispatch.hpp): the same
// bits on every path. Outputs are written with streaming stores when
// `stream` (stream_store.hpp). prefetch: how far ahead to ask for the input
// while this span is written (the span read next; 0: none, when it is in
// cache already).
#pragma once

#include <cstdint>

namespace normkit::kernels {

struct Bf16;  // a bfloat16 as stored (lanes.hpp)

// y = ((x - hi) - lo) * scale + shift, one (hi, lo, scale, shift) for the span;
// or for `runs` spans of n, `stride` elements apart, with the same
// coefficients (a channel's runs of consecutive samples, one call).
// x and y float, or both bfloat16 (Bf16: widened as read, rounded as stored).
template <typename T>
struct NormalizeSpanOf {
  const T* x;
  T* y;
  std::int64_t n;
  float hi, lo, scale, shift;
  std::int64_t runs = 1, stride = 0;
};
using NormalizeSpan = NormalizeSpanOf<float>;
void normalize_span(const NormalizeSpan& s, bool stream, std::int64_t prefetch);
void normalize_span(const NormalizeSpanOf<Bf16>& s, bool stream, std::int64_t prefetch);

// The same with per-channel coefficients, for `rows` contiguous rows of n
// channels (channels-last BatchNorm).
template <typename T>
struct NormalizeRowsOf {
  const T* x;
  T* y;
  std::int64_t rows, n;
  const float *hi, *lo, *scale, *shift;
};
using NormalizeRows = NormalizeRowsOf<float>;
void normalize_rows(const NormalizeRows& s, bool stream);
void normalize_rows(const NormalizeRowsOf<Bf16>& s, bool stream);

// dx = dy * k_dy + ((x - hi) - lo) * k_x + k_0, one set of coefficients;
// runs and stride as NormalizeSpan's.
// dy, x and dx float, or all bfloat16 (Bf16).
template <typename T>
struct InputGradSpanOf {
  const T* dy;
  const T* x;
  T* dx;
  std::int64_t n;
  float hi, lo, k_dy, k_x, k_0;
  std::int64_t runs = 1, stride = 0;
};
using InputGradSpan = InputGradSpanOf<float>;
void input_grad_span(const InputGradSpan& s, bool stream, std::int64_t prefetch);
void input_grad_span(const InputGradSpanOf<Bf16>& s, bool stream, std::int64_t prefetch);

// The same with per-channel coefficients, for `rows` contiguous rows of n
// channels.
template <typename T>
struct InputGradRowsOf {
  const T* dy;
  const T* x;
  T* dx;
  std::int64_t rows, n;
  const float *hi, *lo, *k_dy, *k_x, *k_0;
};
using InputGradRows = InputGradRowsOf<float>;
void input_grad_rows(const InputGradRows& s, bool stream);
void input_grad_rows(const InputGradRowsOf<Bf16>& s, bool stream);

// out[i] = a[i] + b[i]: the residual add before a norm (add_norm.hpp).
void add_span(const float* a, const float* b, float* out, std::int64_t n);
// dst[i] = src[i], with streaming stores when `stream`.
void copy_span(const float* src, float* dst, std::int64_t n, bool stream);

// LayerNorm/RMSNorm rows: y = ((x - hi) - lo) * rstd * gamma + beta (gamma
// and beta per element, either may be null: 1 and 0); x and y float, or
// both bfloat16 (lanes.hpp's Bf16: widened as read, y rounded as stored).
template <typename T>
struct RowNormalizeSpanOf {
  const T* x;
  T* y;
  std::int64_t n;
  float hi, lo, rstd;
  const float *gamma, *beta;
};
using RowNormalizeSpan = RowNormalizeSpanOf<float>;
void row_normalize_span(const RowNormalizeSpan& s, bool stream);
void row_normalize_span(const RowNormalizeSpanOf<Bf16>& s, bool stream);
// The residual add and the copy of bfloat16 rows: each sum rounded once.
void add_span(const Bf16* a, const Bf16* b, Bf16* out, std::int64_t n);
void copy_span(const Bf16* src, Bf16* dst, std::int64_t n, bool stream);

// The parameter gradients' column sums of one row, accumulated:
// col_g[d] += dy[d];  col_gx[d] += dy[d] * (((x[d] - hi) - lo) * rstd).
// dy and x float, or both bfloat16 (Bf16).
template <typename T>
struct ColumnSumsSpanOf {
  const T* dy;
  const T* x;
  float* col_g;
  float* col_gx;
  std::int64_t n;
  float hi, lo, rstd;
};
using ColumnSumsSpan = ColumnSumsSpanOf<float>;
void accumulate_column_sums(const ColumnSumsSpan& s);
void accumulate_column_sums(const ColumnSumsSpanOf<Bf16>& s);

// LayerNorm/RMSNorm backward rows: dx = dy * gamma * rstd + xc * k_x + k_0
// with xc = (x - hi) - lo (gamma per element, null: 1), and, when col_g and
// col_gx are given, the column sums of accumulate_column_sums in the same
// pass over dy and x (each value computed as there). dy, x, dx and addend
// float, or all bfloat16 (Bf16; dx rounded as stored).
template <typename T>
struct RowBackwardSpanOf {
  const T* dy;
  const T* x;
  T* dx;
  float* col_g;   // or null: dx only
  float* col_gx;  // (with col_g)
  std::int64_t n;
  const float* gamma;
  float hi, lo, rstd, k_x, k_0;
  const T* addend = nullptr;  // or null: dx += addend (the fused add's dresidual_out)
};
using RowBackwardSpan = RowBackwardSpanOf<float>;
void row_backward_span(const RowBackwardSpan& s, bool stream);
void row_backward_span(const RowBackwardSpanOf<Bf16>& s, bool stream);

}  // namespace normkit::kernels
