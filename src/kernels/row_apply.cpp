#include "row_apply.hpp"

#include <vector>

#include "blocked_reduce.hpp"

namespace normkit::kernels {
namespace {

float center_of(const float* hi, std::int64_t r) { return hi != nullptr ? hi[r] : 0.0f; }

// Rows per block of the column reduction: part of the numerical contract.
constexpr std::int64_t kColumnSumRowBlock = 64;

struct ColumnGradSumsOps {
  const ColumnGradSumsArgs& args;

  // Scalar math: sum_dy[d] += dy;  sum_dy_xc[d] += dy * ((x - hi[r]) - lo[r]) * rstd[r]
  void rows(std::int64_t, std::int64_t offset, std::int64_t rows, GradSums* out) const {
    const std::int64_t cols = args.cols, r0 = offset / cols;
    thread_local std::vector<float> scratch;
    scratch.assign(static_cast<std::size_t>(2 * cols), 0.0f);
    float* g = scratch.data();  // (cols)
    float* gx = g + cols;       // (cols)
    for (std::int64_t r = 0; r < rows; ++r) {
      const float hi = center_of(args.center_hi, r0 + r), lo = center_of(args.center_lo, r0 + r);
      const float rstd = args.rstd[r0 + r];
      const float* dy = args.dy + (r0 + r) * cols;
      const float* x = args.x + (r0 + r) * cols;
      for (std::int64_t d = 0; d < cols; ++d) {
        g[d] += dy[d];
        gx[d] += dy[d] * (((x[d] - hi) - lo) * rstd);
      }
    }
    for (std::int64_t d = 0; d < cols; ++d) out[d] = {g[d], gx[d]};
  }
  // The plan has D == 1: the engine reads rows, never runs.
  GradSums run(std::int64_t, std::int64_t, std::int64_t, std::int64_t) const { return {}; }
};

}  // namespace

void row_normalize_apply(const RowNormalizeArgs& args) {
  const std::int64_t cols = args.cols;
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < args.rows; ++r) {
    const float hi = center_of(args.center_hi, r), lo = center_of(args.center_lo, r);
    const float rstd = args.rstd[r];
    const float* x = args.x + r * cols;
    float* y = args.y + r * cols;
    if (args.gamma != nullptr && args.beta != nullptr) {
      for (std::int64_t d = 0; d < cols; ++d) y[d] = ((x[d] - hi) - lo) * rstd * args.gamma[d] + args.beta[d];
    } else if (args.gamma != nullptr) {
      for (std::int64_t d = 0; d < cols; ++d) y[d] = ((x[d] - hi) - lo) * rstd * args.gamma[d];
    } else {
      const float* beta = args.beta;
      for (std::int64_t d = 0; d < cols; ++d)
        y[d] = ((x[d] - hi) - lo) * rstd + (beta != nullptr ? beta[d] : 0.0f);
    }
  }
}

void row_input_grad_apply(const RowInputGradArgs& args) {
  const std::int64_t cols = args.cols;
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < args.rows; ++r) {
    const float hi = center_of(args.center_hi, r), lo = center_of(args.center_lo, r);
    const float k_dy = args.k_dy[r], k_x = args.k_x[r], k_0 = args.k_0[r];
    const float* dy = args.dy + r * cols;
    const float* x = args.x + r * cols;
    float* dx = args.dx + r * cols;
    if (args.gamma != nullptr) {
      for (std::int64_t d = 0; d < cols; ++d)
        dx[d] = dy[d] * args.gamma[d] * k_dy + ((x[d] - hi) - lo) * k_x + k_0;
    } else {
      for (std::int64_t d = 0; d < cols; ++d) dx[d] = dy[d] * k_dy + ((x[d] - hi) - lo) * k_x + k_0;
    }
  }
}

void column_grad_sums(const ColumnGradSumsArgs& args) {
  const NormPlan plan{1, args.rows, args.cols, 1, kColumnSumRowBlock};
  blocked_reduce(plan, ColumnGradSumsOps{args}, args.out);
}

}  // namespace normkit::kernels
