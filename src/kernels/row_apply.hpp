// LayerNorm and RMSNorm: statistics per row of a (rows, cols) matrix, affine
// per column.
//
//   forward:  y  = ((x - center_hi[r]) - center_lo[r]) * rstd[r] * gamma[d] + beta[d]
//   backward: dx = dy * gamma[d] * k_dy[r] + ((x - center_hi[r]) - center_lo[r]) * k_x[r] + k_0[r]
//
// A null centre means 0 (RMSNorm); a null gamma means 1 and a null beta 0.
#pragma once

#include <cstdint>

#include "grad_sums.hpp"

namespace normkit::kernels {

struct RowNormalizeArgs {
  const float* x = nullptr;  // (rows, cols)
  float* y = nullptr;        // (rows, cols)
  std::int64_t rows = 0, cols = 0;
  const float* center_hi = nullptr;  // (rows) or null
  const float* center_lo = nullptr;  // (rows) or null
  const float* rstd = nullptr;       // (rows)
  const float* gamma = nullptr;      // (cols) or null
  const float* beta = nullptr;       // (cols) or null
};
void row_normalize_apply(const RowNormalizeArgs& args);

struct RowInputGradArgs {
  const float* dy = nullptr;  // (rows, cols)
  const float* x = nullptr;   // (rows, cols)
  float* dx = nullptr;        // (rows, cols)
  std::int64_t rows = 0, cols = 0;
  const float* center_hi = nullptr;  // (rows) or null
  const float* center_lo = nullptr;  // (rows) or null
  const float* k_dy = nullptr;       // (rows), and each below
  const float* k_x = nullptr;
  const float* k_0 = nullptr;
  const float* gamma = nullptr;  // (cols) or null
};
void row_input_grad_apply(const RowInputGradArgs& args);

// The parameter gradients' reductions over rows, per column d:
//   sum_dy = sum_r dy[r, d],  sum_dy_xc = sum_r dy[r, d] * xhat[r, d]
// with xhat = ((x - center_hi[r]) - center_lo[r]) * rstd[r]. Rows are reduced
// in fixed blocks merged in a fixed tree: the same bits for any thread count.
struct ColumnGradSumsArgs {
  const float* dy = nullptr;  // (rows, cols)
  const float* x = nullptr;   // (rows, cols)
  std::int64_t rows = 0, cols = 0;
  const float* center_hi = nullptr;  // (rows) or null
  const float* center_lo = nullptr;  // (rows) or null
  const float* rstd = nullptr;       // (rows)
  GradSums* out = nullptr;           // (cols)
};
void column_grad_sums(const ColumnGradSumsArgs& args);

}  // namespace normkit::kernels
