// W-wide float vectors and the element types the kernels read and write
// (float32, bfloat16, float16), for kernels written once for every
// instruction set (core/simd_dispatch.hpp).
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/simd_dispatch.hpp"
#include "normkit/half.hpp"

namespace normkit::kernels {

// W-lane vectors (W = 4, 8 or 16) of element type E. The helpers always
// inline, so that they are generated with the target of the wrapper that
// uses them. (Through a struct: GCC drops vector_size on an alias template.)
// The asm below is GCC's. clang checks an asm operand's size against the
// target of the template that holds it (none: these helpers take their
// caller's), not of the wrapper they are inlined into, and refuses 256- and
// 512-bit operands; built with clang (the fuzzers), the helpers take their
// generic code: the same bits, slower.
#if defined(__x86_64__) && !defined(__clang__)
#define NORMKIT_VECTOR_ASM 1
#else
#define NORMKIT_VECTOR_ASM 0
#endif

template <typename E, int W>
struct VectorOf {
  typedef E type __attribute__((vector_size(sizeof(E) * W)));
};
template <int W>
using vfloat = typename VectorOf<float, W>::type;
template <int W>
using vint = typename VectorOf<std::int32_t, W>::type;
template <int W>
using vuint = typename VectorOf<std::uint32_t, W>::type;
template <int W>
using vbits16 = typename VectorOf<std::uint16_t, W>::type;  // W 16-bit values' bits
static_assert(sizeof(vfloat<8>) == 32 && sizeof(vfloat<16>) == 64);

template <int W>
[[gnu::always_inline]] inline vfloat<W> loadv(const float* p) {
  vfloat<W> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <int W>
[[gnu::always_inline]] inline void storev(float* p, const vfloat<W>& v) {
  std::memcpy(p, &v, sizeof v);
}

// The 16-bit floats as stored, each a type of its own, so that a kernel
// written over its element type T (float, Bf16, F16) reads and writes them
// in registers through the overloads below: loadv and load1 widen exactly,
// storev and store1 round to nearest even with half.hpp's bits. The float32
// arithmetic between them is the float kernels', so a 16-bit tensor gets
// the bits of the same tensor widened into float32 and rounded once on the
// way out.
struct Bf16 {  // bfloat16: the upper half of a float32's bits
  std::uint16_t bits;
};
struct F16 {  // IEEE float16
  std::uint16_t bits;
};
static_assert(sizeof(Bf16) == 2 && sizeof(F16) == 2);
template <typename T>
inline constexpr bool kSixteenBits = std::is_same_v<T, Bf16> || std::is_same_v<T, F16>;

[[gnu::always_inline]] inline float load1(const float* p) { return *p; }
[[gnu::always_inline]] inline float load1(const Bf16* p) { return bfloat16_to_float(p->bits); }
[[gnu::always_inline]] inline float load1(const F16* p) { return float16_to_float(p->bits); }
[[gnu::always_inline]] inline void store1(float* p, float v) { *p = v; }
[[gnu::always_inline]] inline void store1(Bf16* p, float v) { p->bits = float_to_bfloat16(v); }
[[gnu::always_inline]] inline void store1(F16* p, float v) { p->bits = float_to_float16(v); }

// VPERMW's word indices for loadv<16>(const Bf16*): lane k's lower word is
// word 16 (zero), its upper word the k-th value.
typedef std::uint16_t vwords32 __attribute__((vector_size(64)));
inline constexpr vwords32 kBfloat16WidenIndex = {16, 0, 16, 1, 16, 2, 16, 3, 16, 4, 16, 5, 16, 6, 16, 7,
                                                 16, 8, 16, 9, 16, 10, 16, 11, 16, 12, 16, 13, 16, 14, 16, 15};

// VPSHUFB's byte indices for loadv<8>(const Bf16*) (per 128-bit lane; 0x80:
// a zero byte): lane 0 takes values 0-3, lane 1 values 4-7.
typedef std::uint8_t vbytes32 __attribute__((vector_size(32)));
inline constexpr vbytes32 kBfloat16WidenBytes8 = {0x80, 0x80, 0, 1, 0x80, 0x80, 2, 3, 0x80, 0x80, 4, 5,
                                                  0x80, 0x80, 6, 7, 0x80, 0x80, 8, 9, 0x80, 0x80, 10, 11,
                                                  0x80, 0x80, 12, 13, 0x80, 0x80, 14, 15};

template <int W>
[[gnu::always_inline]] inline vfloat<W> loadv(const Bf16* p) {
  using u32 = vuint<W>;
  u32 wide;
#if NORMKIT_VECTOR_ASM
  if constexpr (W == 16) {
    // The 16 values loaded into the lower half of a zmm register (the load
    // zeroes the upper half; VMOVDQU16, AVX-512BW and VL, takes any of the
    // 32 registers), then one VPERMW (AVX-512BW) puts value k in
    // the upper half of lane k and a zero word in the lower. VPMOVZXWD then
    // a shift took two instructions on the shuffle and shift pipes where
    // this takes one: a row's sum over 4 rows of 768 bfloat16 in L1, 1.7
    // against 1.1 cycles a vector on Zen 5.
    asm("vmovdqu16 %1, %t0\n\tvpermw %0, %2, %0"
        : "=&v"(wide)
        : "m"(*reinterpret_cast<const vbits16<16>*>(p)), "v"(kBfloat16WidenIndex));
  } else if constexpr (W == 8) {
    // AVX2: the 8 values in both 128-bit lanes (VBROADCASTI128, a load),
    // then one VPSHUFB puts values 0-3 (lane 0) and 4-7 (lane 1) in the
    // upper halves of their dwords, zeros below: one shuffle where
    // VPMOVZXWD and a shift took two.
    asm("vbroadcasti128 %1, %0\n\tvpshufb %2, %0, %0"
        : "=&x"(wide)
        : "m"(*reinterpret_cast<const vbits16<8>*>(p)), "x"(kBfloat16WidenBytes8));
  } else
#endif
  {
    vbits16<W> bits;
    std::memcpy(&bits, p, sizeof bits);
    wide = __builtin_convertvector(bits, u32) << 16;
  }
  vfloat<W> v;
  std::memcpy(&v, &wide, sizeof v);
  return v;
}
// float_to_bfloat16 lane by lane: (u + 0x7FFF + ((u >> 16) & 1)) >> 16 on
// the bits u, a NaN lane 0x7FC0.
template <int W>
[[gnu::always_inline]] inline vbits16<W> bfloat16_bits(const vfloat<W>& v) {
  using u32 = vuint<W>;
#if NORMKIT_VECTOR_ASM
  if constexpr (W == 16) {
    // Where the CPU has AVX512_BF16, one VCVTNEPS2BF16 rounds the vector
    // (the integer rounding below took 11 instructions and bound the
    // normalize pass: LayerNorm forward 512x768, 1 thread, Zen 4). It gives
    // the integer rounding's bits for every input but a subnormal one (which
    // it flushes) and a NaN (whose payload it keeps): VFPCLASSPS finds those
    // (0xA1: quiet NaN, subnormal, signalling NaN), and such a vector takes
    // the integer rounding instead. Through asm: this template has no
    // target of its own.
    if (kCpuRoundsBfloat16) {
      unsigned special;
      asm("vfpclassps $0xa1, %1, %%k0\n\tkmovw %%k0, %0" : "=r"(special) : "v"(v) : "k0");
      if (special == 0) {
        vbits16<16> h;
        asm("vcvtneps2bf16 %1, %0" : "=x"(h) : "v"(v));
        return h;
      }
    }
  }
#endif
  u32 u;
  std::memcpy(&u, &v, sizeof u);
  const u32 rounded = (u + (0x7FFFu + ((u >> 16) & 1u))) >> 16;
  const u32 bits = v != v ? u32{} + 0x7FC0u : rounded;  // a NaN lane: 0x7FC0
#if NORMKIT_VECTOR_ASM
  if constexpr (W == 16) {
    // One VPMOVDW (AVX-512F), where GCC 12 masks, packs and permutes halves.
    vbits16<16> h;
    asm("vpmovdw %1, %0" : "=x"(h) : "v"(bits));
    return h;
  }
  if constexpr (W == 8) {
    // AVX2 has no VPMOVDW: the upper half packed beside the lower (two
    // instructions, where GCC 12 masks, packs and permutes).
    vbits16<8> h;
    asm("vextracti128 $1, %t1, %x0\n\tvpackusdw %x0, %x1, %x0" : "=&x"(h) : "x"(bits));
    return h;
  }
#endif
  return __builtin_convertvector(bits, vbits16<W>);
}
template <int W>
[[gnu::always_inline]] inline void storev(Bf16* p, const vfloat<W>& v) {
  const vbits16<W> bits = bfloat16_bits<W>(v);
  std::memcpy(p, &bits, sizeof bits);
}

// float16: VCVTPH2PS and VCVTPS2PH (round to nearest even), whose results
// half.hpp's conversions match (F16C on the AVX2 path, which
// core/simd.cpp requires; AVX-512F on its own); the portable path converts
// lane by lane with half.hpp. Through asm, as above.
template <int W>
[[gnu::always_inline]] inline vfloat<W> loadv(const F16* p) {
  vfloat<W> v;
#if NORMKIT_VECTOR_ASM
  if constexpr (W == 16) {
    asm("vcvtph2ps %1, %0" : "=v"(v) : "m"(*reinterpret_cast<const vbits16<16>*>(p)));
    return v;
  } else if constexpr (W == 8) {
    asm("vcvtph2ps %1, %0" : "=x"(v) : "m"(*reinterpret_cast<const vbits16<8>*>(p)));
    return v;
  }
#endif
  for (int l = 0; l < W; ++l) v[l] = load1(p + l);
  return v;
}
template <int W>
[[gnu::always_inline]] inline vbits16<W> float16_bits(const vfloat<W>& v) {
  vbits16<W> h;
#if NORMKIT_VECTOR_ASM
  if constexpr (W == 16) {
    asm("vcvtps2ph $8, %1, %0" : "=x"(h) : "v"(v));
    return h;
  } else if constexpr (W == 8) {
    asm("vcvtps2ph $8, %1, %0" : "=x"(h) : "x"(v));
    return h;
  }
#endif
  for (int l = 0; l < W; ++l) h[l] = float_to_float16(v[l]);
  return h;
}
template <int W>
[[gnu::always_inline]] inline void storev(F16* p, const vfloat<W>& v) {
  const vbits16<W> bits = float16_bits<W>(v);
  std::memcpy(p, &bits, sizeof bits);
}

// The bits a 16-bit type T stores for v.
template <int W, typename T>
[[gnu::always_inline]] inline vbits16<W> bits16(const vfloat<W>& v) {
  if constexpr (std::is_same_v<T, Bf16>) return bfloat16_bits<W>(v);
  else return float16_bits<W>(v);
}

}  // namespace normkit::kernels
