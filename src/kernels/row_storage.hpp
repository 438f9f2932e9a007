// Where the rows of a (rows, cols) matrix lie and in which dtype, for the row
// kernels (row_apply.hpp): contiguous float32 (the plain case, read in place),
// or bfloat16/float16 storage, or rows at their own offsets (the rows of a
// strided view whose last dimensions are contiguous: QK-norm over the heads
// of a (B, T, H, D) view of q). Read in place: float32, bfloat16 or float16
// rows of a call all in that dtype (16-bit values widened in registers as
// loaded, rounded as stored; the forward needs consecutive rows, the
// backward takes them at their offsets). Otherwise a matrix is read and
// written a few rows at a time through the thread's cache-resident float32
// buffers: widened exactly on the way in, rounded once on the way out.
// Either way the kernels' float32 arithmetic, and its bits, are the plain
// case's.
#pragma once

#include <cstdint>

#include "normkit/tensor.hpp"

namespace normkit::kernels {

struct RowStorage {
  DType dtype = DType::float32;                 // float32, bfloat16 or float16
  const std::int64_t* row_offsets = nullptr;  // element offset of each row; null: r * cols

  bool plain() const { return dtype == DType::float32 && row_offsets == nullptr; }
  std::int64_t offset(std::int64_t r, std::int64_t cols) const {
    return row_offsets != nullptr ? row_offsets[r] : r * cols;
  }
};

// Columns [c0, c0 + n) of rows [r0, r0 + count) of `data` into `to`
// (count rows of n floats, contiguous), widened.
void read_rows(const void* data, const RowStorage& at, std::int64_t cols, std::int64_t r0, std::int64_t count,
               std::int64_t c0, std::int64_t n, float* to);
// The reverse: `from` (count rows of n floats) into those columns and rows of
// `data`, rounded to its dtype, with streaming stores when `stream` (the
// caller fences: stream_store.hpp). When `round_from`, `from` is left holding
// the values stored (the rounded ones), for a caller that goes on with them.
void write_rows(float* from, void* data, const RowStorage& at, std::int64_t cols, std::int64_t r0,
                std::int64_t count, std::int64_t c0, std::int64_t n, bool stream, bool round_from = false);

}  // namespace normkit::kernels
