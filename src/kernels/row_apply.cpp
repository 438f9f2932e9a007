#include "row_apply.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "blocked_reduce.hpp"
#include "channel_apply.hpp"
#include "channel_coefficients.hpp"
#include "elementwise.hpp"
#include "grad_sums.hpp"
#include "parallel.hpp"
#include "planned_view.hpp"
#include "lanes.hpp"
#include "moments.hpp"
#include "slice_reduce.hpp"
#include "stream_store.hpp"

namespace normkit::kernels {
namespace {

// Rows per block of the column sums: part of the numerical contract.
constexpr std::int64_t kColumnBlockRows = 64;

// Asks for every 64-byte line of [p, p + bytes) (no fault, no effect on
// any result).
void prefetch_lines(const void* p, std::int64_t bytes) {
  const auto* first = static_cast<const char*>(p);
  for (std::int64_t b = 0; b < bytes; b += 64) __builtin_prefetch(first + b);
}

// A row's mean square (RMSNorm's statistic) over its chunks of kRunChunk in
// order, a long chunk in two lane sets (LaneRule::long_rows, lanes.hpp);
// its moments (LayerNorm's) are chunked_moments' under the same rule.
constexpr LaneRule kRowLanes = LaneRule::long_rows;
template <typename T>
double row_mean_square(const T* x, std::int64_t cols) {
  double sum = 0;
  for (std::int64_t d0 = 0; d0 < cols; d0 += kRunChunk) {
    const std::int64_t len = std::min(kRunChunk, cols - d0);
    sum += run_square_sum(x + d0, len, lane_sets(kRowLanes, len));
  }
  return sum / static_cast<double>(cols);
}

// The mean squares of kInterleavedRows consecutive rows, each as
// row_mean_square gives it (the same chunks, in the same order), with the
// rows interleaved (their moments: chunked_moments4); asking, as they read,
// for the element `prefetch` after each (0: none).
template <typename T>
void group_mean_squares(const T* x0, std::int64_t cols, std::int64_t prefetch, double* out) {
  std::fill(out, out + kInterleavedRows, 0.0);
  for (std::int64_t d0 = 0; d0 < cols; d0 += kRunChunk) {
    double chunk[kInterleavedRows];
    const std::int64_t len = std::min(kRunChunk, cols - d0);
    rows4_square_sums(x0 + d0, cols, len, prefetch, chunk, lane_sets(kRowLanes, len));
    for (int r = 0; r < kInterleavedRows; ++r) out[r] += chunk[r];
  }
  for (int r = 0; r < kInterleavedRows; ++r) out[r] /= static_cast<double>(cols);
}

// Where the kernels read and write the rows: in place, float32, bfloat16 or
// float16 (every matrix of the call in that dtype, at consecutive rows), or
// through the thread's float32 buffers (row_storage.hpp: mixed dtypes, rows
// at offsets of their own, an int8 output of 16-bit rows).
enum class RowsIn { float32, bfloat16, float16, staged };

// A 16-bit dtype's RowsIn.
RowsIn rows_in_place(DType dtype) { return dtype == DType::bfloat16 ? RowsIn::bfloat16 : RowsIn::float16; }

RowsIn rows_in(const RowForwardArgs& a) {
  if (a.plain()) return RowsIn::float32;
  const DType dtype = a.x_at.dtype;
  const auto same = [&](const RowStorage& at) { return at.dtype == dtype && at.row_offsets == nullptr; };
  const bool all_same = dtype != DType::float32 && same(a.x_at) && same(a.y_at) &&
                        (a.residual == nullptr || (same(a.residual_at) && same(a.residual_out_at)));
  return all_same && a.q == nullptr ? rows_in_place(dtype) : RowsIn::staged;
}

// The statistics and the normalize pass of `count` rows from r0: their
// values at gx, their outputs to gy (row stride cols; null when quantized),
// streamed when `stream`. `together`: the rows' statistics reduced at once,
// asking for the element `prefetch` after each (0: none).
template <typename T>
void forward_group(const RowForwardArgs& a, std::int64_t r0, std::int64_t count, const T* gx, T* gy, bool together,
                   std::int64_t prefetch, bool stream) {
  const std::int64_t cols = a.cols;
  double mean[kInterleavedRows] = {}, var[kInterleavedRows];
  if (a.kind == RowNorm::layer) {
    Moments m[kInterleavedRows];
    if (together) chunked_moments4(gx, cols, prefetch, m, kRowLanes);
    else
      for (std::int64_t r = 0; r < count; ++r) m[r] = chunked_moments(gx + r * cols, cols, kRowLanes);
    for (std::int64_t r = 0; r < count; ++r) {
      mean[r] = cols > 0 ? m[r].mean : std::numeric_limits<double>::quiet_NaN();
      var[r] = cols > 0 ? m[r].biased_var() : mean[r];
      a.mean[r0 + r] = static_cast<float>(mean[r]);
    }
  } else if (together) {
    group_mean_squares(gx, cols, prefetch, var);
  } else {
    for (std::int64_t r = 0; r < count; ++r)
      var[r] = cols > 0 ? row_mean_square(gx + r * cols, cols) : std::numeric_limits<double>::quiet_NaN();
  }
  // Every row's rstd before the first normalize pass: the square roots and
  // divisions overlap, where one per row waited behind the previous row's
  // pass (a tenth of LayerNorm forward 256x768 bfloat16 on Zen 5).
  float rstd[kInterleavedRows];
  for (std::int64_t r = 0; r < count; ++r) {
    rstd[r] = static_cast<float>(inverse_std_of(var[r], a.eps));
    a.rstd[r0 + r] = rstd[r];
  }
  for (std::int64_t r = 0; r < count; ++r) {
    // Scalar math: y = ((x - hi) - lo) * rstd * gamma + beta (gamma 1, beta 0 when absent)
    const CenterPair center = center_pair(mean[r]);
    RowNormalizeSpanOf<T> span{
        .x = gx + r * cols, .n = cols, .hi = center.hi, .lo = center.lo, .rstd = rstd[r], .gamma = a.gamma, .beta = a.beta};
    if constexpr (std::is_same_v<T, float>) {
      if (a.q != nullptr) {
        // A quantized row is normalized into the thread's buffer, in cache.
        thread_local std::vector<float> row;
        row.resize(static_cast<std::size_t>(cols));
        span.y = row.data();
        row_normalize_span(span, false);
        const float used = quantize_row(row.data(), a.q + (r0 + r) * cols, cols, a.quant_scale);
        if (a.row_scales != nullptr) a.row_scales[r0 + r] = used;
        continue;
      }
    }
    span.y = gy + r * cols;
    row_normalize_span(span, stream);
  }
}

// The group's rows read in place in 16 bits (T: Bf16 or F16), as the
// float32 rows are; a residual's sums are rounded as they are stored, and
// normalized as stored.
template <typename T>
void forward_group_in_place(const RowForwardArgs& a, std::int64_t r0, std::int64_t count, bool together,
                            std::int64_t prefetch, bool stream) {
  const std::int64_t cols = a.cols;
  const T* gx = static_cast<const T*>(a.x) + r0 * cols;
  if (a.residual != nullptr) {
    T* const residual_out = static_cast<T*>(a.residual_out) + r0 * cols;
    thread_local std::vector<T> streamed_sums;
    T* sums = residual_out;
    if (stream) {
      streamed_sums.resize(static_cast<std::size_t>(count * cols));
      sums = streamed_sums.data();
    }
    add_span(gx, static_cast<const T*>(a.residual) + r0 * cols, sums, count * cols);
    if (stream) copy_span(sums, residual_out, count * cols, true);
    gx = sums;
  }
  forward_group(a, r0, count, gx, static_cast<T*>(a.y) + r0 * cols, together, prefetch, stream);
}

}  // namespace

float quantize_row(const float* y, std::int8_t* q, std::int64_t n, float scale) {
  if (scale <= 0) {  // per row: the largest magnitude maps to 127
    float largest = 0;
    for (std::int64_t i = 0; i < n; ++i) largest = std::max(largest, std::fabs(y[i]));
    scale = largest > 0 ? largest / 127.0f : 1.0f;
  }
  for (std::int64_t i = 0; i < n; ++i) {
    // nearbyint rounds half to even in the default rounding mode; NaN stays
    // NaN through the clamp's comparisons, so it is sent to 0 by hand.
    const float v = std::nearbyint(y[i] / scale);
    q[i] = std::isnan(v) ? 0 : static_cast<std::int8_t>(std::clamp(v, -128.0f, 127.0f));
  }
  return scale;
}

void row_norm_forward(const RowForwardArgs& a) {
  const std::int64_t cols = a.cols;
  const RowsIn in = rows_in(a);
  const bool staged = in == RowsIn::staged;
  // x is read once from memory (a row's later passes find it in L1 or L2),
  // y written once: a single pass (stream_store.hpp), with the residual's
  // two matrices beside them.
  const std::int64_t elements = a.rows * cols;
  const auto bytes_of = [&](const RowStorage& at) { return elements * static_cast<std::int64_t>(dtype_size(at.dtype)); };
  const std::int64_t y_bytes = bytes_of(a.y_at);
  const std::int64_t working_set =
      bytes_of(a.x_at) + y_bytes + (a.residual != nullptr ? bytes_of(a.residual_at) + bytes_of(a.residual_out_at) : 0);
  const bool stream =
      a.q == nullptr && stream_single_pass_bytes(y_bytes, working_set, threads_for(elements)) && a.y != a.x;
  // Rows in groups of kInterleavedRows, whose statistics are reduced together
  // (the last group may be shorter: its rows one by one), as four
  // independent dependency chains keep the adders busy. A streamed float32
  // input (a DRAM-sized one) reads its rows one by one instead: four rows
  // read at once were 10-35% slower there (LayerNorm and RMSNorm, 2048x4096
  // to 8192x768, one thread, Zen 4). Its groups, the rows whose statistics
  // come before their normalize passes, are single rows where rows are at
  // most 4 KiB, and four rows otherwise: measured, not derived (1 thread,
  // Zen 4, LayerNorm; a single row against four): 8192x768 1.13x (RMSNorm
  // 1.27x), 16384x1024 1.26x, but 8192x2048 0.70x and 2048x4096 0.94x
  // (RMSNorm 0.90x). 16-bit rows are reduced four at a time streamed too,
  // asking for the next group as below: LayerNorm 8192x768 bfloat16, 1
  // thread, Zen 5, 1.39 against 2.00 ms (after a 96 MiB read: 1.40 against
  // 1.94), 2048x4096 1.27 against 1.76; RMSNorm 0.67 against 0.85 and 0.85
  // against 0.94. A staged group is in the thread's buffer, in cache. Every
  // row gets the same bits either way.
  constexpr std::int64_t kShortRowBytes = 4096;
  const std::int64_t row_bytes = cols * static_cast<std::int64_t>(dtype_size(a.x_at.dtype));
  const bool single_rows = stream && in == RowsIn::float32;
  const std::int64_t group_rows = single_rows && row_bytes <= kShortRowBytes ? 1 : kInterleavedRows;
  const std::int64_t groups = (a.rows + group_rows - 1) / group_rows;
  // A group reduced together asks for the next group's rows as it reads its
  // own for the statistics (LayerNorm: in its second pass, which reads L1),
  // where the rows are x's, in place: four rows read side by side are four
  // short streams, which the hardware prefetcher picks up late. 2 threads,
  // Zen 5, LayerNorm, against none: bfloat16 8192x768 (in L3) 1.16-1.27x,
  // 1.40x after a 96 MiB read between calls; float32 3072x768 1.12x,
  // 2048x256 after that read 1.17-1.26x; level in L2. Not float32 RMSNorm,
  // whose one pass reads the group while it asks: 2048x1024 0.94-0.97x.
  const bool prefetch_next_group =
      in != RowsIn::staged && a.residual == nullptr && (a.kind == RowNorm::layer || in != RowsIn::float32);
  // Such a row is read from memory in its first pass, then passed over in
  // L1 (LayerNorm twice, RMSNorm once), while nothing is read ahead; it asks
  // for the next row first. 1 thread, Zen 5, after a 96 MiB read between
  // calls: LayerNorm 8192x768 2.85 to 1.72 ms, 16384x1024 7.2 to 4.8 ms (2
  // threads: level to 1.3x, within the noise); RMSNorm 8192x768 1.14-1.25
  // to 1.07-1.17 ms (2 threads 0.63 to 0.58, 16384x1024 1.74 to 1.69; a
  // first measurement, alternating builds, read level: 1.27 and 1.27). Not
  // four-row groups (LayerNorm 2048x4096: 2.34 against 2.74 ms). On Zen 4
  // the same prefetch was 0.94-0.96x at 8192x768 (docs/benchmarks.md).
  const bool prefetch_next_row = group_rows == 1 && in == RowsIn::float32 && a.residual == nullptr;
  parallel_region(threads_for(elements), [&] {
#pragma omp for schedule(static) nowait
    for (std::int64_t g = 0; g < groups; ++g) {
      const std::int64_t r0 = g * group_rows, count = std::min<std::int64_t>(group_rows, a.rows - r0);
      const bool together = count == kInterleavedRows && cols > 0 && !single_rows;
      // (Only a group that exists: a prefetch of an unmapped address costs a page walk.)
      const std::int64_t prefetch =
          together && prefetch_next_group && r0 + 2 * kInterleavedRows <= a.rows ? kInterleavedRows * cols : 0;
      if (prefetch_next_row && r0 + 1 < a.rows)
        prefetch_lines(static_cast<const char*>(a.x) + (r0 + 1) * row_bytes, row_bytes);
      if (in == RowsIn::bfloat16 || in == RowsIn::float16) {
        if (in == RowsIn::bfloat16) forward_group_in_place<Bf16>(a, r0, count, together, prefetch, stream);
        else forward_group_in_place<F16>(a, r0, count, together, prefetch, stream);
        continue;
      }
      // The group's rows, gx: x's, or with a residual their sums; and where
      // their y goes, gy (row stride cols; null when quantized).
      const float* gx = nullptr;
      float* gy = nullptr;
      thread_local std::vector<float> staged_x, staged_y, staged_residual;
      if (staged) {
        // Read into the buffer; the sums made there and stored (rounded,
        // and the buffer with them, when residual_out is 16-bit).
        staged_x.resize(static_cast<std::size_t>(count * cols));
        read_rows(a.x, a.x_at, cols, r0, count, 0, cols, staged_x.data());
        if (a.residual != nullptr) {
          staged_residual.resize(static_cast<std::size_t>(count * cols));
          read_rows(a.residual, a.residual_at, cols, r0, count, 0, cols, staged_residual.data());
          add_span(staged_x.data(), staged_residual.data(), staged_x.data(), count * cols);
          write_rows(staged_x.data(), a.residual_out, a.residual_out_at, cols, r0, count, 0, cols, stream, true);
        }
        gx = staged_x.data();
        if (a.q == nullptr) {
          staged_y.resize(static_cast<std::size_t>(count * cols));
          gy = staged_y.data();
        }
      } else {
        // Plain: x's rows in place. With a residual, the sums are written
        // into residual_out and read back from there while in cache; a
        // streamed output's sums are made in a buffer of the thread's
        // instead and copied to residual_out with streaming stores (an
        // ordinary store would first read the line from memory).
        gx = static_cast<const float*>(a.x) + r0 * cols;
        if (a.residual != nullptr) {
          const float* const residual = static_cast<const float*>(a.residual) + r0 * cols;
          float* const residual_out = static_cast<float*>(a.residual_out) + r0 * cols;
          float* sums = residual_out;
          if (stream) {
            staged_residual.resize(static_cast<std::size_t>(count * cols));
            sums = staged_residual.data();
          }
          add_span(gx, residual, sums, count * cols);
          if (stream) copy_span(sums, residual_out, count * cols, true);
          gx = sums;
        }
        if (a.q == nullptr) gy = static_cast<float*>(a.y) + r0 * cols;
      }
      forward_group(a, r0, count, gx, gy, together, prefetch, stream && !staged);
      if (staged && gy != nullptr) write_rows(gy, a.y, a.y_at, cols, r0, count, 0, cols, stream);
    }
    stream_fence(stream);
  });
}

namespace {

// A row's backward coefficients. Per row, with g = dy * gamma and xc = x -
// mean (x for RMSNorm):
//   dx = rstd * g - xc * rstd^3 * sum(g * xc)/D - rstd * sum(g)/D (LayerNorm only)
//      = g * rs + xc * k_x + k_0
struct RowCoefficients {
  float hi = 0, lo = 0, rs = 0, k_x = 0, k_0 = 0;
};

// T: the rows' element type, float, Bf16 or F16, read in place.
template <typename T>
RowCoefficients row_coefficients(const RowBackwardArgs& a, std::int64_t r) {
  const std::int64_t cols = a.cols;
  const double mean = a.kind == RowNorm::layer ? a.mean[r] : 0.0;
  const double rstd = a.rstd[r];
  const CenterPair center = center_pair(mean);
  RowCoefficients k{.hi = center.hi, .lo = center.lo, .rs = static_cast<float>(rstd)};
  if (a.dx == nullptr) return k;
  double sum_g = 0, sum_gx = 0;
  const T* const dy = static_cast<const T*>(a.dy) + a.dy_at.offset(r, cols);
  const T* const x = static_cast<const T*>(a.x) + a.x_at.offset(r, cols);
  for (std::int64_t d0 = 0; d0 < cols; d0 += kRunChunk) {
    const GradSums s = run_grad_sums(dy + d0, x + d0, a.gamma ? a.gamma + d0 : nullptr,
                                     k.hi, k.lo, std::min(kRunChunk, cols - d0));
    sum_g += s.sum_dy;
    sum_gx += s.sum_dy_xc;
  }
  const double D = static_cast<double>(cols);
  k.k_x = static_cast<float>(-rstd * rstd * rstd * sum_gx / D);
  k.k_0 = a.kind == RowNorm::layer ? static_cast<float>(-rstd * sum_g / D) : 0.0f;
  return k;
}

// Columns [c0, c1) of row r (elements of type T) asked for.
template <typename T>
void prefetch_row(const void* data, const RowStorage& at, std::int64_t r, std::int64_t cols, std::int64_t c0,
                  std::int64_t c1) {
  constexpr std::int64_t kBytes = sizeof(T);
  prefetch_lines(static_cast<const T*>(data) + at.offset(r, cols) + c0, (c1 - c0) * kBytes);
}

// Rows [r0, r1) over the columns [c0, c1): dx, and the column sums into
// col_g, col_gx (indexed from c0; null: not wanted), each row's values from
// its coefficients k(r). Every element's arithmetic is the same whatever
// the column range. (The rows in place, at their offsets, of element type T.)
template <typename T, typename Coefficients>
void apply_rows(const RowBackwardArgs& a, std::int64_t r0, std::int64_t r1, std::int64_t c0, std::int64_t c1,
                const Coefficients& k, float* col_g, float* col_gx, bool stream) {
  const std::int64_t cols = a.cols;
  const auto* const dy = static_cast<const T*>(a.dy);
  const auto* const x = static_cast<const T*>(a.x);
  auto* const dx = static_cast<T*>(a.dx);
  const auto* const addend = static_cast<const T*>(a.dx_addend);
  // Rows at offsets of their own (a permuted view's) each start a new
  // stream, which the hardware prefetcher only finds after its first
  // misses: the rows two ahead are asked for by hand, and then the other
  // operand's too, though its rows are consecutive. A permuted dy beside a
  // contiguous x read from memory (a training step's saved input), (16,
  // 128, 256), Zen 5: with x's rows asked for too, 1 thread 268-288
  // against 287-316 us, 2 threads 189-190 against 197-202, in the encoder's
  // training step 188-189 against 204-206 (torch 1.13, 2 threads); warm,
  // 1 thread, 171 against 161. Where every row is consecutive nothing is
  // asked for: the hardware prefetcher follows, and asking too was as often
  // slower as faster.
  const bool ask_ahead = a.dy_at.row_offsets != nullptr || a.x_at.row_offsets != nullptr;
  for (std::int64_t r = r0; r < r1; ++r) {
    if (ask_ahead && r + 2 < a.rows) {
      prefetch_row<T>(a.dy, a.dy_at, r + 2, cols, c0, c1);
      prefetch_row<T>(a.x, a.x_at, r + 2, cols, c0, c1);
    }
    const RowCoefficients c = k(r);
    const std::int64_t dy_at = a.dy_at.offset(r, cols) + c0, x_at = a.x_at.offset(r, cols) + c0;
    if (a.dx != nullptr) {
      // dx, and the column sums in the same pass when they are wanted.
      row_backward_span(RowBackwardSpanOf<T>{.dy = dy + dy_at,
                         .x = x + x_at,
                         .dx = dx + a.dx_at.offset(r, cols) + c0,
                         .col_g = col_g,
                         .col_gx = col_gx,
                         .n = c1 - c0,
                         .gamma = a.gamma ? a.gamma + c0 : nullptr,
                         .hi = c.hi,
                         .lo = c.lo,
                         .rstd = c.rs,
                         .k_x = c.k_x,
                         .k_0 = c.k_0,
                         .addend = addend != nullptr ? addend + a.dx_addend_at.offset(r, cols) + c0 : nullptr},
                        stream);
    } else if (col_g != nullptr) {
      accumulate_column_sums(ColumnSumsSpanOf<T>{.dy = dy + dy_at,
                              .x = x + x_at,
                              .col_g = col_g,
                              .col_gx = col_gx,
                              .n = c1 - c0,
                              .hi = c.hi,
                              .lo = c.lo,
                              .rstd = c.rs});
    }
  }
}

// Columns [c0, c0 + n) of row r of 16-bit storage, read into the
// thread's buffers: the arguments of that piece as a plain one-row problem
// (valid until the thread's next call). Its dx, written into the buffer, is
// stored by store_staged_dx.
RowBackwardArgs stage_row(const RowBackwardArgs& a, std::int64_t r, std::int64_t c0, std::int64_t n) {
  thread_local std::vector<float> dy, x, dx, addend;
  RowBackwardArgs row = a;
  row.rows = 1;
  row.cols = n;
  row.mean = a.mean != nullptr ? a.mean + r : nullptr;
  row.rstd = a.rstd + r;
  row.gamma = a.gamma != nullptr ? a.gamma + c0 : nullptr;
  row.dy_at = row.x_at = row.dx_at = row.dx_addend_at = RowStorage{};
  const auto stage = [&](const void* data, const RowStorage& at, std::vector<float>& buffer) {
    buffer.resize(static_cast<std::size_t>(n));
    if (data != nullptr) read_rows(data, at, a.cols, r, 1, c0, n, buffer.data());
    return buffer.data();
  };
  row.dy = stage(a.dy, a.dy_at, dy);
  row.x = stage(a.x, a.x_at, x);
  row.dx = a.dx != nullptr ? stage(nullptr, a.dx_at, dx) : nullptr;
  row.dx_addend = a.dx_addend != nullptr ? stage(a.dx_addend, a.dx_addend_at, addend) : nullptr;
  return row;
}

void store_staged_dx(const RowBackwardArgs& a, const RowBackwardArgs& row, std::int64_t r, std::int64_t c0,
                     bool stream) {
  if (a.dx != nullptr) write_rows(static_cast<float*>(row.dx), a.dx, a.dx_at, a.cols, r, 1, c0, row.cols, stream);
}

// Rows [r0, r1), each staged whole: its coefficients and its apply_rows on
// the buffers (the plain arithmetic, so the plain bits).
void apply_staged_rows(const RowBackwardArgs& a, std::int64_t r0, std::int64_t r1, float* col_g, float* col_gx,
                       bool stream) {
  for (std::int64_t r = r0; r < r1; ++r) {
    const RowBackwardArgs row = stage_row(a, r, 0, a.cols);
    const RowCoefficients k = row_coefficients<float>(row, 0);
    apply_rows<float>(row, 0, 1, 0, a.cols, [&](std::int64_t) { return k; }, col_g, col_gx, false);
    store_staged_dx(a, row, r, 0, stream);
  }
}

// Where the backward reads and writes the rows: in place (float32, bfloat16
// or float16 at their offsets: every matrix of the call in that dtype), or
// a row at a time through the thread's float32 buffers (stage_row).
RowsIn rows_in(const RowBackwardArgs& a) {
  if (a.in_place()) return RowsIn::float32;
  const DType dtype = a.x_at.dtype;
  const auto same = [&](const RowStorage& at) { return at.dtype == dtype; };
  const bool all_same = dtype != DType::float32 && same(a.dy_at) && (a.dx == nullptr || same(a.dx_at)) &&
                        (a.dx_addend == nullptr || same(a.dx_addend_at));
  return all_same ? rows_in_place(dtype) : RowsIn::staged;
}

// Row r's coefficients, in place or through the buffers.
RowCoefficients coefficients_of(const RowBackwardArgs& a, RowsIn in, std::int64_t r) {
  switch (in) {
    case RowsIn::float32: return row_coefficients<float>(a, r);
    case RowsIn::bfloat16: return row_coefficients<Bf16>(a, r);
    case RowsIn::float16: return row_coefficients<F16>(a, r);
    case RowsIn::staged: break;
  }
  return row_coefficients<float>(stage_row(a, r, 0, a.cols), 0);
}

// apply_rows on rows read in place (in: not staged).
template <typename Coefficients>
void apply_rows_in_place(const RowBackwardArgs& a, RowsIn in, std::int64_t r0, std::int64_t r1, std::int64_t c0,
                         std::int64_t c1, const Coefficients& k, float* col_g, float* col_gx, bool stream) {
  if (in == RowsIn::bfloat16) apply_rows<Bf16>(a, r0, r1, c0, c1, k, col_g, col_gx, stream);
  else if (in == RowsIn::float16) apply_rows<F16>(a, r0, r1, c0, c1, k, col_g, col_gx, stream);
  else apply_rows<float>(a, r0, r1, c0, c1, k, col_g, col_gx, stream);
}

// Rows [r0, r1) read in place, columns [c0, c1): their dx passes with the
// column sums (col_g and col_gx at c0), kChunkColumns at a time. A long
// row's pass needs six arrays of its length at once (dy, x, dx, gamma and
// the two column sums); past kChunkColumns they leave L1, and the pass ran
// on L2's bandwidth. A chunk at a time, the chunk's column sums and gamma
// stay in L1 across the rows. Each column still sums its rows in order, and
// each dx element is the same expression: the same bits.
constexpr std::int64_t kChunkColumns = 1024;
template <typename Coefficients>
void apply_column_chunks(const RowBackwardArgs& a, RowsIn in, std::int64_t r0, std::int64_t r1, std::int64_t c0,
                         std::int64_t c1, const Coefficients& k, float* col_g, float* col_gx, bool stream) {
  for (std::int64_t d0 = c0; d0 < c1; d0 += kChunkColumns)
    apply_rows_in_place(a, in, r0, r1, d0, std::min(c1, d0 + kChunkColumns), k,
                        col_g != nullptr ? col_g + (d0 - c0) : nullptr,
                        col_gx != nullptr ? col_gx + (d0 - c0) : nullptr, stream);
}

// A block of rows [r0, r1) read in place, all its columns, with each row's
// coefficients (its sums pass) from k. Rows of up to two chunks go one by
// one: each row's coefficients, then its dx pass while the row is in L1
// (chunked, (64, 2048) was 0.86-0.93x). Longer rows go kRowGroup at a time:
// their coefficients, then their dx passes chunk by chunk
// (apply_column_chunks), the group's rows in L2. LayerNorm backward, Zen 5,
// 1 thread, the two forms alternating in one process: (32, 4096)
// 1.03-1.10x, (64, 4096) 1.06-1.09x, (64, 3072) 1.01-1.06x, (256, 4096)
// 1.03-1.13x, (16, 16384) level.
template <typename Coefficients>
void apply_block_in_place(const RowBackwardArgs& a, RowsIn in, std::int64_t r0, std::int64_t r1,
                          const Coefficients& k, float* col_g, float* col_gx, bool stream) {
  constexpr std::int64_t kRowGroup = 8;
  const std::int64_t cols = a.cols;
  if (cols <= 2 * kChunkColumns) {
    apply_rows_in_place(a, in, r0, r1, 0, cols, k, col_g, col_gx, stream);
    return;
  }
  RowCoefficients group[kRowGroup];
  for (std::int64_t g0 = r0; g0 < r1; g0 += kRowGroup) {
    const std::int64_t g1 = std::min(r1, g0 + kRowGroup);
    for (std::int64_t r = g0; r < g1; ++r) group[r - g0] = k(r);
    apply_column_chunks(a, in, g0, g1, 0, cols, [&](std::int64_t r) { return group[r - g0]; }, col_g, col_gx,
                        stream);
  }
}

// Whether a gradient view is written in place as floats (a defined,
// contiguous float32 view); any other goes through a float32 buffer.
bool float32_in_place(const TensorView& t) {
  return t.defined() && t.is_contiguous() && t.dtype() == DType::float32;
}

// The gradients of a lone block's float column sums, columns [c0, c1): the
// values the engine's double partials would give them (float to double and
// back is exact), without the round trip, which for one row of 4096 took
// half of LayerNorm's backward (widening 0.6 us, narrowing 1.1 us; Zen 5).
void write_block_grads(const RowBackwardArgs& a, const float* col_g, const float* col_gx, std::int64_t c0,
                       std::int64_t c1) {
  if (a.dweight.defined()) std::copy(col_gx, col_gx + (c1 - c0), a.dweight.data<float>() + c0);
  if (a.dbias.defined()) std::copy(col_g, col_g + (c1 - c0), a.dbias.data<float>() + c0);
}

// The weight and bias gradients from the merged column sums (cols of them),
// each written when defined: a contiguous float32 view in place, any other
// through a float32 buffer.
void write_column_grads(const GradSums* columns, std::int64_t cols, const TensorView& dweight,
                        const TensorView& dbias) {
  narrow_column_sums(columns, cols, float32_in_place(dweight) ? dweight.data<float>() : nullptr,
                     float32_in_place(dbias) ? dbias.data<float>() : nullptr);
  if (dweight.defined() && !float32_in_place(dweight))
    write_each(dweight, [&](std::int64_t d) { return columns[d].sum_dy_xc; });
  if (dbias.defined() && !float32_in_place(dbias)) write_each(dbias, [&](std::int64_t d) { return columns[d].sum_dy; });
}

// At most kColumnBlockRows rows (one block) on several threads: each row's
// coefficients in parallel over the rows, then dx and the column sums in
// parallel over ranges of columns (each column still summed over the rows
// in order: the bits of one thread). Without this a small batch (decode,
// (32, 4096)) ran its backward on one thread.
// The column sums go to a.dweight and a.dbias as floats (write_block_grads)
// when `as_floats`, else widened into `columns` (null: not wanted).
void one_block_on_threads(const RowBackwardArgs& a, int threads, bool stream, GradSums* columns, bool as_floats) {
  const std::int64_t cols = a.cols, rows = a.rows;
  thread_local std::vector<RowCoefficients> k_storage;
  thread_local std::vector<float> sums_storage;  // col_g then col_gx
  k_storage.resize(static_cast<std::size_t>(rows));
  if (columns != nullptr) sums_storage.assign(static_cast<std::size_t>(2 * cols), 0.0f);
  RowCoefficients* const k = k_storage.data();
  float* const sums = columns != nullptr ? sums_storage.data() : nullptr;
  const RowsIn in = rows_in(a);
  parallel_region(threads, [&] {
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < rows; ++r) k[r] = coefficients_of(a, in, r);
    // Column ranges of whole cache lines (16 floats), one per thread.
    const std::int64_t t = omp_get_thread_num(), n = omp_get_num_threads();
    const std::int64_t lines = (cols + 15) / 16;
    const std::int64_t c0 = std::min(cols, lines * t / n * 16), c1 = std::min(cols, lines * (t + 1) / n * 16);
    if (c0 < c1) {
      float* const col_g = sums != nullptr ? sums + c0 : nullptr;
      float* const col_gx = sums != nullptr ? sums + cols + c0 : nullptr;
      if (in != RowsIn::staged) {
        // (2 threads, (32, 4096): 1.03-1.10x against the thread's columns whole.)
        apply_column_chunks(a, in, 0, rows, c0, c1, [&](std::int64_t r) { return k[r]; }, col_g, col_gx, stream);
      } else {
        for (std::int64_t r = 0; r < rows; ++r) {
          const RowBackwardArgs row = stage_row(a, r, c0, c1 - c0);
          apply_rows<float>(row, 0, 1, 0, c1 - c0, [&](std::int64_t) { return k[r]; }, col_g, col_gx, false);
          store_staged_dx(a, row, r, c0, stream);
        }
      }
      if (columns != nullptr && as_floats)
        write_block_grads(a, sums + c0, sums + cols + c0, c0, c1);
      else if (columns != nullptr)
        widen_column_sums(sums + c0, sums + cols + c0, c1 - c0, columns + c0);
    }
    stream_fence(stream);
  });
}

}  // namespace

void row_norm_backward(const RowBackwardArgs& a) {
  const std::int64_t cols = a.cols, rows = a.rows;
  const std::int64_t blocks = (rows + kColumnBlockRows - 1) / kColumnBlockRows;
  const bool stream = a.dx != nullptr &&
                      stream_output(rows * cols * static_cast<std::int64_t>(dtype_size(a.dx_at.dtype)) /
                                    static_cast<std::int64_t>(sizeof(float)));
  const int threads = threads_for(rows * cols);
  // The column sums: merged in double over the blocks, then narrowed into
  // the gradients; a lone block's float sums go to them directly.
  const bool columns = (a.dweight.defined() || a.dbias.defined()) && blocks > 0;
  const auto float32_or_none = [](const TensorView& t) { return !t.defined() || float32_in_place(t); };
  const bool as_floats = blocks == 1 && float32_or_none(a.dweight) && float32_or_none(a.dbias);
  thread_local std::vector<GradSums> merged_storage;  // (cols), kept across calls
  merged_storage.resize(static_cast<std::size_t>(columns ? cols : 0));
  GradSums* const merged = merged_storage.data();
  if (blocks == 1 && threads > 1) {
    one_block_on_threads(a, threads, stream, columns ? merged : nullptr, as_floats);
    if (columns && !as_floats) write_column_grads(merged, cols, a.dweight, a.dbias);
    return;
  }
  // The column sums are the fixed pairwise tree over the blocks (each block
  // a leaf). Each thread takes a contiguous range of blocks and merges the
  // largest nodes of the tree inside it itself, as a rank of Synchronized BN
  // does (slice_reduce.hpp): only those nodes' sums, a few rows of columns,
  // go to the calling thread, which merges them into the root. The bits are
  // those of merging every leaf in one place; the calling thread no longer
  // reads every block's sums written by the others (on 2 threads over
  // (2048, 256), 32 blocks: 2 nodes instead of 32 leaves).
  const SampleTree tree = SampleTree::one_leaf_per_sample(blocks);
  // Whole nodes inside one range: at most two on each of the tree's depth() levels.
  const std::int64_t most_nodes = 2 * tree.depth();
  // Reused across calls. Used through pointers: inside the parallel region
  // the names would denote each worker thread's own (empty) thread_locals.
  thread_local std::vector<GradSums> node_sums_storage;              // (threads, most_nodes, cols)
  thread_local std::vector<std::pair<std::int64_t, std::int64_t>> node_storage;  // (threads, most_nodes)
  thread_local std::vector<std::int64_t> node_count_storage;          // (threads)
  if (columns) {
    node_sums_storage.resize(static_cast<std::size_t>(threads * most_nodes * cols));
    node_storage.resize(static_cast<std::size_t>(threads * most_nodes));
    node_count_storage.assign(static_cast<std::size_t>(threads), 0);
  }
  GradSums* const node_sums = node_sums_storage.data();
  std::pair<std::int64_t, std::int64_t>* const nodes = node_storage.data();
  std::int64_t* const node_count = node_count_storage.data();
  bool merged_on_one_thread = false;  // a one-thread region's thread merged the whole tree
  const RowsIn in = rows_in(a);
  parallel_region(threads, [&] {
    const std::int64_t t = omp_get_thread_num(), n = omp_get_num_threads();
    const std::int64_t b0 = blocks * t / n, b1 = blocks * (t + 1) / n;
    // This thread's blocks' column sums (the leaves), and one block's in
    // float; each thread's own, kept across calls so that a small call
    // allocates nothing.
    thread_local std::vector<GradSums> leaves;
    thread_local std::vector<float> col_g, col_gx;
    // The whole tree on this thread (a region of one thread): it merges the
    // result itself, and a lone block is the result.
    const bool whole_tree = b0 == 0 && b1 == blocks;
    if (columns) {
      leaves.resize(static_cast<std::size_t>((b1 - b0) * cols));
      col_g.resize(static_cast<std::size_t>(cols));
      col_gx.resize(static_cast<std::size_t>(cols));
    }
    for (std::int64_t b = b0; b < b1; ++b) {
      if (columns) {
        std::fill(col_g.begin(), col_g.end(), 0.0f);
        std::fill(col_gx.begin(), col_gx.end(), 0.0f);
      }
      const std::int64_t r0 = b * kColumnBlockRows, r1 = std::min(rows, (b + 1) * kColumnBlockRows);
      float* const block_g = columns ? col_g.data() : nullptr;
      float* const block_gx = columns ? col_gx.data() : nullptr;
      if (in != RowsIn::staged)
        apply_block_in_place(a, in, r0, r1, [&](std::int64_t r) { return coefficients_of(a, in, r); }, block_g,
                             block_gx, stream);
      else
        apply_staged_rows(a, r0, r1, block_g, block_gx, stream);
      if (columns && as_floats) {
        write_block_grads(a, col_g.data(), col_gx.data(), 0, cols);
      } else if (columns) {
        GradSums* const leaf = whole_tree && blocks == 1 ? merged : leaves.data() + (b - b0) * cols;
        widen_column_sums(col_g.data(), col_gx.data(), cols, leaf);
      }
    }
    if (columns && !as_floats && b1 > b0) {
      thread_local SliceNodes slice;
      thread_local std::vector<GradSums> scratch;
      scratch.resize(static_cast<std::size_t>(merge_scratch_size(tree)));
      if (whole_tree) {
        if (blocks > 1) merge_given_here(tree.leaf_test(), 0, blocks, cols, leaves.data(), scratch.data(), merged);
        merged_on_one_thread = true;
      } else {
        slice.whole.clear();
        slice.cut.clear();  // stays empty: every leaf is one block
        collect_slice_nodes(tree, 0, blocks, b0, b1, slice);
        const std::int64_t count = static_cast<std::int64_t>(slice.whole.size());
        for (std::int64_t i = 0; i < count; ++i) {
          const auto [lo, hi] = slice.whole[static_cast<std::size_t>(i)];
          nodes[t * most_nodes + i] = {lo, hi};
          merge_given_here(tree.leaf_test(), lo, hi, cols, leaves.data() + (lo - b0) * cols, scratch.data(),
                           node_sums + (t * most_nodes + i) * cols);
        }
        node_count[t] = count;
      }
    }
    stream_fence(stream);
  });
  if (!columns) {
    // No block (no rows): every gradient is zero.
    if (blocks == 0 && (a.dweight.defined() || a.dbias.defined())) {
      merged_storage.assign(static_cast<std::size_t>(cols), GradSums{});
      write_column_grads(merged_storage.data(), cols, a.dweight, a.dbias);
    }
    return;
  }
  if (as_floats) return;
  if (merged_on_one_thread) {
    write_column_grads(merged, cols, a.dweight, a.dbias);
    return;
  }
  // Every thread's nodes, in order, packed together: they tile the blocks.
  thread_local LeafList all_nodes;
  all_nodes.clear();
  for (std::int64_t t = 0; t < threads; ++t)
    for (std::int64_t i = 0; i < node_count[t]; ++i) {
      if (t * most_nodes + i != static_cast<std::int64_t>(all_nodes.size()))
        std::copy_n(node_sums + (t * most_nodes + i) * cols, cols, node_sums + static_cast<std::int64_t>(all_nodes.size()) * cols);
      all_nodes.push_back(nodes[t * most_nodes + i]);
    }
  merge_nodes(tree, all_nodes, 1, cols, node_sums, merged);
  write_column_grads(merged, cols, a.dweight, a.dbias);
}

}  // namespace normkit::kernels
