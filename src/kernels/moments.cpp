// Variance that stays accurate at a large mean: each block is reduced with
// the corrected two-pass algorithm (Chan, Golub and LeVeque 1983) in float
// lanes, and blocks are merged with Chan's update in double. The block is
// cache-resident, so its second pass costs arithmetic, not memory traffic.
#include "moments.hpp"

#include <algorithm>
#include <vector>

#include "blocked_reduce.hpp"
#include "lanes.hpp"

namespace normkit::kernels {

Moments run_moments(const float* x, std::int64_t n) {
  // Scalar math:
  //   mean0 = x[0] + sum(x - x[0]) / n               (shifted: no cancellation)
  //   m     = float(mean0)
  //   s1    = sum(x - m),  s2 = sum((x - m)^2)
  //   mean  = m + s1 / n,  M2 = s2 - s1^2 / n         (corrected two-pass)
  const float shift = x[0];
  Lanes sum;
  sum.accumulate(n, [&](std::int64_t i) { return x[i] - shift; });
  const float m = static_cast<float>(shift + sum.total() / static_cast<double>(n));
  Lanes s1, s2;
  for_lanes(n, [&](std::int64_t i, int lane) {
    const float d = x[i] - m;
    s1.v[lane] += d;
    s2.v[lane] += d * d;
  });
  const double t1 = s1.total(), t2 = s2.total(), dn = static_cast<double>(n);
  return {dn, m + t1 / dn, std::max(t2 - t1 * t1 / dn, 0.0)};
}

namespace {

struct MomentsOps {
  const float* x;
  std::int64_t C;

  Moments run(std::int64_t, std::int64_t, std::int64_t offset, std::int64_t n) const {
    return run_moments(x + offset, n);
  }

  // Channels contiguous: the same algorithm, vectorised across channels.
  void rows(std::int64_t, std::int64_t offset, std::int64_t rows, Moments* out) const {
    const float* x0 = x + offset;  // (rows, C)
    if (rows == 1) {  // what the two passes below give for one row, exactly
      for (std::int64_t c = 0; c < C; ++c) out[c] = {1.0, x0[c], 0.0};
      return;
    }
    thread_local std::vector<float> scratch;
    scratch.assign(static_cast<std::size_t>(3 * C), 0.0f);
    float* sum = scratch.data();  // (C)
    float* s1 = sum + C;          // (C)
    float* s2 = s1 + C;           // (C)
    const float* shift = x0;      // first row
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < C; ++c) sum[c] += x0[r * C + c] - shift[c];
    const double dn = static_cast<double>(rows), inv_n = 1.0 / dn;
    for (std::int64_t c = 0; c < C; ++c)
      out[c].mean = static_cast<float>(shift[c] + sum[c] * inv_n);  // m, as float
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < C; ++c) {
        const float d = x0[r * C + c] - static_cast<float>(out[c].mean);
        s1[c] += d;
        s2[c] += d * d;
      }
    for (std::int64_t c = 0; c < C; ++c) {
      const double t1 = s1[c], t2 = s2[c];
      out[c] = {dn, out[c].mean + t1 * inv_n, std::max(t2 - t1 * t1 * inv_n, 0.0)};
    }
  }
};

}  // namespace

void moments(const MomentsArgs& args) {
  blocked_reduce(args.plan, MomentsOps{args.x, args.plan.C}, args.out);
}

namespace {

struct SquareSum {
  double sum = 0;
  static SquareSum merge(const SquareSum& p, const SquareSum& q) { return {p.sum + q.sum}; }
};

struct SquareSumOps {
  const float* x;
  std::int64_t C;

  // Scalar math: s += x * x
  SquareSum run(std::int64_t, std::int64_t, std::int64_t offset, std::int64_t n) const {
    Lanes sum;
    const float* p = x + offset;
    sum.accumulate(n, [&](std::int64_t i) { return p[i] * p[i]; });
    return {sum.total()};
  }
  void rows(std::int64_t, std::int64_t offset, std::int64_t rows, SquareSum* out) const {
    thread_local std::vector<float> sum;
    sum.assign(static_cast<std::size_t>(C), 0.0f);
    const float* x0 = x + offset;  // (rows, C)
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < C; ++c) sum[c] += x0[r * C + c] * x0[r * C + c];
    for (std::int64_t c = 0; c < C; ++c) out[c] = {sum[c]};
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
