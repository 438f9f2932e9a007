#include "grad_sums.hpp"

#include <vector>

#include "blocked_reduce.hpp"
#include "lanes.hpp"

namespace normkit::kernels {
namespace {

struct GradSumsOps {
  const GradSumsArgs& args;

  // Scalar math: g = dy * w[d];  sum_g += g;  sum_gx += g * ((x - hi) - lo)
  GradSums run(std::int64_t a, std::int64_t c, std::int64_t offset, std::int64_t n) const {
    const std::int64_t ac = a * args.plan.C + c;
    const float hi = args.center_hi[ac], lo = args.center_lo[ac];
    const float* dy = args.dy + offset;
    const float* x = args.x + offset;
    Lanes g, gx;
    if (args.d_weight != nullptr) {
      const float* w = args.d_weight + offset % args.plan.D;  // a run never crosses a d-row
      for_lanes(n, [&](std::int64_t i, int lane) {
        const float gi = dy[i] * w[i];
        g.v[lane] += gi;
        gx.v[lane] += gi * ((x[i] - hi) - lo);
      });
    } else {
      for_lanes(n, [&](std::int64_t i, int lane) {
        g.v[lane] += dy[i];
        gx.v[lane] += dy[i] * ((x[i] - hi) - lo);
      });
    }
    return {g.total(), gx.total()};
  }

  void rows(std::int64_t a, std::int64_t offset, std::int64_t rows, GradSums* out) const {
    const std::int64_t C = args.plan.C;
    thread_local std::vector<float> scratch;
    scratch.assign(static_cast<std::size_t>(2 * C), 0.0f);
    float* g = scratch.data();  // (C)
    float* gx = g + C;          // (C)
    const float* hi = args.center_hi + a * C;
    const float* lo = args.center_lo + a * C;
    const float* dy = args.dy + offset;  // (rows, C)
    const float* x = args.x + offset;    // (rows, C)
    const float w = args.d_weight != nullptr ? args.d_weight[0] : 1.0f;  // D == 1 here
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < C; ++c) {
        const float d = args.d_weight != nullptr ? dy[r * C + c] * w : dy[r * C + c];
        g[c] += d;
        gx[c] += d * ((x[r * C + c] - hi[c]) - lo[c]);
      }
    for (std::int64_t c = 0; c < C; ++c) out[c] = {g[c], gx[c]};
  }
};

}  // namespace

void grad_sums(const GradSumsArgs& args) {
  blocked_reduce(args.plan, GradSumsOps{args}, args.out);
}

}  // namespace normkit::kernels
