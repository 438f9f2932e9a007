// The elementwise spans every pass of the family is made of, each compiled
// for every instruction set and dispatched at run time (core/simd_dispatch.hpp): the same
// bits on every path. Outputs are written with streaming stores when
// `stream` (stream_store.hpp). prefetch: how far ahead to ask for the input
// while this span is written (the span read next; 0: none, when it is in
// cache already).
#pragma once

#include <cstdint>

namespace normkit::kernels {

// Each span is a template over the element type T of its data, instantiated
// for float, Bf16 and F16 (the 16-bit floats as stored, vectors.hpp: widened
// as read, rounded as stored, the float32 arithmetic between).
struct Bf16;
struct F16;

// y = ((x - hi) - lo) * scale + shift, one (hi, lo, scale, shift) for the span;
// or for `runs` spans of n, `stride` elements apart, with the same
// coefficients (a channel's runs of consecutive samples, one call).
template <typename T>
struct NormalizeSpanOf {
  const T* x;
  T* y;
  std::int64_t n;
  float hi, lo, scale, shift;
  std::int64_t runs = 1, stride = 0;
};
using NormalizeSpan = NormalizeSpanOf<float>;
template <typename T>
void normalize_span(const NormalizeSpanOf<T>& s, bool stream, std::int64_t prefetch);

// `count` consecutive runs of D elements of an (A, B, C, D) view
// (norm_plan.hpp), from item `first` (item = (a*B + b)*C + c, at element
// item * D): the runs a pass walks in one call, each with the coefficients
// of its (a, c). On BatchNorm's 14x14 maps a call per 196-element run spent
// a fifth of the pass outside the arithmetic.
struct ViewRuns {
  std::int64_t first, count;
  std::int64_t B, C, D;
};

// normalize_span over each run of `runs`, with the coefficients of its
// (a, c) (arrays of A * C), x and y at the view's start.
template <typename T>
struct NormalizeRunsOf {
  const T* x;
  T* y;
  ViewRuns runs;
  const float *hi, *lo, *scale, *shift;
};
template <typename T>
void normalize_runs(const NormalizeRunsOf<T>& s, bool stream, std::int64_t prefetch);

// The same with per-channel coefficients, for `rows` contiguous rows of n
// channels (channels-last BatchNorm); prefetch: elements ahead of each read.
template <typename T>
struct NormalizeRowsOf {
  const T* x;
  T* y;
  std::int64_t rows, n;
  const float *hi, *lo, *scale, *shift;
};
using NormalizeRows = NormalizeRowsOf<float>;
template <typename T>
void normalize_rows(const NormalizeRowsOf<T>& s, bool stream, std::int64_t prefetch);

// dx = dy * k_dy + ((x - hi) - lo) * k_x + k_0, one set of coefficients;
// runs and stride as NormalizeSpan's.
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
template <typename T>
void input_grad_span(const InputGradSpanOf<T>& s, bool stream, std::int64_t prefetch);

// input_grad_span over each run of `runs`, as NormalizeRunsOf.
template <typename T>
struct InputGradRunsOf {
  const T* dy;
  const T* x;
  T* dx;
  ViewRuns runs;
  const float *hi, *lo, *k_dy, *k_x, *k_0;
};
template <typename T>
void input_grad_runs(const InputGradRunsOf<T>& s, bool stream, std::int64_t prefetch);

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
template <typename T>
void input_grad_rows(const InputGradRowsOf<T>& s, bool stream, std::int64_t prefetch);

// out[i] = a[i] + b[i]: the residual add before a norm (add_norm.hpp).
template <typename T>
void add_span(const T* a, const T* b, T* out, std::int64_t n);
// dst[i] = src[i], with streaming stores when `stream`.
template <typename T>
void copy_span(const T* src, T* dst, std::int64_t n, bool stream);

// LayerNorm/RMSNorm rows: y = ((x - hi) - lo) * rstd * gamma + beta (gamma
// and beta per element, either may be null: 1 and 0).
template <typename T>
struct RowNormalizeSpanOf {
  const T* x;
  T* y;
  std::int64_t n;
  float hi, lo, rstd;
  const float *gamma, *beta;
};
using RowNormalizeSpan = RowNormalizeSpanOf<float>;
template <typename T>
void row_normalize_span(const RowNormalizeSpanOf<T>& s, bool stream);

// The parameter gradients' column sums of one row, accumulated:
// col_g[d] += dy[d];  col_gx[d] += dy[d] * (((x[d] - hi) - lo) * rstd).
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
template <typename T>
void accumulate_column_sums(const ColumnSumsSpanOf<T>& s);

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
template <typename T>
void row_backward_span(const RowBackwardSpanOf<T>& s, bool stream);

}  // namespace normkit::kernels
