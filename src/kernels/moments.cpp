// Variance that stays accurate at a large mean: each block is reduced with
// the corrected two-pass algorithm (Chan, Golub and LeVeque 1983) in float
// lanes, and blocks are merged with Chan's update in double. The block is
// cache-resident, so its second pass costs arithmetic, not memory traffic.
#include "moments.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "blocked_reduce.hpp"
#include "slice_reduce.hpp"
#include "lanes.hpp"
#include "core/simd_dispatch.hpp"

namespace normkit::kernels {

namespace {

// Statistics of 16 * G channels over `rows` rows (row stride C), the
// corrected two-pass per channel in float lanes, at vector width W: G groups
// of 16 channels side by side, each exactly as G = 1 computes it, a row's
// 16 * G channels read as one contiguous run. The first pass copies the
// channels' rows into a contiguous buffer that the second pass reads: the
// strided rows (4 KiB apart when C is 1024) would otherwise fall into a few
// cache sets and be evicted before the second pass, which then went to L3.
// The second pass asks for the same channels `prefetch` elements ahead (the
// next block; 0: none), as strided rows get no hardware prefetch. (Only where
// that block exists: a prefetch of an unmapped address costs a page walk.)
// T: float, or Bf16 (widened as loaded, in both passes).
template <int W, int G, typename T = float>
[[gnu::always_inline]] inline void rows16_moments_w(const T* x0, std::int64_t C, std::int64_t rows,
                                                    std::int64_t prefetch, Moments* out, float* packed) {
  using V = vfloat<W>;
  constexpr int K = kLanes / W;
  constexpr std::int64_t kWidth = kLanes * G;
  const double dn = static_cast<double>(rows), inv_n = 1.0 / dn;
  // Each pass keeps its running sums in arrays of its own and returns
  // them. Sums of this function that a pass captured by reference GCC 12
  // kept on the stack, stored at every step (the first pass) or stored and
  // loaded again, a store-to-load forwarding in the chain of every add (the
  // second): BatchNorm training forward 32x64x56x56 channels-last bfloat16,
  // Zen 5, 1.27 against 1.14 ms at 1 thread, 0.63 against 0.56 at 2.
  struct Sums {
    LaneSet<W> v[G];
  };
  const auto returned = [](const LaneSet<W>(&sums)[G]) __attribute__((always_inline)) {
    Sums out;
    std::copy(sums, sums + G, out.v);
    return out;
  };
  LaneSet<W> shift[G];
  for (int g = 0; g < G; ++g) shift[g] = LaneSet<W>::load(x0 + g * kLanes);  // first row
  // Rows that are whole (C == 16 * G: the block is contiguous) are not
  // copied: the second pass reads them again in place. (The copy's stores
  // cost BatchNorm 64x256x14x14 channels-last training forward a sixth of
  // its time: 1.19 to 1.01 ms, 1 thread, Zen 4. bfloat16 rows are widened
  // again rather than copied: 32x64x56x56 bf16, 3.18 to 2.76 ms at 1
  // thread, 1.66 to 1.43 at 2.)
  const bool whole_rows = C == kWidth;
  const Sums sum = [&] __attribute__((always_inline)) {
    LaneSet<W> acc[G];
    for (std::int64_t r = 0; r < rows; ++r) {
#pragma GCC unroll 16
      for (int g = 0; g < G; ++g) {
        const LaneSet<W> v = LaneSet<W>::load(x0 + r * C + g * kLanes);
        if (!whole_rows) v.store(packed + r * kWidth + g * kLanes);
#pragma GCC unroll 4
        for (int k = 0; k < K; ++k) acc[g].v[k] += v.v[k] - shift[g].v[k];
      }
    }
    return returned(acc);
  }();
  LaneSet<W> mv[G];
  float m[G][kLanes];
  for (int g = 0; g < G; ++g) {
    float sums[kLanes], shifts[kLanes];
    sum.v[g].store(sums);
    shift[g].store(shifts);
    for (int l = 0; l < kLanes; ++l) m[g][l] = static_cast<float>(shifts[l] + sums[l] * inv_n);
    mv[g] = LaneSet<W>::load(m[g]);
  }
  // The second pass over `second`: x0 itself (whole rows) or the packed
  // copy, rows kWidth apart either way.
  const auto second_pass = [&](const auto* second) __attribute__((always_inline)) {
    LaneSet<W> s1[G], s2[G];
    for (std::int64_t r = 0; r < rows; ++r) {
      if (prefetch != 0)
        for (int g = 0; g < G; ++g) prefetch_ahead(x0 + r * C + g * kLanes, prefetch);
#pragma GCC unroll 16
      for (int g = 0; g < G; ++g)
#pragma GCC unroll 4
        for (int k = 0; k < K; ++k) {
          const V d = loadv<W>(second + r * kWidth + g * kLanes + k * W) - mv[g].v[k];
          s1[g].v[k] += d;
          s2[g].v[k] += d * d;
        }
    }
    return std::pair{returned(s1), returned(s2)};
  };
  std::pair<Sums, Sums> s;
  if constexpr (std::is_same_v<T, float>) s = second_pass(whole_rows ? x0 : packed);  // one loop
  else if (whole_rows) s = second_pass(x0);
  else s = second_pass(static_cast<const float*>(packed));
  for (int g = 0; g < G; ++g) {
    float t1[kLanes], t2[kLanes];
    s.first.v[g].store(t1);
    s.second.v[g].store(t2);
    for (int l = 0; l < kLanes; ++l)
      out[g * kLanes + l] = {dn, m[g][l] + t1[l] * inv_n,
                             std::max(static_cast<double>(t2[l]) - static_cast<double>(t1[l]) * t1[l] * inv_n, 0.0)};
  }
}

// The block kernel for R contiguous runs of n (`stride` floats apart), at
// vector width W, in S sets of the 16 lanes (lane_sets(n), lanes.hpp);
// run_moments is R = 1. Scalar math:
//   mean0 = x[0] + sum(x - x[0]) / n               (shifted: no cancellation)
//   m     = float(mean0)
//   s1    = sum(x - m),  s2 = sum((x - m)^2)
//   mean  = m + s1 / n,  M2 = s2 - s1^2 / n         (corrected two-pass)
// Element i goes to lane i % 16 of set (i / 16) % S (the tail continues the
// pattern, its missing lanes multiplied by 0); the sets are added lane by
// lane, then the lanes in a fixed order. During the second pass it asks for
// the run after this one (the next the engine reduces, in NCHW order), so
// that memory stays busy.
// With R > 1 the runs' running sums are independent dependency chains, which
// keeps the adders busy where one run's chain waits on each add's latency
// (one 16-wide vector per sum on AVX-512); each run gets the bits it gets
// alone (the same operations, element for element and lane for lane).
// T: float, or Bf16 (each element widened as it is loaded: the bits of the
// same run widened into float32 first).
template <int W, int R, int S, typename T = float>
[[gnu::always_inline]] inline void rows_moments_w(const T* x, std::int64_t stride, std::int64_t n,
                                                  std::int64_t prefetch, Moments* out) {
  static_assert(S == 1 || S == 2);
  using V = vfloat<W>;
  constexpr int K = kLanes / W;
  constexpr std::int64_t kStep = kLanes * S;
  // The body in whole steps of S vectors of 16; then, with two sets, one
  // whole 16 into set 0 (`block`) where 16 or more are left; then the tail
  // of rest < 16 into the set that follows.
  const std::int64_t body = n / kStep * kStep;
  const bool block = S == 2 && n - body >= kLanes;
  const std::int64_t tail_at = body + (block ? kLanes : 0), rest = n - tail_at;
  // The tail and its mask only where there is one: on the portable path the
  // tail is built in memory a float at a time and read back as vectors, a
  // store-forwarding stall that cost a 768-float row a sixth of its time.
  const LaneSet<W> mask = rest > 0 ? LaneSet<W>::tail_mask(rest) : LaneSet<W>{};
  LaneSet<W> tail[R], sum[R][S];
  float shift[R];
#pragma GCC unroll 4  // the runs' sums stay in registers only if unrolled
  for (int r = 0; r < R; ++r) {
    shift[r] = load1(x + r * stride);
    if (rest > 0) tail[r] = LaneSet<W>::load_tail(x + r * stride + tail_at, rest);
  }
  for (std::int64_t i = 0; i < body; i += kStep) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
      for (int q = 0; q < S; ++q)
#pragma GCC unroll 4
        for (int k = 0; k < K; ++k) sum[r][q].v[k] += loadv<W>(x + r * stride + i + q * kLanes + k * W) - shift[r];
  }
  const double dn = static_cast<double>(n), inv_n = 1.0 / dn;
  float m[R];
  std::array<LaneSet<W>, R> sums;
#pragma GCC unroll 4  // the runs' sums stay in registers only if unrolled
  for (int r = 0; r < R; ++r) {
    if (block) {
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) sum[r][0].v[k] += loadv<W>(x + r * stride + body + k * W) - shift[r];
    }
    // (The set by constant indices: an index known only at run time keeps
    // the sums in memory.)
    if (rest > 0 && block) {
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) sum[r][S - 1].v[k] += (tail[r].v[k] - shift[r]) * mask.v[k];
    } else if (rest > 0) {
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) sum[r][0].v[k] += (tail[r].v[k] - shift[r]) * mask.v[k];
    }
    sums[r] = sum[r][0];
    if constexpr (S == 2)
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) sums[r].v[k] += sum[r][1].v[k];
  }
  double t0[R];
  lane_totals<W>(sums, t0);
  for (int r = 0; r < R; ++r) m[r] = static_cast<float>(shift[r] + t0[r] * inv_n);
  LaneSet<W> s1[R][S], s2[R][S];
  for (std::int64_t i = 0; i < body; i += kStep) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
      for (int q = 0; q < S; ++q)
#pragma GCC unroll 4
        for (int k = 0; k < K; ++k) {
          if (k == 0 && prefetch != 0) prefetch_ahead(x + r * stride + i + q * kLanes, prefetch);
          const V d = loadv<W>(x + r * stride + i + q * kLanes + k * W) - m[r];
          s1[r][q].v[k] += d;
          s2[r][q].v[k] += d * d;
        }
  }
  std::array<LaneSet<W>, 2 * R> both;  // s1 and s2 of each run
#pragma GCC unroll 4  // the runs' sums stay in registers only if unrolled
  for (int r = 0; r < R; ++r) {
    if (block) {
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) {
        const V d = loadv<W>(x + r * stride + body + k * W) - m[r];
        s1[r][0].v[k] += d;
        s2[r][0].v[k] += d * d;
      }
    }
    if (rest > 0) {
      constexpr int kLast = S - 1;
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) {
        const V d = (tail[r].v[k] - m[r]) * mask.v[k];
        if (block) {
          s1[r][kLast].v[k] += d;
          s2[r][kLast].v[k] += d * d;
        } else {
          s1[r][0].v[k] += d;
          s2[r][0].v[k] += d * d;
        }
      }
    }
    both[2 * r] = s1[r][0];
    both[2 * r + 1] = s2[r][0];
    if constexpr (S == 2)
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) {
        both[2 * r].v[k] += s1[r][1].v[k];
        both[2 * r + 1].v[k] += s2[r][1].v[k];
      }
  }
  double t[2 * R];
  lane_totals<W>(both, t);
  for (int r = 0; r < R; ++r) {
    const double t1 = t[2 * r], t2 = t[2 * r + 1];
    out[r] = {dn, m[r] + t1 * inv_n, std::max(t2 - t1 * t1 * inv_n, 0.0)};
  }
}

// kShortRuns runs of n < kLanes elements (each run all tail), run r at
// x + r * stride, each with the bits rows_moments_w gives it alone: the
// same IEEE operations, with the runs in the lanes instead of their
// elements. Lane j of a run's LaneSet becomes the vector of lane j of every
// run: element j for j < n, and past n the values rows_moments_w puts there,
// (0 - shift) * 0 and (0 - m) * 0 (+0, or NaN for an infinite or NaN
// shift); the lane totals are total()'s pairwise tree (lanes i and i + 8,
// then i and i + 4, then i and i + 2, then the two) in double, the runs in
// the lanes. A run of a few elements (BatchNorm NCHW on 2x2 to 3x3 maps)
// cost rows_moments_w its fixed work, six lane totals and the per-run
// arithmetic in double, for every four runs: BatchNorm training forward
// 32x512x2x2 NCHW, 1 thread, Zen 5, spent 63% of its time there, and takes
// 0.21-0.22 ms rather than 0.29-0.30 with this kernel. (n as a template
// constant took 0.18 ms, for 1.9 MB more code over the lengths, paths and
// dtypes.)
template <typename T>
[[gnu::always_inline]] inline void short_runs_moments_body(const T* x, std::int64_t stride, std::int64_t n,
                                                        Moments* out) {
  typedef float F __attribute__((vector_size(4 * kShortRuns)));
  typedef float F8 __attribute__((vector_size(2 * kShortRuns)));  // half the runs
  typedef double D __attribute__((vector_size(4 * kShortRuns)));   // half the runs, in double
  constexpr int kHalf = kShortRuns / 2;
  // Element j of every run (built in registers; through a buffer in memory
  // was level).
  const auto element = [&](std::int64_t j) __attribute__((always_inline)) {
    const T* p = x + j;
    return F{load1(p), load1(p + stride), load1(p + 2 * stride), load1(p + 3 * stride),
             load1(p + 4 * stride), load1(p + 5 * stride), load1(p + 6 * stride), load1(p + 7 * stride),
             load1(p + 8 * stride), load1(p + 9 * stride), load1(p + 10 * stride), load1(p + 11 * stride),
             load1(p + 12 * stride), load1(p + 13 * stride), load1(p + 14 * stride), load1(p + 15 * stride)};
  };
  const auto low = [](const F& v) __attribute__((always_inline)) {
    return __builtin_convertvector(__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7), D);
  };
  const auto high = [](const F& v) __attribute__((always_inline)) {
    return __builtin_convertvector(__builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15), D);
  };
  // total() of the 16 lanes, for each half of the runs.
  const auto totals = [&](const F (&lane)[kLanes], D& lo_runs, D& hi_runs) __attribute__((always_inline)) {
    D t8_lo[8], t8_hi[8];
    for (int i = 0; i < 8; ++i) {
      t8_lo[i] = low(lane[i]) + low(lane[i + 8]);
      t8_hi[i] = high(lane[i]) + high(lane[i + 8]);
    }
    D t4_lo[4], t4_hi[4];
    for (int i = 0; i < 4; ++i) {
      t4_lo[i] = t8_lo[i] + t8_lo[i + 4];
      t4_hi[i] = t8_hi[i] + t8_hi[i + 4];
    }
    lo_runs = (t4_lo[0] + t4_lo[2]) + (t4_lo[1] + t4_lo[3]);
    hi_runs = (t4_hi[0] + t4_hi[2]) + (t4_hi[1] + t4_hi[3]);
  };
  const F zero{}, one = zero + 1.0f;
  const F shift = element(0);
  F e[kLanes];
  e[0] = shift;
  for (std::int64_t j = 1; j < n; ++j) e[j] = element(j);
  // First pass: each lane is +0 + ((tail - shift) * mask).
  F lanes[kLanes];
  for (int j = 0; j < kLanes; ++j) lanes[j] = zero + (zero - shift) * zero;
  for (std::int64_t j = 0; j < n; ++j) lanes[j] = zero + (e[j] - shift) * one;
  D sum_lo, sum_hi;
  totals(lanes, sum_lo, sum_hi);
  const double dn = static_cast<double>(n), inv_n = 1.0 / dn;
  const F8 m_lo = __builtin_convertvector(low(shift) + sum_lo * inv_n, F8);
  const F8 m_hi = __builtin_convertvector(high(shift) + sum_hi * inv_n, F8);
  const F m = __builtin_shufflevector(m_lo, m_hi, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  // Second pass: d = (tail - m) * mask; s1 = +0 + d; s2 = +0 + d * d.
  F d[kLanes];
  for (int j = 0; j < kLanes; ++j) d[j] = (zero - m) * zero;
  for (std::int64_t j = 0; j < n; ++j) d[j] = (e[j] - m) * one;
  F s1[kLanes], s2[kLanes];
  for (int j = 0; j < kLanes; ++j) {
    s1[j] = zero + d[j];
    s2[j] = zero + d[j] * d[j];
  }
  D t1_lo, t1_hi, t2_lo, t2_hi;
  totals(s1, t1_lo, t1_hi);
  totals(s2, t2_lo, t2_hi);
  const auto finish = [&](const F8& m8, const D& t1, const D& t2, Moments* half) __attribute__((always_inline)) {
    const D mean = __builtin_convertvector(m8, D) + t1 * inv_n;
    const D m2_raw = t2 - t1 * t1 * inv_n;
    const D zeros{};
    const D m2 = m2_raw < zeros ? zeros : m2_raw;  // std::max(m2_raw, 0.0): NaN stays
    for (int r = 0; r < kHalf; ++r) half[r] = {dn, mean[r], m2[r]};
  };
  finish(m_lo, t1_lo, t2_lo, out);
  finish(m_hi, t1_hi, t2_hi, out + kHalf);
}

// Sum of squares of R runs in S lane sets (as above; R = 1:
// run_square_sum), asking for the element `prefetch` after each one read
// (0: none). Scalar math: s += x * x
template <int W, int R, int S, typename T = float>
[[gnu::always_inline]] inline void rows_square_sums_w(const T* x, std::int64_t stride, std::int64_t n,
                                                      std::int64_t prefetch, double* out) {
  static_assert(S == 1 || S == 2);
  using V = vfloat<W>;
  constexpr int K = kLanes / W;
  constexpr std::int64_t kStep = kLanes * S;
  const std::int64_t body = n / kStep * kStep;  // then a block and a tail, as rows_moments_w's
  const bool block = S == 2 && n - body >= kLanes;
  const std::int64_t tail_at = body + (block ? kLanes : 0), rest = n - tail_at;
  LaneSet<W> s[R][S];
  for (std::int64_t i = 0; i < body; i += kStep) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
      for (int q = 0; q < S; ++q)
#pragma GCC unroll 4
        for (int k = 0; k < K; ++k) {
          if (k == 0 && prefetch != 0) prefetch_ahead(x + r * stride + i + q * kLanes, prefetch);
          const V v = loadv<W>(x + r * stride + i + q * kLanes + k * W);
          s[r][q].v[k] += v * v;
        }
  }
#pragma GCC unroll 4  // the runs' sums stay in registers only if unrolled
  for (int r = 0; r < R; ++r) {
    if (block) {
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) {
        const V v = loadv<W>(x + r * stride + body + k * W);
        s[r][0].v[k] += v * v;
      }
    }
    if (rest > 0) {
      const LaneSet<W> t = LaneSet<W>::load_tail(x + r * stride + tail_at, rest);
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) {
        if (block) s[r][S - 1].v[k] += t.v[k] * t.v[k];  // (constant indices, as rows_moments_w's)
        else s[r][0].v[k] += t.v[k] * t.v[k];
      }
    }
    LaneSet<W> lanes = s[r][0];
    if constexpr (S == 2)
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) lanes.v[k] += s[r][1].v[k];
    out[r] = lanes.total();
  }
}

// rows16_moments_w with a packed buffer on the stack (G <= 4: at most 64 KiB).
template <int W, int G, typename T = float>
[[gnu::always_inline]] inline void rows_moments_on_stack(const T* x0, std::int64_t C, std::int64_t rows,
                                                         std::int64_t prefetch, Moments* out) {
  static_assert(G <= 4);
  alignas(64) float packed[kRowChunk * kLanes * G];
  rows16_moments_w<W, G, T>(x0, C, rows, prefetch, out, packed);
}

// The single-run kernels: R = 1, in `sets` lane sets (1 or 2: lanes.hpp).
template <int W, typename T = float>
[[gnu::always_inline]] inline Moments run_moments_w(const T* x, std::int64_t n, std::int64_t prefetch, int sets) {
  Moments m;
  if (sets == 2) rows_moments_w<W, 1, 2>(x, n, n, prefetch, &m);
  else rows_moments_w<W, 1, 1>(x, n, n, prefetch, &m);
  return m;
}
template <int W, typename T = float>
[[gnu::always_inline]] inline double run_square_sum_w(const T* x, std::int64_t n, int sets) {
  double s;
  if (sets == 2) rows_square_sums_w<W, 1, 2>(x, n, n, 0, &s);
  else rows_square_sums_w<W, 1, 1>(x, n, n, 0, &s);
  return s;
}
// kInterleavedRows runs at once: kernel<R, S>(r) on the runs from r, R of
// them in S lane sets. Runs in two lane sets are interleaved only on
// AVX-512, whose 32 registers hold their 16 running sums; with fewer
// registers (AVX2: 32 vectors of sums, the portable path 64) each run goes
// alone, already two or more chains per sum at those widths: the same bits
// either way.
template <int W, typename Kernel>
[[gnu::always_inline]] inline void four_runs(int sets, const Kernel& kernel) {
  if (sets == 1) {
    kernel.template operator()<kInterleavedRows, 1>(0);
  } else if constexpr (W == 16) {
    kernel.template operator()<kInterleavedRows, 2>(0);
  } else {
    for (int r = 0; r < kInterleavedRows; ++r) kernel.template operator()<1, 2>(r);
  }
}
template <int W, typename T = float>
[[gnu::always_inline]] inline void rows4_moments_w(const T* x, std::int64_t stride, std::int64_t n,
                                                   std::int64_t prefetch, Moments* out, int sets) {
  four_runs<W>(sets, [&]<int R, int S>(int r) __attribute__((always_inline)) {
    rows_moments_w<W, R, S>(x + r * stride, stride, n, prefetch, out + r);
  });
}
template <int W, typename T = float>
[[gnu::always_inline]] inline void rows4_square_sums_w(const T* x, std::int64_t stride, std::int64_t n,
                                                       std::int64_t prefetch, double* out, int sets) {
  four_runs<W>(sets, [&]<int R, int S>(int r) __attribute__((always_inline)) {
    rows_square_sums_w<W, R, S>(x + r * stride, stride, n, prefetch, out + r);
  });
}

}  // namespace

// The wrappers: one per instruction set, each a template over the element
// type (float, Bf16) compiled for its target, instantiated below.
template <typename T>
Moments run_moments_portable(const T* x, std::int64_t n, std::int64_t prefetch, int sets) {
  return run_moments_w<4>(x, n, prefetch, sets);
}
template <typename T>
double run_square_sum_portable(const T* x, std::int64_t n, int sets) {
  return run_square_sum_w<4>(x, n, sets);
}
template <typename T>
void rows4_moments_portable(const T* x, std::int64_t stride, std::int64_t n, std::int64_t prefetch, Moments* out,
                            int sets) {
  rows4_moments_w<4>(x, stride, n, prefetch, out, sets);
}
template <typename T>
void short_runs_moments_portable(const T* x, std::int64_t stride, std::int64_t n, Moments* out) {
  short_runs_moments_body(x, stride, n, out);
}
template <typename T>
void rows4_square_sums_portable(const T* x, std::int64_t stride, std::int64_t n, std::int64_t prefetch,
                                double* out, int sets) {
  rows4_square_sums_w<4>(x, stride, n, prefetch, out, sets);
}
template <typename T>
void rows16_moments_portable(const T* x0, std::int64_t C, std::int64_t rows, std::int64_t prefetch, Moments* out) {
  rows_moments_on_stack<4, 1>(x0, C, rows, prefetch, out);
}
template <typename T>
void rows64_moments_portable(const T* x0, std::int64_t C, std::int64_t rows, std::int64_t prefetch, Moments* out) {
  rows_moments_on_stack<4, 4>(x0, C, rows, prefetch, out);
}
// 256 channels: four groups of 64 where registers are few; AVX-512 reads the
// 256 channels of each row at once, 16 running sums in registers, and the
// block's rows whole: reading 1 KiB rows in four 256-byte strips, one
// block per strip, went to memory four times (BatchNorm 64x256x14x14
// channels-last training forward after a cache eviction, 1 thread, Zen 4:
// 2.29-2.44 to 1.83-1.87 ms). It asks for nothing ahead: the next block is
// the next rows, which the hardware prefetcher follows.
template <typename T>
void rows256_moments_portable(const T* x0, std::int64_t C, std::int64_t rows, std::int64_t prefetch, Moments* out) {
  for (int q = 0; q < 4; ++q) rows64_moments_portable(x0 + 64 * q, C, rows, prefetch, out + 64 * q);
}
#if NORMKIT_X86_DISPATCH
template <typename T>
NORMKIT_TARGET_AVX2 Moments run_moments_avx2(const T* x, std::int64_t n, std::int64_t prefetch, int sets) {
  return run_moments_w<8>(x, n, prefetch, sets);
}
template <typename T>
NORMKIT_TARGET_AVX2 double run_square_sum_avx2(const T* x, std::int64_t n, int sets) {
  return run_square_sum_w<8>(x, n, sets);
}
template <typename T>
NORMKIT_TARGET_AVX2 void rows4_moments_avx2(const T* x, std::int64_t stride, std::int64_t n, std::int64_t prefetch,
                                            Moments* out, int sets) {
  rows4_moments_w<8>(x, stride, n, prefetch, out, sets);
}
template <typename T>
NORMKIT_TARGET_AVX2 void short_runs_moments_avx2(const T* x, std::int64_t stride, std::int64_t n, Moments* out) {
  short_runs_moments_body(x, stride, n, out);
}
template <typename T>
NORMKIT_TARGET_AVX2 void rows4_square_sums_avx2(const T* x, std::int64_t stride, std::int64_t n, std::int64_t prefetch,
                                                double* out, int sets) {
  rows4_square_sums_w<8>(x, stride, n, prefetch, out, sets);
}
template <typename T>
NORMKIT_TARGET_AVX2 void rows16_moments_avx2(const T* x0, std::int64_t C, std::int64_t rows, std::int64_t prefetch,
                                             Moments* out) {
  rows_moments_on_stack<8, 1>(x0, C, rows, prefetch, out);
}
template <typename T>
NORMKIT_TARGET_AVX2 void rows64_moments_avx2(const T* x0, std::int64_t C, std::int64_t rows, std::int64_t prefetch,
                                             Moments* out) {
  rows_moments_on_stack<8, 4>(x0, C, rows, prefetch, out);
}
template <typename T>
NORMKIT_TARGET_AVX2 void rows256_moments_avx2(const T* x0, std::int64_t C, std::int64_t rows,
                                              std::int64_t prefetch, Moments* out) {
  for (int q = 0; q < 4; ++q) rows64_moments_avx2(x0 + 64 * q, C, rows, prefetch, out + 64 * q);
}
template <typename T>
NORMKIT_TARGET_AVX512 Moments run_moments_avx512(const T* x, std::int64_t n, std::int64_t prefetch, int sets) {
  return run_moments_w<16>(x, n, prefetch, sets);
}
template <typename T>
NORMKIT_TARGET_AVX512 double run_square_sum_avx512(const T* x, std::int64_t n, int sets) {
  return run_square_sum_w<16>(x, n, sets);
}
template <typename T>
NORMKIT_TARGET_AVX512 void rows4_moments_avx512(const T* x, std::int64_t stride, std::int64_t n,
                                                std::int64_t prefetch, Moments* out, int sets) {
  rows4_moments_w<16>(x, stride, n, prefetch, out, sets);
}
template <typename T>
NORMKIT_TARGET_AVX512 void short_runs_moments_avx512(const T* x, std::int64_t stride, std::int64_t n,
                                                     Moments* out) {
  short_runs_moments_body(x, stride, n, out);
}
template <typename T>
NORMKIT_TARGET_AVX512 void rows4_square_sums_avx512(const T* x, std::int64_t stride, std::int64_t n,
                                                    std::int64_t prefetch, double* out, int sets) {
  rows4_square_sums_w<16>(x, stride, n, prefetch, out, sets);
}
template <typename T>
NORMKIT_TARGET_AVX512 void rows16_moments_avx512(const T* x0, std::int64_t C, std::int64_t rows,
                                                 std::int64_t prefetch, Moments* out) {
  rows_moments_on_stack<16, 1>(x0, C, rows, prefetch, out);
}
template <typename T>
NORMKIT_TARGET_AVX512 void rows64_moments_avx512(const T* x0, std::int64_t C, std::int64_t rows,
                                                 std::int64_t prefetch, Moments* out) {
  rows_moments_on_stack<16, 4>(x0, C, rows, prefetch, out);
}
template <typename T>
NORMKIT_TARGET_AVX512 void rows256_moments_avx512(const T* x0, std::int64_t C, std::int64_t rows,
                                                  std::int64_t /*prefetch: none, see above*/, Moments* out) {
  thread_local std::vector<float> packed(static_cast<std::size_t>(kRowChunk * 256));
  rows16_moments_w<16, 16>(x0, C, rows, 0, out, packed.data());
}
#endif

template <typename T>
Moments run_moments(const T* x, std::int64_t n, std::int64_t prefetch, int sets) {
  return NORMKIT_DISPATCH(run_moments, x, n, prefetch, sets);
}
template <typename T>
double run_square_sum(const T* x, std::int64_t n, int sets) {
  return NORMKIT_DISPATCH(run_square_sum, x, n, sets);
}
template <typename T>
void rows4_moments(const T* x, std::int64_t stride, std::int64_t n, std::int64_t prefetch, Moments* out,
                   int sets) {
  NORMKIT_DISPATCH(rows4_moments, x, stride, n, prefetch, out, sets);
}
template <typename T>
void short_runs_moments(const T* x, std::int64_t stride, std::int64_t n, Moments* out) {
  NORMKIT_DISPATCH(short_runs_moments, x, stride, n, out);
}
template <typename T>
void rows4_square_sums(const T* x, std::int64_t stride, std::int64_t n, std::int64_t prefetch, double* out,
                       int sets) {
  NORMKIT_DISPATCH(rows4_square_sums, x, stride, n, prefetch, out, sets);
}
template <typename T>
void rows16_moments(const T* x0, std::int64_t C, std::int64_t rows, std::int64_t prefetch, Moments* out) {
  NORMKIT_DISPATCH(rows16_moments, x0, C, rows, prefetch, out);
}
template <typename T>
void rows64_moments(const T* x0, std::int64_t C, std::int64_t rows, std::int64_t prefetch, Moments* out) {
  NORMKIT_DISPATCH(rows64_moments, x0, C, rows, prefetch, out);
}
template <typename T>
void rows256_moments(const T* x0, std::int64_t C, std::int64_t rows, std::int64_t prefetch, Moments* out) {
  NORMKIT_DISPATCH(rows256_moments, x0, C, rows, prefetch, out);
}

template <typename T>
Moments chunked_moments(const T* x, std::int64_t n, LaneRule rule) {
  Moments acc{};
  for (std::int64_t d0 = 0; d0 < n; d0 += kRunChunk) {
    const std::int64_t len = std::min(kRunChunk, n - d0);
    acc = Moments::merge(acc, run_moments(x + d0, len, 0, lane_sets(rule, len)));
  }
  return acc;
}
template <typename T>
void chunked_moments4(const T* x0, std::int64_t n, std::int64_t prefetch, Moments* out, LaneRule rule) {
  std::fill(out, out + kInterleavedRows, Moments{});
  for (std::int64_t d0 = 0; d0 < n; d0 += kRunChunk) {
    Moments chunk[kInterleavedRows];
    const std::int64_t len = std::min(kRunChunk, n - d0);
    rows4_moments(x0 + d0, n, len, prefetch, chunk, lane_sets(rule, len));
    for (int r = 0; r < kInterleavedRows; ++r) out[r] = Moments::merge(out[r], chunk[r]);
  }
}

#define NORMKIT_MOMENTS_KERNELS(path, T)                                                                       \
  template Moments run_moments##path<T>(const T*, std::int64_t, std::int64_t, int);                            \
  template double run_square_sum##path<T>(const T*, std::int64_t, int);                                        \
  template void rows4_moments##path<T>(const T*, std::int64_t, std::int64_t, std::int64_t, Moments*, int);     \
  template void rows4_square_sums##path<T>(const T*, std::int64_t, std::int64_t, std::int64_t, double*, int);  \
  template void short_runs_moments##path<T>(const T*, std::int64_t, std::int64_t, Moments*);                    \
  template void rows16_moments##path<T>(const T*, std::int64_t, std::int64_t, std::int64_t, Moments*);         \
  template void rows64_moments##path<T>(const T*, std::int64_t, std::int64_t, std::int64_t, Moments*);         \
  template void rows256_moments##path<T>(const T*, std::int64_t, std::int64_t, std::int64_t, Moments*);
#define NORMKIT_MOMENTS_ALL_PATHS(T)                                                     \
  NORMKIT_MOMENTS_KERNELS(, T) NORMKIT_MOMENTS_KERNELS(_portable, T)                     \
  template Moments chunked_moments<T>(const T*, std::int64_t, LaneRule);                   \
  template void chunked_moments4<T>(const T*, std::int64_t, std::int64_t, Moments*, LaneRule);
NORMKIT_MOMENTS_ALL_PATHS(float)
NORMKIT_MOMENTS_ALL_PATHS(Bf16)
NORMKIT_MOMENTS_ALL_PATHS(F16)
#if NORMKIT_X86_DISPATCH
NORMKIT_MOMENTS_KERNELS(_avx2, float)
NORMKIT_MOMENTS_KERNELS(_avx2, Bf16)
NORMKIT_MOMENTS_KERNELS(_avx2, F16)
NORMKIT_MOMENTS_KERNELS(_avx512, float)
NORMKIT_MOMENTS_KERNELS(_avx512, Bf16)
NORMKIT_MOMENTS_KERNELS(_avx512, F16)
#endif
#undef NORMKIT_MOMENTS_ALL_PATHS
#undef NORMKIT_MOMENTS_KERNELS

namespace {

// T: float, or a 16-bit type (vectors.hpp; widened as loaded: the same bits).
template <typename T>
struct MomentsOps {
  const T* x;
  std::int64_t C, numel;

  Moments run(std::int64_t, std::int64_t, std::int64_t offset, std::int64_t n) const {
    return run_moments(x + offset, n, n, 1);
  }
  // Short runs (a (sample, channel) of a few hundred floats) four at a time:
  // their running sums are independent chains, and their fixed costs (lane
  // totals, the tail) overlap.
  static constexpr int kRuns = kInterleavedRows;
  void runs(std::int64_t offset, std::int64_t stride, std::int64_t n, Moments* out) const {
    rows4_moments(x + offset, stride, n, kRuns * stride, out, 1);
  }
  // Runs shorter than the lanes sixteen at a time, the runs in the lanes.
  static constexpr int kShortRuns = normkit::kernels::kShortRuns;
  static constexpr std::int64_t kShortRunLength = kLanes;
  void short_runs(std::int64_t offset, std::int64_t stride, std::int64_t n, Moments* out) const {
    short_runs_moments(x + offset, stride, n, out);
  }

  // Channels contiguous: the same algorithm per channel, over the rows in
  // order; 16 channels at a time in registers (the rest one by one, with the
  // same arithmetic), so every channel gets the same bits either way.
  void rows(std::int64_t, std::int64_t offset, std::int64_t rows, std::int64_t c0, std::int64_t n,
            Moments* out) const {
    const T* x0 = x + offset + c0;  // (rows, C), from channel c0
    if (rows == 1) {  // one value per channel: its statistics are the value itself
      for (std::int64_t j = 0; j < n; ++j) out[j] = {1.0, load1(x0 + j), 0.0};
      return;
    }
    const double dn = static_cast<double>(rows), inv_n = 1.0 / dn;
    std::int64_t j = 0;
    const std::int64_t prefetch = offset + (rows + kRowChunk) * C <= numel ? kRowChunk * C : 0;
    for (; j + 16 * kLanes <= n; j += 16 * kLanes) rows256_moments(x0 + j, C, rows, prefetch, out + j);
    for (; j + 4 * kLanes <= n; j += 4 * kLanes) rows64_moments(x0 + j, C, rows, prefetch, out + j);
    for (; j + kLanes <= n; j += kLanes) rows16_moments(x0 + j, C, rows, prefetch, out + j);
    for (; j < n; ++j) out[j] = rows1(x0 + j, rows, dn, inv_n);
  }

  Moments rows1(const T* x0, std::int64_t rows, double dn, double inv_n) const {
    const float shift = load1(x0);
    float sum = 0;
    for (std::int64_t r = 0; r < rows; ++r) sum += load1(x0 + r * C) - shift;
    const float m = static_cast<float>(shift + sum * inv_n);
    float s1 = 0, s2 = 0;
    for (std::int64_t r = 0; r < rows; ++r) {
      const float d = load1(x0 + r * C) - m;
      s1 += d;
      s2 += d * d;
    }
    return {dn, m + s1 * inv_n, std::max(static_cast<double>(s2) - static_cast<double>(s1) * s1 * inv_n, 0.0)};
  }
};

}  // namespace

namespace {
template <typename T>
void reduce_moments(const MomentsArgsOf<T>& args) {
  blocked_reduce(args.plan, MomentsOps<T>{args.x, args.plan.C, args.plan.numel()}, args.out);
}
}  // namespace

void moments(const MomentsArgs& args) { reduce_moments(args); }
void moments(const MomentsArgsOf<Bf16>& args) { reduce_moments(args); }
void moments(const MomentsArgsOf<F16>& args) { reduce_moments(args); }

void moments_of_whole_nodes(const float* x, const NormPlan& local, const SampleTree& tree, std::int64_t first,
                            const LeafList& nodes, Moments* out) {
  reduce_whole_nodes(local, MomentsOps<float>{x, local.C, local.numel()}, tree, first, nodes, out);
}

template <typename T>
void moments_each_slice(const T* x, const NormPlan& plan,
                        const SlicesFinish<Moments>& finish, const SlicePass& pass) {
  reduce_each_slice<Moments>(plan, MomentsOps<T>{x, plan.C, plan.numel()}, finish, pass);
}
template void moments_each_slice<float>(const float*, const NormPlan&,
                                        const SlicesFinish<Moments>&, const SlicePass&);
template void moments_each_slice<Bf16>(const Bf16*, const NormPlan&,
                                       const SlicesFinish<Moments>&, const SlicePass&);
template void moments_each_slice<F16>(const F16*, const NormPlan&,
                                      const SlicesFinish<Moments>&, const SlicePass&);

namespace {

struct SquareSum {
  double sum = 0;
  static SquareSum merge(const SquareSum& p, const SquareSum& q) { return {p.sum + q.sum}; }
  static void merge_span(const SquareSum* p, const SquareSum* q, SquareSum* out, std::int64_t n) {
    for (std::int64_t j = 0; j < n; ++j) out[j] = merge(p[j], q[j]);
  }
};

struct SquareSumOps {
  const float* x;
  std::int64_t C;

  // Scalar math: s += x * x
  SquareSum run(std::int64_t, std::int64_t, std::int64_t offset, std::int64_t n) const {
    return {run_square_sum(x + offset, n, 1)};
  }
  void rows(std::int64_t, std::int64_t offset, std::int64_t rows, std::int64_t c0, std::int64_t n,
            SquareSum* out) const {
    const float* x0 = x + offset + c0;  // (rows, C), from channel c0
    for (std::int64_t j = 0; j < n; ++j) {
      float sum = 0;
      for (std::int64_t r = 0; r < rows; ++r) sum += x0[r * C + j] * x0[r * C + j];
      out[j] = {sum};
    }
  }
};

}  // namespace

void mean_squares(const MeanSquaresArgs& args) {
  const NormPlan& plan = args.plan;
  std::vector<SquareSum> sums(static_cast<std::size_t>(plan.A * plan.C));
  blocked_reduce(plan, SquareSumOps{args.x, plan.C}, sums.data());
  const double count = static_cast<double>(plan.reduced_count());
  for (std::size_t i = 0; i < sums.size(); ++i) args.out[i] = sums[i].sum / count;
}

}  // namespace normkit::kernels
