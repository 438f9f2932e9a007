// The 16-bit floats normkit stores (bfloat16, IEEE float16) as their bits,
// and their conversions to and from float32. Widening is exact; narrowing
// rounds to nearest, ties to even, once, as PyTorch's c10::BFloat16 and
// c10::Half do:
//
//   bfloat16: subnormal results kept (not flushed: AVX-512's VCVTNEPS2BF16
//             flushes them, so normkit uses it only on vectors that hold
//             no subnormal and no NaN), overflow to +-inf,
//             NaN to 0x7FC0 (a positive quiet NaN, as PyTorch);
//   float16:  subnormals kept, overflow to +-inf, NaN to a quiet NaN with
//             the sign and the payload's upper bits (what F16C's VCVTPS2PH
//             gives, which the vector paths use); widened, a NaN is made
//             quiet too (as VCVTPH2PS).
//
// Every path (portable, AVX2 with F16C, AVX-512) gives these bits.
#pragma once

#include <bit>
#include <cstdint>

namespace normkit {

inline float bfloat16_to_float(std::uint16_t bits) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

inline std::uint16_t float_to_bfloat16(float value) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(value);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0;  // NaN
  const std::uint32_t rounding_bias = 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>((u + rounding_bias) >> 16);
}

inline float float16_to_float(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1Fu, mantissa = bits & 0x3FFu;
  if (exponent == 0x1F)  // inf, or a NaN made quiet (as F16C's VCVTPH2PS does)
    return std::bit_cast<float>(sign | (mantissa == 0 ? 0x7F800000u : 0x7FC00000u | (mantissa << 13)));
  if (exponent != 0) return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
  // Zero or subnormal: mantissa * 2^-24, exact in float.
  const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
  return std::bit_cast<float>(sign | std::bit_cast<std::uint32_t>(magnitude));
}

inline std::uint16_t float_to_float16(float value) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(value);
  const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t magnitude = u & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u)  // NaN: quiet, the payload's upper bits kept
    return static_cast<std::uint16_t>(sign | 0x7E00u | ((magnitude >> 13) & 0x3FFu));
  if (magnitude >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // rounds past 65504
  if (magnitude < 0x38800000u) {
    // Below float16's smallest normal (2^-14): a multiple of 2^-24, which
    // adding 0.5 (2^-1) rounds to nearest even in float's own arithmetic.
    const float shifted = std::bit_cast<float>(magnitude) + 0.5f;
    return static_cast<std::uint16_t>(sign | (std::bit_cast<std::uint32_t>(shifted) - 0x3F000000u));
  }
  // Normal: rebias the exponent (127 to 15) and round the 13 dropped bits
  // to nearest even; a carry out of the mantissa steps the exponent, as it
  // should.
  const std::uint32_t rounding_bias = 0xFFFu + ((magnitude >> 13) & 1u);
  return static_cast<std::uint16_t>(sign | ((magnitude - 0x38000000u + rounding_bias) >> 13));
}

}  // namespace normkit
