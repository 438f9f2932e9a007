// Instruction-set dispatch for the kernels' hot loops: one binary for every
// x86-64 machine, without -march=native.
//
// A kernel is written once, as a template over the vector width W (4 floats:
// SSE2, the x86-64 baseline; 8: AVX2; 16: AVX-512) that always inlines, and
// instantiated in three small wrappers, each compiled for its instruction set
// by a target attribute (GCC inlines baseline code into a wider target and
// generates it with that target's registers). Every kernel keeps 16 float
// lanes (kernels/lanes.hpp) whatever W is, FMA contraction is off
// (CMakeLists.txt), and the lanes are combined in a fixed order, so every path
// gives the same bits; the kernel tests run on every path the CPU has.
//
// Which path runs is current_simd_path() (normkit/simd.hpp), read at each
// dispatch, so that it can change between calls. Elsewhere than x86-64 only
// the portable path is compiled (GCC's generic vectors: NEON on aarch64).
#pragma once

#include "normkit/simd.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#define NORMKIT_X86_DISPATCH 1
#define NORMKIT_TARGET_AVX2 __attribute__((target("avx2")))
#define NORMKIT_TARGET_AVX512 __attribute__((target("avx512f")))
#else
#define NORMKIT_X86_DISPATCH 0
#endif

#if NORMKIT_X86_DISPATCH
namespace normkit {
// AVX512_BF16's VCVTNEPS2BF16 and AVX512DQ's VFPCLASSPS are there (the
// AVX-512 path's bfloat16 rounding uses them: core/half_span.cpp,
// kernels/vectors.hpp). Set once, before main.
extern const bool kCpuRoundsBfloat16;
}  // namespace normkit
#endif

// Calls name_portable(), name_avx2() or name_avx512() (each a wrapper compiled
// for its target) as current_simd_path() says.
#if NORMKIT_X86_DISPATCH
#define NORMKIT_DISPATCH(name, ...)                                                            \
  [&] {                                                                                        \
    switch (::normkit::current_simd_path()) {                                                  \
      case ::normkit::SimdPath::avx512: return name##_avx512(__VA_ARGS__);                     \
      case ::normkit::SimdPath::avx2: return name##_avx2(__VA_ARGS__);                         \
      case ::normkit::SimdPath::portable: break;                                               \
    }                                                                                          \
    return name##_portable(__VA_ARGS__);                                                       \
  }()
#else
#define NORMKIT_DISPATCH(name, ...) name##_portable(__VA_ARGS__)
#endif
