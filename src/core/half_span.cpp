// Each span has a scalar body (half.hpp: the portable path, and every path's
// head and tail) and, on x86-64, bodies of 16 elements for AVX2 (with F16C,
// which every AVX2 CPU has and core/simd.cpp requires) and AVX-512, written
// with intrinsics in functions compiled for those targets. The vector
// bodies compute half.hpp's bits lane by lane:
//
//   bfloat16 narrowing: (u + 0x7FFF + ((u >> 16) & 1)) >> 16 on the float's
//     bits u, NaN lanes replaced by 0x7FC0 (not VCVTNEPS2BF16, which flushes
//     subnormals);
//   float16: VCVTPS2PH with round to nearest even, and VCVTPH2PS, whose
//     results half.hpp's float16 conversions are written to match.
#include "half_span.hpp"

#include "simd_dispatch.hpp"
#include "normkit/half.hpp"

#if NORMKIT_X86_DISPATCH
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), which its
// -Wmaybe-uninitialized takes for an uninitialized read (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#endif

namespace normkit {
namespace {

void widen_scalar(const std::uint16_t* src, float* dst, std::int64_t n, DType dtype) {
  if (dtype == DType::bfloat16)
    for (std::int64_t i = 0; i < n; ++i) dst[i] = bfloat16_to_float(src[i]);
  else
    for (std::int64_t i = 0; i < n; ++i) dst[i] = float16_to_float(src[i]);
}

void narrow_scalar(const float* src, std::uint16_t* dst, std::int64_t n, DType dtype) {
  if (dtype == DType::bfloat16)
    for (std::int64_t i = 0; i < n; ++i) dst[i] = float_to_bfloat16(src[i]);
  else
    for (std::int64_t i = 0; i < n; ++i) dst[i] = float_to_float16(src[i]);
}

void widen_span_portable(const std::uint16_t* src, float* dst, std::int64_t n, DType dtype) {
  widen_scalar(src, dst, n, dtype);
}

void narrow_span_portable(const float* src, std::uint16_t* dst, std::int64_t n, DType dtype, bool) {
  narrow_scalar(src, dst, n, dtype);
}

#if NORMKIT_X86_DISPATCH

constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

// The elements before dst is 32-byte aligned, when the body is streamed
// (a streaming store of 32 bytes needs the alignment).
std::int64_t stream_head(const std::uint16_t* dst, std::int64_t n, bool stream) {
  if (!stream) return 0;
  const std::uintptr_t misaligned = reinterpret_cast<std::uintptr_t>(dst) & 31;
  const std::int64_t head = misaligned == 0 ? 0 : static_cast<std::int64_t>((32 - misaligned) / 2);
  return head < n ? head : n;
}

__attribute__((target("avx2,f16c"))) __m256i bfloat16_bits_avx2(__m256 v) {
  const __m256i u = _mm256_castps_si256(v);
  const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7FFF))), 16);
  const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
  return _mm256_blendv_epi8(rounded, _mm256_set1_epi32(0x7FC0), _mm256_castps_si256(nan));
}

__attribute__((target("avx2,f16c"))) void widen_span_avx2(const std::uint16_t* src, float* dst, std::int64_t n,
                                                          DType dtype) {
  std::int64_t i = 0;
  if (dtype == DType::bfloat16) {
    for (; i + 8 <= n; i += 8) {
      const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
      _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(h, 16)));
    }
  } else {
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  }
  widen_scalar(src + i, dst + i, n - i, dtype);
}

__attribute__((target("avx2,f16c"))) void narrow_span_avx2(const float* src, std::uint16_t* dst, std::int64_t n,
                                                           DType dtype, bool stream) {
  std::int64_t i = stream_head(dst, n, stream);
  narrow_scalar(src, dst, i, dtype);
  for (; i + 16 <= n; i += 16) {
    const __m256 a = _mm256_loadu_ps(src + i), b = _mm256_loadu_ps(src + i + 8);
    __m256i h;
    if (dtype == DType::bfloat16) {
      // packus interleaves the 128-bit halves; the permute puts them back.
      h = _mm256_permute4x64_epi64(_mm256_packus_epi32(bfloat16_bits_avx2(a), bfloat16_bits_avx2(b)), 0xD8);
    } else {
      h = _mm256_set_m128i(_mm256_cvtps_ph(b, kRound), _mm256_cvtps_ph(a, kRound));
    }
    auto* to = reinterpret_cast<__m256i*>(dst + i);
    if (stream) _mm256_stream_si256(to, h);
    else _mm256_storeu_si256(to, h);
  }
  narrow_scalar(src + i, dst + i, n - i, dtype);
}

__attribute__((target("avx512f"))) void widen_span_avx512(const std::uint16_t* src, float* dst, std::int64_t n,
                                                          DType dtype) {
  std::int64_t i = 0;
  if (dtype == DType::bfloat16) {
    for (; i + 16 <= n; i += 16) {
      const __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
      _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(h, 16)));
    }
  } else {
    for (; i + 16 <= n; i += 16)
      _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
  }
  widen_scalar(src + i, dst + i, n - i, dtype);
}

__attribute__((target("avx512f"))) inline __m256i bfloat16_bits_avx512(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFF))), 16);
  rounded = _mm512_mask_mov_epi32(rounded, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_set1_epi32(0x7FC0));
  return _mm512_cvtepi32_epi16(rounded);
}

// With AVX512_BF16: VCVTNEPS2BF16 rounds to nearest even in one
// instruction, and gives the integer rounding's bits for every input but a
// subnormal one (which it flushes) and a NaN (whose payload it keeps): a
// vector holding either takes the integer rounding instead.
__attribute__((target("avx512f,avx512bf16"))) inline __m256i bfloat16_bits_avx512bf16(__m512 v) {
  const __m512i magnitude = _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7FFFFFFF));
  const __mmask16 subnormal =
      _mm512_cmplt_epu32_mask(_mm512_sub_epi32(magnitude, _mm512_set1_epi32(1)), _mm512_set1_epi32(0x7FFFFF));
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(magnitude, _mm512_set1_epi32(0x7F800000));
  if ((subnormal | nan) != 0) return bfloat16_bits_avx512(v);
  return reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v));
}

__attribute__((target("avx512f,avx512bf16"))) void narrow_bfloat16_avx512bf16(const float* src, std::uint16_t* dst,
                                                                             std::int64_t n, bool stream) {
  std::int64_t i = stream_head(dst, n, stream);
  narrow_scalar(src, dst, i, DType::bfloat16);
  for (; i + 16 <= n; i += 16) {
    const __m256i h = bfloat16_bits_avx512bf16(_mm512_loadu_ps(src + i));
    auto* to = reinterpret_cast<__m256i*>(dst + i);
    if (stream) _mm256_stream_si256(to, h);
    else _mm256_storeu_si256(to, h);
  }
  narrow_scalar(src + i, dst + i, n - i, DType::bfloat16);
}

__attribute__((target("avx512f"))) void narrow_span_avx512(const float* src, std::uint16_t* dst, std::int64_t n,
                                                           DType dtype, bool stream) {
  if (dtype == DType::bfloat16 && kCpuRoundsBfloat16) {
    narrow_bfloat16_avx512bf16(src, dst, n, stream);
    return;
  }
  std::int64_t i = stream_head(dst, n, stream);
  narrow_scalar(src, dst, i, dtype);
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(src + i);
    const __m256i h = dtype == DType::bfloat16 ? bfloat16_bits_avx512(v) : _mm512_cvtps_ph(v, kRound);
    auto* to = reinterpret_cast<__m256i*>(dst + i);
    if (stream) _mm256_stream_si256(to, h);
    else _mm256_storeu_si256(to, h);
  }
  narrow_scalar(src + i, dst + i, n - i, dtype);
}

#endif

}  // namespace

void widen_span(const std::uint16_t* src, float* dst, std::int64_t n, DType dtype) {
  NORMKIT_DISPATCH(widen_span, src, dst, n, dtype);
}

void narrow_span(const float* src, std::uint16_t* dst, std::int64_t n, DType dtype, bool stream) {
  NORMKIT_DISPATCH(narrow_span, src, dst, n, dtype, stream);
}

}  // namespace normkit
