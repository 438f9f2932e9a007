// Each span is written once, as a template over the vector width W, and
// instantiated for SSE2 (4), AVX2 (8) and AVX-512 (16) in wrappers compiled
// for those targets (core/simd_dispatch.hpp). The vector expression of each span computes,
// lane by lane, exactly its scalar expression (which finishes the tail), so
// W changes the speed, never the bits.
#include "elementwise.hpp"

#include <array>
#include <type_traits>

#include "lanes.hpp"
#include "core/simd_dispatch.hpp"
#include "stream_store.hpp"

namespace normkit::kernels {
namespace {

// Asks for the input `prefetch` elements ahead, once per cache line.
template <int W, typename T>
[[gnu::always_inline]] inline void prefetch_line(const T* p, std::int64_t prefetch) {
  if (prefetch != 0 && (reinterpret_cast<std::uintptr_t>(p) & 63) < sizeof(T) * W) prefetch_ahead(p, prefetch);
}

template <int W, typename T>
[[gnu::always_inline]] inline void normalize_span_w(const NormalizeSpanOf<T>& s, bool stream, std::int64_t prefetch) {
  const float hi = s.hi, lo = s.lo, scale = s.scale, shift = s.shift;
  for (std::int64_t r = 0; r < s.runs; ++r) {
    const T* x = s.x + r * s.stride;
    write_elements<W>(
        s.y + r * s.stride, s.n, stream,
        [&](auto w, std::int64_t i) __attribute__((always_inline)) {
          constexpr int V = decltype(w)::value;
          prefetch_line<V>(x + i, prefetch);
          return ((loadv<V>(x + i) - hi) - lo) * scale + shift;
        },
        [&](std::int64_t i) __attribute__((always_inline)) { return ((load1(x + i) - hi) - lo) * scale + shift; });
  }
}

// Calls run(item, ac) for each run of r, ac = a * C + c its coefficients'
// index: (a, b, c) counted on from the first run's, without a division per run.
template <typename Run>
[[gnu::always_inline]] inline void for_each_view_run(const ViewRuns& r, const Run& run) {
  std::int64_t c = r.first % r.C, b = r.first / r.C % r.B, a = r.first / (r.C * r.B);
  for (std::int64_t item = r.first; item < r.first + r.count; ++item) {
    run(item, a * r.C + c);
    if (++c == r.C) {
      c = 0;
      if (++b == r.B) {
        b = 0;
        ++a;
      }
    }
  }
}

template <int W, typename T>
[[gnu::always_inline]] inline void normalize_runs_w(const NormalizeRunsOf<T>& s, bool stream, std::int64_t prefetch) {
  const std::int64_t D = s.runs.D;
  for_each_view_run(s.runs, [&](std::int64_t item, std::int64_t ac) __attribute__((always_inline)) {
    normalize_span_w<W>(NormalizeSpanOf<T>{.x = s.x + item * D,
                                           .y = s.y + item * D,
                                           .n = D,
                                           .hi = s.hi[ac],
                                           .lo = s.lo[ac],
                                           .scale = s.scale[ac],
                                           .shift = s.shift[ac]},
                        stream, prefetch);
  });
}

template <int W, typename T>
[[gnu::always_inline]] inline void add_span_w(const T* a, const T* b, T* out, std::int64_t n) {
  write_elements<W>(
      out, n, false,
      [&](auto w, std::int64_t i) __attribute__((always_inline)) {
        constexpr int V = decltype(w)::value;
        return loadv<V>(a + i) + loadv<V>(b + i);
      },
      [&](std::int64_t i) __attribute__((always_inline)) { return load1(a + i) + load1(b + i); });
}

template <int W, typename T>
[[gnu::always_inline]] inline void copy_span_w(const T* src, T* dst, std::int64_t n, bool stream) {
  write_elements<W>(
      dst, n, stream,
      [&](auto w, std::int64_t i) __attribute__((always_inline)) {
        constexpr int V = decltype(w)::value;
        return loadv<V>(src + i);
      },
      [&](std::int64_t i) __attribute__((always_inline)) { return load1(src + i); });
}

// Rows of n channels (channels-last BatchNorm) whose whole vectors are few:
// K vectors after a head of `start` channels, the same in every row. Their
// per-channel coefficients (N arrays) are held in registers across the rows
// instead of loaded again for every row's vectors (N of each vector's N + 1
// or N + 2 loads). The arithmetic is the same, element by element.
template <int W, int K, int N>
struct HeldCoefficients {
  vfloat<W> v[N][K];
  HeldCoefficients(const std::array<const float*, N>& arrays, std::int64_t start) {
    for (int a = 0; a < N; ++a)
      for (int k = 0; k < K; ++k) v[a][k] = loadv<W>(arrays[a] + start + k * W);
  }
};

// y's rows r: vec(r, k, c) for vector k at channel c, scalar(r, c) for the
// head and the tail.
template <bool kStream, int W, int K, typename T, typename Vec, typename Scalar>
[[gnu::always_inline]] inline void write_rows_held(T* y, std::int64_t rows, std::int64_t n, std::int64_t start,
                                                   const Vec& vec, const Scalar& scalar) {
  for (std::int64_t r = 0; r < rows; ++r) {
    T* const row = y + r * n;
    for (std::int64_t c = 0; c < start; ++c) store_element<kStream>(row + c, scalar(r, c));
#pragma GCC unroll 4
    for (int k = 0; k < K; ++k) store_vector<kStream, W>(row + start + k * W, vec(r, k, start + k * W));
    for (std::int64_t c = start + K * W; c < n; ++c) store_element<kStream>(row + c, scalar(r, c));
  }
}

// Calls held(std::integral_constant<int, K>{}, start) where rows of y fit
// the held form (at least two rows; up to 4 vectors on AVX-512, whose 32
// registers hold them, 2 elsewhere); false when they do not.
template <bool kStream, int W, typename T, typename Held>
[[gnu::always_inline]] inline bool rows_held(const T* y, std::int64_t rows, std::int64_t n, const Held& held) {
  if (rows < 2 || !rows_share_vector_start<kStream, W, T>(n)) return false;
  const std::int64_t start = vector_start<kStream, W>(y, n);
  constexpr std::int64_t kMost = W == 16 ? 4 : 2;
  const std::int64_t vectors = (n - start) / W;
  if (vectors < 1 || vectors > kMost) return false;
  if (vectors == 1) held(std::integral_constant<int, 1>{}, start);
  else if (vectors == 2) held(std::integral_constant<int, 2>{}, start);
  else if constexpr (kMost == 4) {
    if (vectors == 3) held(std::integral_constant<int, 3>{}, start);
    else held(std::integral_constant<int, 4>{}, start);
  }
  return true;
}

// Whether rows in the held form are written with streaming stores: only
// to an output whose every row starts its vectors at its first element
// (aligned for them). Elsewhere each row would begin and end element by
// element in scalar arithmetic (streaming stores need aligned vectors): a
// row of 64 floats from an address 16 bytes past a line has 12 such
// elements at its head and 4 at its tail. BatchNorm NHWC from that offset,
// Zen 5, 1 thread, streamed against in cache (the held form, unaligned):
// training forward 32x64x56x56 2.90 against 2.08 ms (2 threads 1.72
// against 1.37; aligned and streamed, 1.78), 32x64x40x40 1.72 against
// 1.09, bfloat16 32x64x56x56 1.74 against 1.06; eval 32x64x56x56 2.07
// against 1.23 (2 threads 1.31 against 1.01); backward 32x64x56x56 4.25
// against 3.03 (2 threads 2.06 against 1.88), 32x64x40x40 1.99 against
// 1.30. Longer rows leave the held form and still stream: training
// forward 64x256x14x14 level (0.87 and 0.85 ms) from the same offset.
template <int W, typename T>
[[gnu::always_inline]] inline bool stream_held_rows(const T* y, std::int64_t n, bool stream) {
  return stream && vector_start<true, W>(y, n) == 0;
}

template <bool kStream, int W, typename T>
[[gnu::always_inline]] inline bool normalize_rows_held(const NormalizeRowsOf<T>& s, std::int64_t prefetch) {
  return rows_held<kStream, W>(s.y, s.rows, s.n, [&](auto count, std::int64_t start) __attribute__((always_inline)) {
    constexpr int K = decltype(count)::value;
    const HeldCoefficients<W, K, 4> h({s.hi, s.lo, s.scale, s.shift}, start);
    write_rows_held<kStream, W, K>(
        s.y, s.rows, s.n, start,
        [&](std::int64_t r, int k, std::int64_t c) __attribute__((always_inline)) {
          prefetch_line<W>(s.x + r * s.n + c, prefetch);
          return ((loadv<W>(s.x + r * s.n + c) - h.v[0][k]) - h.v[1][k]) * h.v[2][k] + h.v[3][k];
        },
        [&](std::int64_t r, std::int64_t c) __attribute__((always_inline)) {
          return ((load1(s.x + r * s.n + c) - s.hi[c]) - s.lo[c]) * s.scale[c] + s.shift[c];
        });
  });
}

template <bool kStream, int W, typename T>
[[gnu::always_inline]] inline bool input_grad_rows_held(const InputGradRowsOf<T>& s, std::int64_t prefetch) {
  return rows_held<kStream, W>(s.dx, s.rows, s.n, [&](auto count, std::int64_t start) __attribute__((always_inline)) {
    constexpr int K = decltype(count)::value;
    const HeldCoefficients<W, K, 5> h({s.hi, s.lo, s.k_dy, s.k_x, s.k_0}, start);
    write_rows_held<kStream, W, K>(
        s.dx, s.rows, s.n, start,
        [&](std::int64_t r, int k, std::int64_t c) __attribute__((always_inline)) {
          const std::int64_t i = r * s.n + c;
          prefetch_line<W>(s.dy + i, prefetch);
          prefetch_line<W>(s.x + i, prefetch);
          return loadv<W>(s.dy + i) * h.v[2][k] + ((loadv<W>(s.x + i) - h.v[0][k]) - h.v[1][k]) * h.v[3][k] +
                 h.v[4][k];
        },
        [&](std::int64_t r, std::int64_t c) __attribute__((always_inline)) {
          const std::int64_t i = r * s.n + c;
          return load1(s.dy + i) * s.k_dy[c] + ((load1(s.x + i) - s.hi[c]) - s.lo[c]) * s.k_x[c] + s.k_0[c];
        });
  });
}

template <int W, typename T>
[[gnu::always_inline]] inline void normalize_rows_w(const NormalizeRowsOf<T>& s, bool stream, std::int64_t prefetch) {
  if (stream_held_rows<W>(s.y, s.n, stream) ? normalize_rows_held<true, W>(s, prefetch)
                                             : normalize_rows_held<false, W>(s, prefetch))
    return;
  const float *hi = s.hi, *lo = s.lo, *scale = s.scale, *shift = s.shift;
  for (std::int64_t r = 0; r < s.rows; ++r) {
    const T* x = s.x + r * s.n;
    write_elements<W>(
        s.y + r * s.n, s.n, stream,
        [&](auto w, std::int64_t c) __attribute__((always_inline)) {
          constexpr int V = decltype(w)::value;
          prefetch_line<V>(x + c, prefetch);
          return ((loadv<V>(x + c) - loadv<V>(hi + c)) - loadv<V>(lo + c)) * loadv<V>(scale + c) +
                 loadv<V>(shift + c);
        },
        [&](std::int64_t c) __attribute__((always_inline)) {
          return ((load1(x + c) - hi[c]) - lo[c]) * scale[c] + shift[c];
        });
  }
}

template <int W, typename T>
[[gnu::always_inline]] inline void input_grad_rows_w(const InputGradRowsOf<T>& s, bool stream, std::int64_t prefetch) {
  if (stream_held_rows<W>(s.dx, s.n, stream) ? input_grad_rows_held<true, W>(s, prefetch)
                                              : input_grad_rows_held<false, W>(s, prefetch))
    return;
  const float *hi = s.hi, *lo = s.lo, *k_dy = s.k_dy, *k_x = s.k_x, *k_0 = s.k_0;
  for (std::int64_t r = 0; r < s.rows; ++r) {
    const T* dy = s.dy + r * s.n;
    const T* x = s.x + r * s.n;
    write_elements<W>(
        s.dx + r * s.n, s.n, stream,
        [&](auto w, std::int64_t c) __attribute__((always_inline)) {
          constexpr int V = decltype(w)::value;
          prefetch_line<V>(dy + c, prefetch);
          prefetch_line<V>(x + c, prefetch);
          return loadv<V>(dy + c) * loadv<V>(k_dy + c) + ((loadv<V>(x + c) - loadv<V>(hi + c)) - loadv<V>(lo + c)) * loadv<V>(k_x + c) +
                 loadv<V>(k_0 + c);
        },
        [&](std::int64_t c) __attribute__((always_inline)) {
          return load1(dy + c) * k_dy[c] + ((load1(x + c) - hi[c]) - lo[c]) * k_x[c] + k_0[c];
        });
  }
}

template <int W, typename T>
[[gnu::always_inline]] inline void input_grad_span_w(const InputGradSpanOf<T>& s, bool stream,
                                                     std::int64_t prefetch) {
  const float hi = s.hi, lo = s.lo, k_dy = s.k_dy, k_x = s.k_x, k_0 = s.k_0;
  for (std::int64_t r = 0; r < s.runs; ++r) {
    const T *dy = s.dy + r * s.stride, *x = s.x + r * s.stride;
    write_elements<W>(
        s.dx + r * s.stride, s.n, stream,
        [&](auto w, std::int64_t i) __attribute__((always_inline)) {
          constexpr int V = decltype(w)::value;
          prefetch_line<V>(dy + i, prefetch);
          prefetch_line<V>(x + i, prefetch);
          return loadv<V>(dy + i) * k_dy + ((loadv<V>(x + i) - hi) - lo) * k_x + k_0;
        },
        [&](std::int64_t i) __attribute__((always_inline)) {
          return load1(dy + i) * k_dy + ((load1(x + i) - hi) - lo) * k_x + k_0;
        });
  }
}

template <int W, typename T>
[[gnu::always_inline]] inline void input_grad_runs_w(const InputGradRunsOf<T>& s, bool stream,
                                                     std::int64_t prefetch) {
  const std::int64_t D = s.runs.D;
  for_each_view_run(s.runs, [&](std::int64_t item, std::int64_t ac) __attribute__((always_inline)) {
    input_grad_span_w<W>(InputGradSpanOf<T>{.dy = s.dy + item * D,
                                            .x = s.x + item * D,
                                            .dx = s.dx + item * D,
                                            .n = D,
                                            .hi = s.hi[ac],
                                            .lo = s.lo[ac],
                                            .k_dy = s.k_dy[ac],
                                            .k_x = s.k_x[ac],
                                            .k_0 = s.k_0[ac]},
                         stream, prefetch);
  });
}

template <int W, bool kCentred, typename T>
[[gnu::always_inline]] inline void row_normalize_span_body(const RowNormalizeSpanOf<T>& s, bool stream) {
  const float hi = s.hi, lo = s.lo, rs = s.rstd;
  const T* x = s.x;
  const float *g = s.gamma, *b = s.beta;
  write_elements<W>(
      s.y, s.n, stream,
      [&](auto w, std::int64_t d) __attribute__((always_inline)) {
        constexpr int V = decltype(w)::value;
        vfloat<V> v = centred<kCentred>(loadv<V>(x + d), hi, lo) * rs;
        if (g != nullptr) v *= loadv<V>(g + d);
        if (b != nullptr) v += loadv<V>(b + d);
        return v;
      },
      [&](std::int64_t d) __attribute__((always_inline)) {
        float v = centred<kCentred>(load1(x + d), hi, lo) * rs;
        if (g != nullptr) v *= g[d];
        if (b != nullptr) v += b[d];
        return v;
      });
}

// (hi, lo) both +0 (RMSNorm): the version without the centring subtractions.
template <int W, typename T>
[[gnu::always_inline]] inline void row_normalize_span_w(const RowNormalizeSpanOf<T>& s, bool stream) {
  if (has_centre(s.hi, s.lo))
    row_normalize_span_body<W, true>(s, stream);
  else
    row_normalize_span_body<W, false>(s, stream);
}

template <int W, bool kCentred, typename T>
[[gnu::always_inline]] inline void accumulate_column_sums_body(const ColumnSumsSpanOf<T>& s) {
  const float hi = s.hi, lo = s.lo, rs = s.rstd;
  const T *dy = s.dy, *x = s.x;
  std::int64_t d = 0;
  for (; d + W <= s.n; d += W) {
    const vfloat<W> g = loadv<W>(dy + d);
    storev<W>(s.col_g + d, loadv<W>(s.col_g + d) + g);
    storev<W>(s.col_gx + d, loadv<W>(s.col_gx + d) + g * (centred<kCentred>(loadv<W>(x + d), hi, lo) * rs));
  }
  for (; d < s.n; ++d) {
    const float g = load1(dy + d);
    s.col_g[d] += g;
    s.col_gx[d] += g * (centred<kCentred>(load1(x + d), hi, lo) * rs);
  }
}

// (hi, lo) both +0 (RMSNorm): the version without the centring subtractions.
template <int W, typename T>
[[gnu::always_inline]] inline void accumulate_column_sums_w(const ColumnSumsSpanOf<T>& s) {
  if (has_centre(s.hi, s.lo))
    accumulate_column_sums_body<W, true>(s);
  else
    accumulate_column_sums_body<W, false>(s);
}

template <int W, bool kCentred, typename T>
[[gnu::always_inline]] inline void row_backward_span_body(const RowBackwardSpanOf<T>& s, bool stream) {
  const float hi = s.hi, lo = s.lo, rs = s.rstd, k_x = s.k_x, k_0 = s.k_0;
  const T *dy = s.dy, *x = s.x, *addend = s.addend;
  const float* g = s.gamma;
  float *col_g = s.col_g, *col_gx = s.col_gx;
  // Each index is visited once, by the vector or the scalar form (which
  // compute the same values lane by lane): its dx is returned and its column
  // sums updated when they are wanted.
  const bool columns = col_g != nullptr;
  write_elements<W>(
      s.dx, s.n, stream,
      [&](auto w, std::int64_t d) __attribute__((always_inline)) {
        constexpr int V = decltype(w)::value;
        const vfloat<V> dyv = loadv<V>(dy + d), xc = centred<kCentred>(loadv<V>(x + d), hi, lo);
        if (columns) {
          storev<V>(col_g + d, loadv<V>(col_g + d) + dyv);
          storev<V>(col_gx + d, loadv<V>(col_gx + d) + dyv * (xc * rs));
        }
        const vfloat<V> gd = g != nullptr ? dyv * loadv<V>(g + d) : dyv;
        const vfloat<V> v = gd * rs + xc * k_x + k_0;
        return addend != nullptr ? v + loadv<V>(addend + d) : v;
      },
      [&](std::int64_t d) __attribute__((always_inline)) {
        const float dyd = load1(dy + d), xc = centred<kCentred>(load1(x + d), hi, lo);
        if (columns) {
          col_g[d] += dyd;
          col_gx[d] += dyd * (xc * rs);
        }
        const float gd = g != nullptr ? dyd * g[d] : dyd;
        const float v = gd * rs + xc * k_x + k_0;
        return addend != nullptr ? v + load1(addend + d) : v;
      });
}

// (hi, lo) both +0 (RMSNorm): the version without the centring subtractions.
template <int W, typename T>
[[gnu::always_inline]] inline void row_backward_span_w(const RowBackwardSpanOf<T>& s, bool stream) {
  if (has_centre(s.hi, s.lo))
    row_backward_span_body<W, true>(s, stream);
  else
    row_backward_span_body<W, false>(s, stream);
}

// The wrappers: one per instruction set, each a template over the element
// type (float, Bf16: the span structs' T) compiled for its target.
template <typename T>
void normalize_span_portable(const NormalizeSpanOf<T>& s, bool stream, std::int64_t prefetch) {
  normalize_span_w<4>(s, stream, prefetch);
}
template <typename T>
void normalize_runs_portable(const NormalizeRunsOf<T>& s, bool stream, std::int64_t prefetch) {
  normalize_runs_w<4>(s, stream, prefetch);
}
template <typename T>
void input_grad_runs_portable(const InputGradRunsOf<T>& s, bool stream, std::int64_t prefetch) {
  input_grad_runs_w<4>(s, stream, prefetch);
}
template <typename T>
void normalize_rows_portable(const NormalizeRowsOf<T>& s, bool stream, std::int64_t prefetch) {
  normalize_rows_w<4>(s, stream, prefetch);
}
template <typename T>
void input_grad_span_portable(const InputGradSpanOf<T>& s, bool stream, std::int64_t prefetch) {
  input_grad_span_w<4>(s, stream, prefetch);
}
template <typename T>
void input_grad_rows_portable(const InputGradRowsOf<T>& s, bool stream, std::int64_t prefetch) {
  input_grad_rows_w<4>(s, stream, prefetch);
}
template <typename T>
void add_span_portable(const T* a, const T* b, T* out, std::int64_t n) {
  add_span_w<4>(a, b, out, n);
}
template <typename T>
void copy_span_portable(const T* src, T* dst, std::int64_t n, bool stream) {
  copy_span_w<4>(src, dst, n, stream);
}
template <typename T>
void row_normalize_span_portable(const RowNormalizeSpanOf<T>& s, bool stream) {
  row_normalize_span_w<4>(s, stream);
}
template <typename T>
void accumulate_column_sums_portable(const ColumnSumsSpanOf<T>& s) {
  accumulate_column_sums_w<4>(s);
}
template <typename T>
void row_backward_span_portable(const RowBackwardSpanOf<T>& s, bool stream) {
  row_backward_span_w<4>(s, stream);
}
#if NORMKIT_X86_DISPATCH
template <typename T>
NORMKIT_TARGET_AVX2 void normalize_span_avx2(const NormalizeSpanOf<T>& s, bool stream, std::int64_t prefetch) {
  normalize_span_w<8>(s, stream, prefetch);
}
template <typename T>
NORMKIT_TARGET_AVX2 void normalize_runs_avx2(const NormalizeRunsOf<T>& s, bool stream, std::int64_t prefetch) {
  normalize_runs_w<8>(s, stream, prefetch);
}
template <typename T>
NORMKIT_TARGET_AVX2 void input_grad_runs_avx2(const InputGradRunsOf<T>& s, bool stream, std::int64_t prefetch) {
  input_grad_runs_w<8>(s, stream, prefetch);
}
template <typename T>
NORMKIT_TARGET_AVX2 void normalize_rows_avx2(const NormalizeRowsOf<T>& s, bool stream, std::int64_t prefetch) {
  normalize_rows_w<8>(s, stream, prefetch);
}
template <typename T>
NORMKIT_TARGET_AVX2 void input_grad_span_avx2(const InputGradSpanOf<T>& s, bool stream, std::int64_t prefetch) {
  input_grad_span_w<8>(s, stream, prefetch);
}
template <typename T>
NORMKIT_TARGET_AVX2 void input_grad_rows_avx2(const InputGradRowsOf<T>& s, bool stream, std::int64_t prefetch) {
  input_grad_rows_w<8>(s, stream, prefetch);
}
template <typename T>
NORMKIT_TARGET_AVX2 void add_span_avx2(const T* a, const T* b, T* out, std::int64_t n) {
  add_span_w<8>(a, b, out, n);
}
template <typename T>
NORMKIT_TARGET_AVX2 void copy_span_avx2(const T* src, T* dst, std::int64_t n, bool stream) {
  copy_span_w<8>(src, dst, n, stream);
}
template <typename T>
NORMKIT_TARGET_AVX2 void row_normalize_span_avx2(const RowNormalizeSpanOf<T>& s, bool stream) {
  row_normalize_span_w<8>(s, stream);
}
template <typename T>
NORMKIT_TARGET_AVX2 void accumulate_column_sums_avx2(const ColumnSumsSpanOf<T>& s) {
  accumulate_column_sums_w<8>(s);
}
template <typename T>
NORMKIT_TARGET_AVX2 void row_backward_span_avx2(const RowBackwardSpanOf<T>& s, bool stream) {
  row_backward_span_w<8>(s, stream);
}
template <typename T>
NORMKIT_TARGET_AVX512 void normalize_span_avx512(const NormalizeSpanOf<T>& s, bool stream, std::int64_t prefetch) {
  normalize_span_w<16>(s, stream, prefetch);
}
template <typename T>
NORMKIT_TARGET_AVX512 void normalize_runs_avx512(const NormalizeRunsOf<T>& s, bool stream, std::int64_t prefetch) {
  normalize_runs_w<16>(s, stream, prefetch);
}
template <typename T>
NORMKIT_TARGET_AVX512 void input_grad_runs_avx512(const InputGradRunsOf<T>& s, bool stream, std::int64_t prefetch) {
  input_grad_runs_w<16>(s, stream, prefetch);
}
template <typename T>
NORMKIT_TARGET_AVX512 void normalize_rows_avx512(const NormalizeRowsOf<T>& s, bool stream, std::int64_t prefetch) {
  normalize_rows_w<16>(s, stream, prefetch);
}
template <typename T>
NORMKIT_TARGET_AVX512 void input_grad_span_avx512(const InputGradSpanOf<T>& s, bool stream, std::int64_t prefetch) {
  input_grad_span_w<16>(s, stream, prefetch);
}
template <typename T>
NORMKIT_TARGET_AVX512 void input_grad_rows_avx512(const InputGradRowsOf<T>& s, bool stream, std::int64_t prefetch) {
  input_grad_rows_w<16>(s, stream, prefetch);
}
template <typename T>
NORMKIT_TARGET_AVX512 void add_span_avx512(const T* a, const T* b, T* out, std::int64_t n) {
  add_span_w<16>(a, b, out, n);
}
template <typename T>
NORMKIT_TARGET_AVX512 void copy_span_avx512(const T* src, T* dst, std::int64_t n, bool stream) {
  copy_span_w<16>(src, dst, n, stream);
}
template <typename T>
NORMKIT_TARGET_AVX512 void row_normalize_span_avx512(const RowNormalizeSpanOf<T>& s, bool stream) {
  row_normalize_span_w<16>(s, stream);
}
template <typename T>
NORMKIT_TARGET_AVX512 void accumulate_column_sums_avx512(const ColumnSumsSpanOf<T>& s) {
  accumulate_column_sums_w<16>(s);
}
template <typename T>
NORMKIT_TARGET_AVX512 void row_backward_span_avx512(const RowBackwardSpanOf<T>& s, bool stream) {
  row_backward_span_w<16>(s, stream);
}
#endif

}  // namespace

template <typename T>
void normalize_span(const NormalizeSpanOf<T>& s, bool stream, std::int64_t prefetch) {
  NORMKIT_DISPATCH(normalize_span, s, stream, prefetch);
}
template <typename T>
void normalize_runs(const NormalizeRunsOf<T>& s, bool stream, std::int64_t prefetch) {
  NORMKIT_DISPATCH(normalize_runs, s, stream, prefetch);
}
template <typename T>
void input_grad_runs(const InputGradRunsOf<T>& s, bool stream, std::int64_t prefetch) {
  NORMKIT_DISPATCH(input_grad_runs, s, stream, prefetch);
}
template <typename T>
void normalize_rows(const NormalizeRowsOf<T>& s, bool stream, std::int64_t prefetch) {
  NORMKIT_DISPATCH(normalize_rows, s, stream, prefetch);
}
template <typename T>
void input_grad_span(const InputGradSpanOf<T>& s, bool stream, std::int64_t prefetch) {
  NORMKIT_DISPATCH(input_grad_span, s, stream, prefetch);
}
template <typename T>
void input_grad_rows(const InputGradRowsOf<T>& s, bool stream, std::int64_t prefetch) {
  NORMKIT_DISPATCH(input_grad_rows, s, stream, prefetch);
}
template <typename T>
void add_span(const T* a, const T* b, T* out, std::int64_t n) {
  NORMKIT_DISPATCH(add_span, a, b, out, n);
}
template <typename T>
void copy_span(const T* src, T* dst, std::int64_t n, bool stream) {
  NORMKIT_DISPATCH(copy_span, src, dst, n, stream);
}
template <typename T>
void row_normalize_span(const RowNormalizeSpanOf<T>& s, bool stream) {
  NORMKIT_DISPATCH(row_normalize_span, s, stream);
}
template <typename T>
void accumulate_column_sums(const ColumnSumsSpanOf<T>& s) {
  NORMKIT_DISPATCH(accumulate_column_sums, s);
}
template <typename T>
void row_backward_span(const RowBackwardSpanOf<T>& s, bool stream) {
  NORMKIT_DISPATCH(row_backward_span, s, stream);
}

#define NORMKIT_ELEMENTWISE_SPANS(T)                                                       \
  template void normalize_span<T>(const NormalizeSpanOf<T>&, bool, std::int64_t);          \
  template void normalize_runs<T>(const NormalizeRunsOf<T>&, bool, std::int64_t);          \
  template void input_grad_runs<T>(const InputGradRunsOf<T>&, bool, std::int64_t);         \
  template void normalize_rows<T>(const NormalizeRowsOf<T>&, bool, std::int64_t);          \
  template void input_grad_span<T>(const InputGradSpanOf<T>&, bool, std::int64_t);         \
  template void input_grad_rows<T>(const InputGradRowsOf<T>&, bool, std::int64_t);         \
  template void add_span<T>(const T*, const T*, T*, std::int64_t);                         \
  template void copy_span<T>(const T*, T*, std::int64_t, bool);                            \
  template void row_normalize_span<T>(const RowNormalizeSpanOf<T>&, bool);                 \
  template void accumulate_column_sums<T>(const ColumnSumsSpanOf<T>&);                     \
  template void row_backward_span<T>(const RowBackwardSpanOf<T>&, bool);
NORMKIT_ELEMENTWISE_SPANS(float)
NORMKIT_ELEMENTWISE_SPANS(Bf16)
NORMKIT_ELEMENTWISE_SPANS(F16)
#undef NORMKIT_ELEMENTWISE_SPANS

}  // namespace normkit::kernels
