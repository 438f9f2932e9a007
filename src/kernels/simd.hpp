// Runtime ISA dispatch for the hot loops: GCC compiles a function marked
// NORMKIT_SIMD once per target (AVX-512, AVX2, baseline x86-64) and picks the
// best at load time, so one binary is fast on every x86-64 machine without
// -march=native. The loops are written with explicit lanes and FMA
// contraction is off (CMakeLists.txt), so every target gives the same bits.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define NORMKIT_SIMD
#else
#define NORMKIT_SIMD
#endif
