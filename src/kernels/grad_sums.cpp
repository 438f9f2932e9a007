#include "grad_sums.hpp"

#include <vector>

#include "blocked_reduce.hpp"
#include "lanes.hpp"
#include "simd.hpp"

namespace normkit::kernels {
// One contiguous run of n elements (a run never crosses a d-row, so w, when
// given, is the run's slice of the per-d weight).
NORMKIT_SIMD GradSums run_grad_sums(const float* dy, const float* x, const float* w, float hi,
                                    float lo, std::int64_t n) {
  const std::int64_t body = n / kLanes * kLanes, rest = n - body;
  Lanes16 g, gx;
  auto add = [&](const Lanes16& d, const Lanes16& v, const Lanes16* weight, const Lanes16* mask) {
    auto step = [&](f32x4& g4, f32x4& gx4, f32x4 d4, f32x4 v4, const f32x4* w4, const f32x4* m4) {
      f32x4 gi = w4 ? d4 * *w4 : d4;
      if (m4) gi *= *m4;
      g4 += gi;
      gx4 += gi * ((v4 - hi) - lo);
    };
    step(g.v0, gx.v0, d.v0, v.v0, weight ? &weight->v0 : nullptr, mask ? &mask->v0 : nullptr);
    step(g.v1, gx.v1, d.v1, v.v1, weight ? &weight->v1 : nullptr, mask ? &mask->v1 : nullptr);
    step(g.v2, gx.v2, d.v2, v.v2, weight ? &weight->v2 : nullptr, mask ? &mask->v2 : nullptr);
    step(g.v3, gx.v3, d.v3, v.v3, weight ? &weight->v3 : nullptr, mask ? &mask->v3 : nullptr);
  };
  if (w != nullptr) {
    for (std::int64_t i = 0; i < body; i += kLanes) {
      const Lanes16 wi = load16(w + i);
      add(load16(dy + i), load16(x + i), &wi, nullptr);
    }
  } else {
    for (std::int64_t i = 0; i < body; i += kLanes) add(load16(dy + i), load16(x + i), nullptr, nullptr);
  }
  if (rest > 0) {
    const Lanes16 mask = tail_mask(rest), wt = w ? load_tail(w + body, rest) : Lanes16{};
    add(load_tail(dy + body, rest), load_tail(x + body, rest), w ? &wt : nullptr, &mask);
  }
  return {lane_total(g), lane_total(gx)};
}

namespace {

struct GradSumsOps {
  const GradSumsArgs& args;

  // Scalar math: g = dy * w[d];  sum_g += g;  sum_gx += g * ((x - hi) - lo)
  GradSums run(std::int64_t a, std::int64_t c, std::int64_t offset, std::int64_t n) const {
    const std::int64_t ac = a * args.plan.C + c;
    const float* w = args.d_weight != nullptr ? args.d_weight + offset % args.plan.D : nullptr;
    return run_grad_sums(args.dy + offset, args.x + offset, w, args.center_hi[ac], args.center_lo[ac], n);
  }

  // Channels contiguous: per channel over the rows in order; 16 channels at a
  // time in registers, the rest one by one with the same arithmetic.
  // Scalar math: g = dy * w;  sum_g += g;  sum_gx += g * ((x - hi) - lo)
  void rows(std::int64_t a, std::int64_t offset, std::int64_t rows, std::int64_t first, std::int64_t n,
            GradSums* out) const {
    const std::int64_t C = args.plan.C;
    const float w = args.d_weight != nullptr ? args.d_weight[0] : 1.0f;  // D == 1 here
    const bool weighted = args.d_weight != nullptr;
    std::int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes) rows16(a, offset, first + j, rows, weighted, w, out + j);
    for (; j < n; ++j) {
      const std::int64_t c = first + j;
      const float hi = args.center_hi[a * C + c], lo = args.center_lo[a * C + c];
      float g = 0, gx = 0;
      for (std::int64_t r = 0; r < rows; ++r) {
        const float d = weighted ? args.dy[offset + r * C + c] * w : args.dy[offset + r * C + c];
        g += d;
        gx += d * ((args.x[offset + r * C + c] - hi) - lo);
      }
      out[j] = {g, gx};
    }
  }

  NORMKIT_SIMD void rows16(std::int64_t a, std::int64_t offset, std::int64_t c0, std::int64_t rows,
                           bool weighted, float w, GradSums* out) const {
    const std::int64_t C = args.plan.C;
    const Lanes16 hi = load16(args.center_hi + a * C + c0), lo = load16(args.center_lo + a * C + c0);
    const float* dy = args.dy + offset + c0;
    const float* x = args.x + offset + c0;
    Lanes16 g, gx;
    for (std::int64_t r = 0; r < rows; ++r) {
      Lanes16 d = load16(dy + r * C);
      if (weighted) d.v0 *= w, d.v1 *= w, d.v2 *= w, d.v3 *= w;
      const Lanes16 v = load16(x + r * C);
      g.v0 += d.v0, g.v1 += d.v1, g.v2 += d.v2, g.v3 += d.v3;
      gx.v0 += d.v0 * ((v.v0 - hi.v0) - lo.v0), gx.v1 += d.v1 * ((v.v1 - hi.v1) - lo.v1);
      gx.v2 += d.v2 * ((v.v2 - hi.v2) - lo.v2), gx.v3 += d.v3 * ((v.v3 - hi.v3) - lo.v3);
    }
    float tg[kLanes], tgx[kLanes];
    store16(tg, g);
    store16(tgx, gx);
    for (int l = 0; l < kLanes; ++l) out[l] = {tg[l], tgx[l]};
  }
};

}  // namespace

void grad_sums(const GradSumsArgs& args) {
  blocked_reduce(args.plan, GradSumsOps{args}, args.out);
}

void grad_sums_each_slice(const GradSumsArgs& args,
                          const std::function<void(std::int64_t, const GradSums&)>& visit) {
  reduce_each_slice<GradSums>(args.plan, GradSumsOps{args}, visit);
}

}  // namespace normkit::kernels
