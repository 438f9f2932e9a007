#include "normkit/simd.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "normkit/error.hpp"
#include "simd_dispatch.hpp"

#if NORMKIT_X86_DISPATCH
#include <cpuid.h>
#endif

namespace normkit {
namespace {

constexpr SimdPath kAllPaths[] = {SimdPath::portable, SimdPath::avx2, SimdPath::avx512};

#if NORMKIT_X86_DISPATCH
// CPUID leaf 1, ECX bit 29 (clang's __builtin_cpu_supports knows no "f16c").
bool cpu_has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & (1u << 29)) != 0;
}

// CPUID leaf 7 sub-leaf 1, EAX bit 5 (read directly: not every compiler's
// __builtin_cpu_supports knows the feature).
bool cpu_has_avx512bf16() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) != 0 && (eax & (1u << 5)) != 0;
}
#endif

bool cpu_has(SimdPath path) {
  switch (path) {
    case SimdPath::portable: return true;
#if NORMKIT_X86_DISPATCH
    // F16C too (half_span.cpp's float16 conversions): every AVX2 CPU has it.
    case SimdPath::avx2: return __builtin_cpu_supports("avx2") && cpu_has_f16c();
    // BW and VL too (vectors.hpp's VPERMW and VMOVDQU16): every AVX-512 CPU
    // but Xeon Phi has them.
    case SimdPath::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl");
#else
    case SimdPath::avx2:
    case SimdPath::avx512: return false;
#endif
  }
  return false;
}

// NORMKIT_ISA when it names a path the CPU has, else the widest.
SimdPath initial_path() {
  const char* asked = std::getenv("NORMKIT_ISA");
  if (asked != nullptr)
    for (SimdPath path : kAllPaths)
      if (std::strcmp(asked, simd_path_name(path)) == 0 && cpu_has(path)) return path;
  return best_simd_path();
}

std::atomic<SimdPath>& current() {
  static std::atomic<SimdPath> path{initial_path()};
  return path;
}

}  // namespace

#if NORMKIT_X86_DISPATCH
const bool kCpuRoundsBfloat16 =
    __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && cpu_has_avx512bf16();
#endif

const char* simd_path_name(SimdPath path) {
  switch (path) {
    case SimdPath::portable: return "portable";
    case SimdPath::avx2: return "avx2";
    case SimdPath::avx512: return "avx512";
  }
  return "?";
}

SimdPath best_simd_path() {
  static const SimdPath best = [] {
    SimdPath widest = SimdPath::portable;
    for (SimdPath path : kAllPaths)
      if (cpu_has(path)) widest = path;
    return widest;
  }();
  return best;
}

std::vector<SimdPath> simd_paths() {
  std::vector<SimdPath> paths;
  for (SimdPath path : kAllPaths)
    if (cpu_has(path)) paths.push_back(path);
  return paths;
}

SimdPath current_simd_path() { return current().load(std::memory_order_relaxed); }

const char* simd_path() { return simd_path_name(current_simd_path()); }

void set_simd_path(SimdPath path) {
  NORMKIT_CHECK(path == SimdPath::portable || path == SimdPath::avx2 || path == SimdPath::avx512,
                "set_simd_path: path: expected portable, avx2 or avx512, got ", static_cast<int>(path));
  NORMKIT_CHECK(cpu_has(path), "set_simd_path: path: this CPU has no ", simd_path_name(path), " (it has up to ",
                simd_path_name(best_simd_path()), ")");
  current().store(path, std::memory_order_relaxed);
}

void set_simd_path(const char* name) {
  NORMKIT_CHECK(name != nullptr, "set_simd_path: name: expected portable, avx2 or avx512, got null");
  for (SimdPath path : kAllPaths)
    if (std::strcmp(name, simd_path_name(path)) == 0) return set_simd_path(path);
  NORMKIT_CHECK(false, "set_simd_path: name: expected portable, avx2 or avx512, got '", name, "'");
}

}  // namespace normkit
