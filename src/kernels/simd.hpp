// Instruction-set dispatch for the hot loops: one binary for every x86-64
// machine, without -march=native. The loops are written with explicit lanes
// and FMA contraction is off (CMakeLists.txt), so every path gives the same
// bits.
//
// NORMKIT_SIMD marks the hot loops. It is empty: target_clones compiled the
// 4-wide code once per target without widening it (and measured slower).
// Wider paths are written out where they pay (run_moments: AVX2) and chosen
// at run time with __builtin_cpu_supports.
#pragma once

#define NORMKIT_SIMD

#if defined(__x86_64__) && defined(__GNUC__)
#define NORMKIT_HAS_AVX2_PATH 1
#else
#define NORMKIT_HAS_AVX2_PATH 0
#endif
