#include "row_apply.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "blocked_reduce.hpp"
#include "elementwise.hpp"
#include "parallel.hpp"
#include "lanes.hpp"
#include "moments.hpp"
#include "stream_store.hpp"

namespace normkit::kernels {
namespace {

// Rows per block of the column sums: part of the numerical contract.
constexpr std::int64_t kColumnBlockRows = 64;

// A row's statistics exactly as the engine computes them for the plan
// (rows, 1, 1, cols): chunks of kRunChunk merged in order.
Moments row_moments(const float* x, std::int64_t cols) {
  Moments acc{};
  for (std::int64_t d0 = 0; d0 < cols; d0 += kRunChunk)
    acc = Moments::merge(acc, run_moments(x + d0, std::min(kRunChunk, cols - d0)));
  return acc;
}

double row_mean_square(const float* x, std::int64_t cols) {
  double sum = 0;
  for (std::int64_t d0 = 0; d0 < cols; d0 += kRunChunk)
    sum += run_square_sum(x + d0, std::min(kRunChunk, cols - d0));
  return sum / static_cast<double>(cols);
}

}  // namespace

// The statistics of kInterleavedRows consecutive rows from r0, each as
// row_moments / row_mean_square gives it (the same chunks, merged in the
// same order), with the rows interleaved.
void group_moments(const float* x0, std::int64_t cols, Moments* out) {
  std::fill(out, out + kInterleavedRows, Moments{});
  for (std::int64_t d0 = 0; d0 < cols; d0 += kRunChunk) {
    Moments chunk[kInterleavedRows];
    rows4_moments(x0 + d0, cols, std::min(kRunChunk, cols - d0), chunk);
    for (int r = 0; r < kInterleavedRows; ++r) out[r] = Moments::merge(out[r], chunk[r]);
  }
}

void group_mean_squares(const float* x0, std::int64_t cols, double* out) {
  std::fill(out, out + kInterleavedRows, 0.0);
  for (std::int64_t d0 = 0; d0 < cols; d0 += kRunChunk) {
    double chunk[kInterleavedRows];
    rows4_square_sums(x0 + d0, cols, std::min(kRunChunk, cols - d0), chunk);
    for (int r = 0; r < kInterleavedRows; ++r) out[r] += chunk[r];
  }
  for (int r = 0; r < kInterleavedRows; ++r) out[r] /= static_cast<double>(cols);
}

void row_norm_forward(const RowForwardArgs& a) {
  const std::int64_t cols = a.cols;
  const bool stream = stream_output(a.rows * cols) && a.y != a.x;
  // Rows in groups of kInterleavedRows, whose statistics are reduced together
  // (the last group may be shorter: its rows one by one). Every row gets the
  // same bits either way.
  const std::int64_t groups = (a.rows + kInterleavedRows - 1) / kInterleavedRows;
  parallel_region(threads_for(a.rows * cols), [&] {
#pragma omp for schedule(static) nowait
  for (std::int64_t g = 0; g < groups; ++g) {
    const std::int64_t r0 = g * kInterleavedRows, count = std::min<std::int64_t>(kInterleavedRows, a.rows - r0);
    double mean[kInterleavedRows] = {}, var[kInterleavedRows];
    const bool together = count == kInterleavedRows && cols > 0;
    if (a.kind == RowNorm::layer) {
      Moments m[kInterleavedRows];
      if (together) group_moments(a.x + r0 * cols, cols, m);
      else
        for (std::int64_t r = 0; r < count; ++r) m[r] = row_moments(a.x + (r0 + r) * cols, cols);
      for (std::int64_t r = 0; r < count; ++r) {
        mean[r] = cols > 0 ? m[r].mean : std::numeric_limits<double>::quiet_NaN();
        var[r] = cols > 0 ? m[r].biased_var() : mean[r];
        a.mean[r0 + r] = mean[r];
      }
    } else if (together) {
      group_mean_squares(a.x + r0 * cols, cols, var);
    } else {
      for (std::int64_t r = 0; r < count; ++r)
        var[r] = cols > 0 ? row_mean_square(a.x + (r0 + r) * cols, cols) : std::numeric_limits<double>::quiet_NaN();
    }
    for (std::int64_t r = 0; r < count; ++r) {
      const double rstd = 1.0 / std::sqrt(var[r] + a.eps);
      a.rstd[r0 + r] = rstd;
      // Scalar math: y = ((x - hi) - lo) * rstd * gamma + beta (gamma 1, beta 0 when absent)
      const float hi = static_cast<float>(mean[r]), lo = static_cast<float>(mean[r] - hi);
      // Asks for the next group's row while this one is written: it is in
      // cache when that group's statistics pass starts.
      row_normalize_span({.x = a.x + (r0 + r) * cols,
                          .y = a.y + (r0 + r) * cols,
                          .n = cols,
                          .hi = hi,
                          .lo = lo,
                          .rstd = static_cast<float>(rstd),
                          .gamma = a.gamma,
                          .beta = a.beta},
                         stream, kInterleavedRows * cols);
    }
  }
  stream_fence(stream);
  });
}

void row_norm_backward(const RowBackwardArgs& a) {
  const std::int64_t cols = a.cols, rows = a.rows;
  const std::int64_t blocks = (rows + kColumnBlockRows - 1) / kColumnBlockRows;
  // Reused across calls. Used through a pointer: inside the parallel region
  // the name would denote each worker thread's own (empty) thread_local.
  thread_local std::vector<GradSums> per_block_storage;  // (blocks, cols)
  // Every block writes all its columns: sized, not cleared.
  if (a.columns != nullptr && blocks > 1) per_block_storage.resize(static_cast<std::size_t>(blocks * cols));
  GradSums* const per_block = per_block_storage.data();
  const double D = static_cast<double>(cols);
  const bool stream = a.dx != nullptr && stream_output(rows * cols);
  parallel_region(threads_for(rows * cols), [&] {
    // (cols): this block's column sums, in float; each thread's own, kept
    // across calls (cleared per block below), so that a small call allocates
    // nothing.
    thread_local std::vector<float> col_g, col_gx;
    if (a.columns != nullptr) {
      col_g.resize(static_cast<std::size_t>(cols));
      col_gx.resize(static_cast<std::size_t>(cols));
    }
#pragma omp for schedule(static) nowait
    for (std::int64_t b = 0; b < blocks; ++b) {
      if (a.columns != nullptr) {
        std::fill(col_g.begin(), col_g.end(), 0.0f);
        std::fill(col_gx.begin(), col_gx.end(), 0.0f);
      }
      for (std::int64_t r = b * kColumnBlockRows; r < std::min(rows, (b + 1) * kColumnBlockRows); ++r) {
        const float* dy = a.dy + r * cols;
        const float* x = a.x + r * cols;
        const double mean = a.kind == RowNorm::layer ? a.mean[r] : 0.0;
        const float hi = static_cast<float>(mean), lo = static_cast<float>(mean - hi);
        const double rstd = a.rstd[r];
        const float rs = static_cast<float>(rstd);
        if (a.dx != nullptr) {
          // Per row, with g = dy * gamma and xc = x - mean (x for RMSNorm):
          //   dx = rstd * g - xc * rstd^3 * sum(g * xc)/D - rstd * sum(g)/D (LayerNorm only)
          double sum_g = 0, sum_gx = 0;
          for (std::int64_t d0 = 0; d0 < cols; d0 += kRunChunk) {
            const GradSums s = run_grad_sums(dy + d0, x + d0, a.gamma ? a.gamma + d0 : nullptr, hi, lo,
                                             std::min(kRunChunk, cols - d0));
            sum_g += s.sum_dy;
            sum_gx += s.sum_dy_xc;
          }
          const float k_x = static_cast<float>(-rstd * rstd * rstd * sum_gx / D);
          const float k_0 = a.kind == RowNorm::layer ? static_cast<float>(-rstd * sum_g / D) : 0.0f;
          // dx, and the column sums in the same pass when they are wanted.
          row_backward_span({.dy = dy,
                             .x = x,
                             .dx = a.dx + r * cols,
                             .col_g = a.columns != nullptr ? col_g.data() : nullptr,
                             .col_gx = a.columns != nullptr ? col_gx.data() : nullptr,
                             .n = cols,
                             .gamma = a.gamma,
                             .hi = hi,
                             .lo = lo,
                             .rstd = rs,
                             .k_x = k_x,
                             .k_0 = k_0},
                            stream);
        } else if (a.columns != nullptr) {
          accumulate_column_sums({.dy = dy,
                                  .x = x,
                                  .col_g = col_g.data(),
                                  .col_gx = col_gx.data(),
                                  .n = cols,
                                  .hi = hi,
                                  .lo = lo,
                                  .rstd = rs});
        }
      }
      // A lone block is the whole tree: its sums are the result.
      GradSums* const to = blocks == 1 ? a.columns : per_block + b * cols;
      if (a.columns != nullptr)
        for (std::int64_t d = 0; d < cols; ++d) to[d] = {col_g[d], col_gx[d]};
    }
    stream_fence(stream);
  });
  if (a.columns != nullptr && blocks != 1) {
    if (blocks == 0) {
      std::fill(a.columns, a.columns + cols, GradSums{});
      return;
    }
    // The blocks are the leaves: the same fixed pairwise tree as every other
    // reduction.
    merge_leaves(SampleTree::one_leaf_per_sample(blocks), 1, blocks, cols, per_block, a.columns);
  }
}

}  // namespace normkit::kernels
