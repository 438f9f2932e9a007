// Instruction-set dispatch for the hot loops: one binary for every x86-64
// machine, without -march=native.
//
// A kernel is written once, as a template over the vector width W (4 floats:
// SSE2, the x86-64 baseline; 8: AVX2; 16: AVX-512) that always inlines, and
// instantiated in three small wrappers, each compiled for its instruction set
// by a target attribute (GCC inlines baseline code into a wider target and
// generates it with that target's registers). Every kernel keeps 16 float
// lanes (lanes.hpp) whatever W is, FMA contraction is off (CMakeLists.txt),
// and the lanes are combined in a fixed order, so every path gives the same
// bits; tests hold each path the CPU has against the portable one.
//
// The path is chosen once per process: the widest the CPU has, or the one
// named by NORMKIT_ISA=portable|avx2|avx512 when the CPU has it (to test and
// to compare paths).
#pragma once

#include <cstdlib>
#include <cstring>
#include <initializer_list>

#if defined(__x86_64__) && defined(__GNUC__)
#define NORMKIT_X86_DISPATCH 1
#define NORMKIT_TARGET_AVX2 __attribute__((target("avx2")))
#define NORMKIT_TARGET_AVX512 __attribute__((target("avx512f")))
#else
#define NORMKIT_X86_DISPATCH 0
#endif

namespace normkit::kernels {

enum class Isa { portable, avx2, avx512 };

inline const char* isa_name(Isa isa) {
  return isa == Isa::avx512 ? "avx512" : isa == Isa::avx2 ? "avx2" : "portable";
}

// The widest path the CPU has.
inline Isa best_isa() {
#if NORMKIT_X86_DISPATCH
  if (__builtin_cpu_supports("avx512f")) return Isa::avx512;
  if (__builtin_cpu_supports("avx2")) return Isa::avx2;
#endif
  return Isa::portable;
}

// The path the kernels take: best_isa(), or NORMKIT_ISA when the CPU has it.
inline Isa active_isa() {
  static const Isa isa = [] {
    const Isa best = best_isa();
    const char* asked = std::getenv("NORMKIT_ISA");
    if (asked == nullptr) return best;
    for (Isa isa : {Isa::portable, Isa::avx2, Isa::avx512})
      if (std::strcmp(asked, isa_name(isa)) == 0 && isa <= best) return isa;
    return best;
  }();
  return isa;
}

// Calls portable(), avx2() or avx512() (each a wrapper compiled for its
// target) as active_isa() says.
#if NORMKIT_X86_DISPATCH
#define NORMKIT_DISPATCH(name, ...)                                              \
  (::normkit::kernels::active_isa() == ::normkit::kernels::Isa::avx512 ? name##_avx512(__VA_ARGS__) \
   : ::normkit::kernels::active_isa() == ::normkit::kernels::Isa::avx2 ? name##_avx2(__VA_ARGS__)   \
                                                                        : name##_portable(__VA_ARGS__))
#else
#define NORMKIT_DISPATCH(name, ...) name##_portable(__VA_ARGS__)
#endif

}  // namespace normkit::kernels
