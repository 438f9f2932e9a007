// The instruction sets the kernels are compiled for, and which one they run
// on. Every path gives the same bits (docs/numerics.md): the choice changes
// speed only, so it can be changed between calls, and tests and benchmarks
// run each path the CPU has in one process.
#pragma once

#include <vector>

namespace normkit {

enum class SimdPath {
  portable,  // 4-float vectors: SSE2 on x86-64, plain C++ elsewhere
  avx2,      // 8-float vectors (x86-64 with AVX2)
  avx512,    // 16-float vectors (x86-64 with AVX-512F)
};

// "portable", "avx2" or "avx512".
const char* simd_path_name(SimdPath path);
// The widest path this CPU has.
SimdPath best_simd_path();
// Every path this CPU has, narrowest first (portable is always there).
std::vector<SimdPath> simd_paths();

// The path the kernels take: at start, the widest the CPU has, or the one
// named by the environment variable NORMKIT_ISA when the CPU has it.
SimdPath current_simd_path();
const char* simd_path();  // its name
// Chooses the path for the whole process (every thread), as oneDNN's
// set_max_cpu_isa does. Throws normkit::Error, changing nothing, for a path
// this CPU lacks.
void set_simd_path(SimdPath path);
// The same by name: "portable", "avx2" or "avx512".
void set_simd_path(const char* name);

// Sets a path for the life of the object, then puts the previous one back.
class ScopedSimdPath {
 public:
  explicit ScopedSimdPath(SimdPath path) : previous_(current_simd_path()) { set_simd_path(path); }
  ~ScopedSimdPath() { set_simd_path(previous_); }
  ScopedSimdPath(const ScopedSimdPath&) = delete;
  ScopedSimdPath& operator=(const ScopedSimdPath&) = delete;

 private:
  SimdPath previous_;
};

}  // namespace normkit
