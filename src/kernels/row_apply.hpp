// LayerNorm and RMSNorm kernels: statistics per row of a (rows, cols) matrix,
// affine per column, each pass fused so that a row is read from memory once:
//
//   forward:  per row, the statistics (the engine's block kernels, in the
//             engine's chunking), then y = ((x - mean) * rstd) * gamma + beta
//             while the row is in cache;
//   backward: per row, sum(g) and sum(g * xc) with g = dy * gamma, then
//             dx = g * rstd + xc * k_x + k_0, and the column sums of dy and
//             dy * xc * rstd for dgamma and dbeta, accumulated per fixed block
//             of 64 rows and merged over blocks in the engine's fixed tree.
//
// LayerNorm centres on the row mean (xc = x - mean, held as a float pair);
// RMSNorm has no centre (xc = x) and k_0 = 0.
#pragma once

#include <cstdint>

#include "normkit/tensor.hpp"
#include "row_storage.hpp"

namespace normkit::kernels {

enum class RowNorm { layer, rms };

// Each (rows, cols) matrix is where its RowStorage says, float32 contiguous
// unless told (row_storage.hpp).
struct RowForwardArgs {
  RowNorm kind = RowNorm::layer;
  const void* x = nullptr;  // (rows, cols)
  void* y = nullptr;        // (rows, cols)
  std::int64_t rows = 0, cols = 0;
  const float* gamma = nullptr;  // (cols) or null
  const float* beta = nullptr;   // (cols) or null
  double eps = 1e-5;
  float* mean = nullptr;  // (rows), LayerNorm only: the double statistics rounded to float
  float* rstd = nullptr;  // (rows)
  // With a residual: each row of x + residual is written to residual_out,
  // and that row is normalized, while it is in cache (add_norm.hpp).
  // A 16-bit residual_out holds the sums rounded, and y is the norm of
  // those stored values.
  const void* residual = nullptr;  // (rows, cols) or null
  void* residual_out = nullptr;    // (rows, cols) with residual
  // With q: y is not written; each row, normalized into a buffer of the
  // thread's, is quantized to int8: q = clamp(round_half_even(y / scale),
  // -128, 127), with quant_scale when it is positive, else per row with
  // max|y| / 127 (1 for a row of zeros), written to row_scales (norm_quant.hpp).
  std::int8_t* q = nullptr;       // (rows, cols) or null
  float quant_scale = 0;          // > 0: static; 0: per row
  float* row_scales = nullptr;    // (rows) when per row
  RowStorage x_at, y_at, residual_at, residual_out_at;

  bool plain() const { return x_at.plain() && y_at.plain() && residual_at.plain() && residual_out_at.plain(); }
};

// One row's int8 quantization (as above): the scale used.
float quantize_row(const float* y, std::int8_t* q, std::int64_t n, float scale);
void row_norm_forward(const RowForwardArgs& args);

struct RowBackwardArgs {
  RowNorm kind = RowNorm::layer;
  const void* dy = nullptr;  // (rows, cols)
  const void* x = nullptr;   // (rows, cols)
  std::int64_t rows = 0, cols = 0;
  const float* mean = nullptr;  // (rows), LayerNorm only
  const float* rstd = nullptr;  // (rows)
  const float* gamma = nullptr;  // (cols) or null
  void* dx = nullptr;            // (rows, cols) or null: not wanted
  // The column sums' gradients, each written when defined (cols elements,
  // any strides and floating dtype): dweight sum(dy * xhat), dbias sum(dy).
  TensorView dweight, dbias;
  const void* dx_addend = nullptr;  // (rows, cols) or null: added to dx (add_norm.hpp's dresidual_out)
  RowStorage dy_at, x_at, dx_at, dx_addend_at;

  // Every matrix float32, read and written in place at its rows' offsets
  // (all bfloat16 or all float16 are read in place too; the rest go through
  // the thread's buffers, a row at a time: row_apply.cpp).
  bool in_place() const {
    return dy_at.dtype == DType::float32 && x_at.dtype == DType::float32 && dx_at.dtype == DType::float32 &&
           dx_addend_at.dtype == DType::float32;
  }
};
void row_norm_backward(const RowBackwardArgs& args);

}  // namespace normkit::kernels
