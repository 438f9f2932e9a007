// Spans of 16-bit floats (bfloat16, float16) widened to float32 and float32
// narrowed to them, with the bits of half.hpp's scalar conversions on every
// instruction set: AVX-512 (integer round-to-nearest-even for bfloat16,
// VCVTPS2PH/VCVTPH2PS for float16), AVX2 with F16C, and the portable path
// (half.hpp itself). The kernels read and write 16-bit tensors through them,
// a cache-resident piece at a time (kernels/row_storage.hpp), and copy_into converts
// whole tensors with them.
#pragma once

#include <cstdint>

#include "normkit/tensor.hpp"

namespace normkit {

// dst[i] = src[i] widened (exact); dtype is bfloat16 or float16.
void widen_span(const std::uint16_t* src, float* dst, std::int64_t n, DType dtype);
// dst[i] = src[i] rounded to dtype (bfloat16 or float16), to nearest even;
// with streaming stores for the body when `stream` (the caller fences them,
// as kernels/stream_store.hpp's stream_fence does).
void narrow_span(const float* src, std::uint16_t* dst, std::int64_t n, DType dtype, bool stream);

}  // namespace normkit
