// Variance that stays accurate at a large mean: each block is reduced with
// the corrected two-pass algorithm (Chan, Golub and LeVeque 1983) in float
// lanes, and blocks are merged with Chan's update in double. The block is
// cache-resident, so its second pass costs arithmetic, not memory traffic.
#include "moments.hpp"

#include <algorithm>
#include <vector>

#include "blocked_reduce.hpp"
#include "lanes.hpp"
#include "simd.hpp"

#include <cstring>

namespace normkit::kernels {

Moments run_moments_portable(const float* x, std::int64_t n) {
  // Scalar math:
  //   mean0 = x[0] + sum(x - x[0]) / n               (shifted: no cancellation)
  //   m     = float(mean0)
  //   s1    = sum(x - m),  s2 = sum((x - m)^2)
  //   mean  = m + s1 / n,  M2 = s2 - s1^2 / n         (corrected two-pass)
  // Element i goes to lane i % 16 (the tail continues the lane pattern); the
  // lanes are added in a fixed order.
  const float shift = x[0];
  const std::int64_t body = n / kLanes * kLanes, rest = n - body;
  const Lanes16 mask = tail_mask(rest), tail = load_tail(x + body, rest);
  Lanes16 sum;
  auto add_shifted = [&](const Lanes16& v, const Lanes16* m) {
    sum.v0 += m ? (v.v0 - shift) * m->v0 : v.v0 - shift;
    sum.v1 += m ? (v.v1 - shift) * m->v1 : v.v1 - shift;
    sum.v2 += m ? (v.v2 - shift) * m->v2 : v.v2 - shift;
    sum.v3 += m ? (v.v3 - shift) * m->v3 : v.v3 - shift;
  };
  for (std::int64_t i = 0; i < body; i += kLanes) add_shifted(load16(x + i), nullptr);
  if (rest > 0) add_shifted(tail, &mask);
  const double dn = static_cast<double>(n), inv_n = 1.0 / dn;
  const float m = static_cast<float>(shift + lane_total(sum) * inv_n);
  Lanes16 s1, s2;
  auto add_centered = [&](const Lanes16& v, const Lanes16* k) {
    const f32x4 d0 = k ? (v.v0 - m) * k->v0 : v.v0 - m, d1 = k ? (v.v1 - m) * k->v1 : v.v1 - m;
    const f32x4 d2 = k ? (v.v2 - m) * k->v2 : v.v2 - m, d3 = k ? (v.v3 - m) * k->v3 : v.v3 - m;
    s1.v0 += d0, s1.v1 += d1, s1.v2 += d2, s1.v3 += d3;
    s2.v0 += d0 * d0, s2.v1 += d1 * d1, s2.v2 += d2 * d2, s2.v3 += d3 * d3;
  };
  for (std::int64_t i = 0; i < body; i += kLanes) add_centered(load16(x + i), nullptr);
  if (rest > 0) add_centered(tail, &mask);
  const double t1 = lane_total(s1), t2 = lane_total(s2);
  return {dn, m + t1 * inv_n, std::max(t2 - t1 * t1 * inv_n, 0.0)};
}

#if NORMKIT_HAS_AVX2_PATH
// The same algorithm and lane order with 8-float AVX2 vectors: lanes 0-7 in
// `a`, 8-15 in `b`, each lane's arithmetic unchanged, so the bits are those of
// run_moments_portable.
using f32x8 = float __attribute__((vector_size(32)));

__attribute__((target("avx2"))) static inline f32x8 load8(const float* p) {
  f32x8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

__attribute__((target("avx2"))) Moments run_moments_avx2(const float* x, std::int64_t n) {
  const float shift = x[0];
  const std::int64_t body = n / kLanes * kLanes, rest = n - body;
  float tail_buf[kLanes] = {}, mask_buf[kLanes] = {};
  std::memcpy(tail_buf, x + body, static_cast<std::size_t>(rest) * sizeof(float));
  for (std::int64_t l = 0; l < rest; ++l) mask_buf[l] = 1.0f;
  const f32x8 ta = load8(tail_buf), tb = load8(tail_buf + 8), ma = load8(mask_buf), mb = load8(mask_buf + 8);
  f32x8 sa = {}, sb = {};
  for (std::int64_t i = 0; i < body; i += kLanes) {
    sa += load8(x + i) - shift;
    sb += load8(x + i + 8) - shift;
  }
  if (rest > 0) {
    sa += (ta - shift) * ma;
    sb += (tb - shift) * mb;
  }
  float lanes[kLanes];
  std::memcpy(lanes, &sa, 32);
  std::memcpy(lanes + 8, &sb, 32);
  const double dn = static_cast<double>(n), inv_n = 1.0 / dn;
  const float m = static_cast<float>(shift + lane_total(static_cast<const float*>(lanes)) * inv_n);
  f32x8 s1a = {}, s1b = {}, s2a = {}, s2b = {};
  for (std::int64_t i = 0; i < body; i += kLanes) {
    prefetch_ahead(x + i, n);
    const f32x8 da = load8(x + i) - m, db = load8(x + i + 8) - m;
    s1a += da, s1b += db;
    s2a += da * da, s2b += db * db;
  }
  if (rest > 0) {
    const f32x8 da = (ta - m) * ma, db = (tb - m) * mb;
    s1a += da, s1b += db;
    s2a += da * da, s2b += db * db;
  }
  float l1[kLanes], l2[kLanes];
  std::memcpy(l1, &s1a, 32);
  std::memcpy(l1 + 8, &s1b, 32);
  std::memcpy(l2, &s2a, 32);
  std::memcpy(l2 + 8, &s2b, 32);
  const double t1 = lane_total(static_cast<const float*>(l1)), t2 = lane_total(static_cast<const float*>(l2));
  return {dn, m + t1 * inv_n, std::max(t2 - t1 * t1 * inv_n, 0.0)};
}
#endif

Moments run_moments(const float* x, std::int64_t n) {
#if NORMKIT_HAS_AVX2_PATH
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return run_moments_avx2(x, n);
#endif
  return run_moments_portable(x, n);
}

namespace {

struct MomentsOps {
  const float* x;
  std::int64_t C;

  Moments run(std::int64_t, std::int64_t, std::int64_t offset, std::int64_t n) const {
    return run_moments(x + offset, n);
  }

  // Channels contiguous: the same algorithm per channel, over the rows in
  // order; 16 channels at a time in registers (the rest one by one, with the
  // same arithmetic), so every channel gets the same bits either way.
  void rows(std::int64_t, std::int64_t offset, std::int64_t rows, std::int64_t c0, std::int64_t n,
            Moments* out) const {
    const float* x0 = x + offset + c0;  // (rows, C), from channel c0
    if (rows == 1) {  // one value per channel: its statistics are the value itself
      for (std::int64_t j = 0; j < n; ++j) out[j] = {1.0, x0[j], 0.0};
      return;
    }
    const double dn = static_cast<double>(rows), inv_n = 1.0 / dn;
    std::int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes) rows16(x0 + j, rows, dn, inv_n, out + j);
    for (; j < n; ++j) out[j] = rows1(x0 + j, rows, dn, inv_n);
  }

  // The first pass copies the 16 channels' rows into a contiguous buffer
  // that the second pass reads: the strided rows (4 KiB apart when C is
  // 1024) would otherwise fall into a few cache sets and be evicted before
  // the second pass, which then went to L3.
  NORMKIT_SIMD void rows16(const float* x0, std::int64_t rows, double dn, double inv_n, Moments* out) const {
    alignas(64) float packed[kRowChunk * kLanes];
    const Lanes16 shift = load16(x0);  // first row
    Lanes16 sum;
    for (std::int64_t r = 0; r < rows; ++r) {
      const Lanes16 v = load16(x0 + r * C);
      store16(packed + r * kLanes, v);
      sum.v0 += v.v0 - shift.v0, sum.v1 += v.v1 - shift.v1, sum.v2 += v.v2 - shift.v2, sum.v3 += v.v3 - shift.v3;
    }
    float sums[kLanes], shifts[kLanes], m[kLanes];
    store16(sums, sum);
    store16(shifts, shift);
    for (int l = 0; l < kLanes; ++l) m[l] = static_cast<float>(shifts[l] + sums[l] * inv_n);
    const Lanes16 mv = load16(m);
    Lanes16 s1, s2;
    for (std::int64_t r = 0; r < rows; ++r) {
      // The same channels of the next block (the next call for this strip of
      // channels): the strided rows get no hardware prefetch.
      prefetch_ahead(x0 + r * C, kRowChunk * C);
      const Lanes16 v = load16(packed + r * kLanes);
      const f32x4 d0 = v.v0 - mv.v0, d1 = v.v1 - mv.v1, d2 = v.v2 - mv.v2, d3 = v.v3 - mv.v3;
      s1.v0 += d0, s1.v1 += d1, s1.v2 += d2, s1.v3 += d3;
      s2.v0 += d0 * d0, s2.v1 += d1 * d1, s2.v2 += d2 * d2, s2.v3 += d3 * d3;
    }
    float t1[kLanes], t2[kLanes];
    store16(t1, s1);
    store16(t2, s2);
    for (int l = 0; l < kLanes; ++l)
      out[l] = {dn, m[l] + t1[l] * inv_n, std::max(static_cast<double>(t2[l]) - static_cast<double>(t1[l]) * t1[l] * inv_n, 0.0)};
  }

  Moments rows1(const float* x0, std::int64_t rows, double dn, double inv_n) const {
    const float shift = x0[0];
    float sum = 0;
    for (std::int64_t r = 0; r < rows; ++r) sum += x0[r * C] - shift;
    const float m = static_cast<float>(shift + sum * inv_n);
    float s1 = 0, s2 = 0;
    for (std::int64_t r = 0; r < rows; ++r) {
      const float d = x0[r * C] - m;
      s1 += d;
      s2 += d * d;
    }
    return {dn, m + s1 * inv_n, std::max(static_cast<double>(s2) - static_cast<double>(s1) * s1 * inv_n, 0.0)};
  }
};

}  // namespace

void moments(const MomentsArgs& args) {
  blocked_reduce(args.plan, MomentsOps{args.x, args.plan.C}, args.out);
}

void moments_each_slice(const float* x, const NormPlan& plan,
                        const std::function<void(std::int64_t, const Moments&)>& visit) {
  reduce_each_slice<Moments>(plan, MomentsOps{x, plan.C}, visit);
}

NORMKIT_SIMD double run_square_sum(const float* x, std::int64_t n) {
  // Scalar math: s += x * x
  const std::int64_t body = n / kLanes * kLanes, rest = n - body;
  Lanes16 s;
  for (std::int64_t i = 0; i < body; i += kLanes) {
    const Lanes16 v = load16(x + i);
    s.v0 += v.v0 * v.v0, s.v1 += v.v1 * v.v1, s.v2 += v.v2 * v.v2, s.v3 += v.v3 * v.v3;
  }
  if (rest > 0) {
    const Lanes16 v = load_tail(x + body, rest);  // zeros square to zeros
    s.v0 += v.v0 * v.v0, s.v1 += v.v1 * v.v1, s.v2 += v.v2 * v.v2, s.v3 += v.v3 * v.v3;
  }
  return lane_total(s);
}

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
    return {run_square_sum(x + offset, n)};
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
