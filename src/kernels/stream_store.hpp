// Writing outputs that are larger than the caches: non-temporal (streaming)
// stores write whole cache lines without first reading them, so an output
// costs one transfer instead of two (read for ownership, then write back).
// The values written are the same either way.
//
// Elsewhere than x86-64 the stores are ordinary ones (streaming is a matter
// of speed only).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "core/cpu_cache.hpp"
#include "core/simd_dispatch.hpp"
#include "lanes.hpp"

#if NORMKIT_X86_DISPATCH
#include <immintrin.h>
#endif

namespace normkit::kernels {

// Outputs at least this large bypass the caches; a smaller output is better
// left in cache for its consumer. The default is the last-level cache that
// one core can fill here, 8 MiB (sysconf reports the whole socket's L3, 64
// MiB on this project's EPYC, where each core sees an 8 MiB slice);
// NORMKIT_STREAM_BYTES sets another (for a CPU whose cache is larger, and to
// measure).
inline std::int64_t stream_threshold_bytes() {
  static const std::int64_t bytes = [] {
    const char* s = std::getenv("NORMKIT_STREAM_BYTES");
    const long long v = s != nullptr ? std::atoll(s) : 0;
    return v > 0 ? static_cast<std::int64_t>(v) : std::int64_t{8} << 20;
  }();
  return bytes;
}

inline bool stream_output(std::int64_t elements) {
  return elements * static_cast<std::int64_t>(sizeof(float)) >= stream_threshold_bytes();
}

// The output of a single pass (x read once, y written once: BatchNorm in
// eval mode, a fused scale and shift) on `threads` threads. With several
// threads, an output that fits in the last-level cache beside its input stays
// there: two cores draw more from L3 than DRAM takes in streamed stores. One
// core cannot, and streams. Measured on Zen 4 (32 MiB L3), BatchNorm eval
// 64x256x14x14 (12.25 MiB in, 12.25 MiB out), warm: 2 threads 0.26-0.30 ms
// in cache against 0.46 ms streamed; 1 thread 0.59-0.81 ms in cache against
// 0.46 streamed. A pass after a statistics pass (training) reads x twice and
// streams as stream_output says: kept in cache, BatchNorm train forward of
// the same shape was slower on 1 and 2 threads (0.97-1.03 against 0.69-0.73
// ms at 2).
//
// The same holds for the row norms' forward, whose statistics passes read a
// row again from L1 or L2: bfloat16 LayerNorm forward 8192x768 (12 MiB in,
// 12 MiB out), 2 threads, warm, Zen 5: 0.63-0.64 ms in cache against
// 0.75-0.80 streamed (RMSNorm 0.40-0.41 against 0.45-0.52). "Fits" leaves
// an eighth of the cache to everything else: at 2048x4096 (16 MiB in, 16
// MiB out, the whole L3) the same forward took 0.98-1.19 ms in cache against
// 0.73-0.75 streamed, while BatchNorm eval's 24.5 MiB above gains.
inline bool stream_single_pass_bytes(std::int64_t output_bytes, std::int64_t working_set_bytes, int threads) {
  if (output_bytes < stream_threshold_bytes()) return false;
  return threads <= 1 || !fits_cache(working_set_bytes, 3);
}
inline bool stream_single_pass_output(std::int64_t elements, int threads) {
  const std::int64_t bytes = elements * static_cast<std::int64_t>(sizeof(float));
  return stream_single_pass_bytes(bytes, 2 * bytes, threads);
}

// How write_elements stores, one element or one vector of W at a time, to
// cache (kStream false) or with streaming stores (kStream true, x86-64):
// - 16-bit outputs stream whole vectors (2W bytes) from an address aligned
//   to their width; the few elements before and after go with ordinary
//   stores (no streaming store is narrower than 4 bytes).
// - float outputs stream every store, the unaligned head and the tail too
//   (4-byte movnti): a line written partly by ordinary stores and partly by
//   streaming ones is flushed and re-read, which made short runs (196
//   floats, BatchNorm on 14x14 maps) 1.5x slower. The body goes in whole
//   vectors from an address aligned to their width: one 64-byte store per
//   AVX-512 vector (four 16-byte ones made the stores the bound of a
//   normalize pass: LayerNorm forward 8192x768 2.0 against 1.5 ms in a
//   one-thread loop on Zen 4); the portable path in 4-float pieces
//   (_mm_stream_ps is baseline x86-64).
// Elsewhere than x86-64 every store is an ordinary one.
template <bool kStream, typename T>
[[gnu::always_inline]] inline void store_element(T* p, float v) {
#if NORMKIT_X86_DISPATCH
  if constexpr (kStream && !kSixteenBits<T>) {
    int bits;
    std::memcpy(&bits, &v, sizeof bits);
    _mm_stream_si32(reinterpret_cast<int*>(p), bits);
    return;
  }
#endif
  store1(p, v);
}

template <bool kStream, int W, typename T>
[[gnu::always_inline]] inline void store_vector(T* p, const vfloat<W>& v) {
#if NORMKIT_X86_DISPATCH
  if constexpr (kStream && kSixteenBits<T>) {
    const vbits16<W> h = bits16<W, T>(v);
    if constexpr (W == 16) {
#if defined(__clang__)
      __builtin_nontemporal_store(h, reinterpret_cast<vbits16<W>*>(p));
#else
      asm("vmovntdq %1, %0" : "=m"(*reinterpret_cast<vbits16<W>*>(p)) : "x"(h));
#endif
    } else if constexpr (W == 8) {
      __m128i m;
      std::memcpy(&m, &h, sizeof m);
      _mm_stream_si128(reinterpret_cast<__m128i*>(p), m);
    } else {
      long long bits;
      std::memcpy(&bits, &h, sizeof bits);
      _mm_stream_si64(reinterpret_cast<long long*>(p), bits);
    }
    return;
  } else if constexpr (kStream) {
    if constexpr (W >= 8) {
      // A vmovntps of the whole ymm or zmm register. Not through the
      // intrinsics: they carry a target that this template, compiled for no
      // target of its own, cannot inline (it is only ever expanded inside a
      // wider wrapper). GCC takes it as asm, clang as its generic builtin
      // (which it would not take as asm).
#if defined(__clang__)
      __builtin_nontemporal_store(v, reinterpret_cast<vfloat<W>*>(p));
#else
      asm("vmovntps %1, %0" : "=m"(*reinterpret_cast<vfloat<W>*>(p)) : "v"(v));
#endif
    } else {
      __m128 m;
      std::memcpy(&m, &v, sizeof m);
      _mm_stream_ps(p, m);
    }
    return;
  }
#endif
  storev<W>(p, v);
}

// The alignment in bytes of the whole vectors that store_vector streams.
template <int W, typename T>
inline constexpr std::int64_t kStreamAlignment = kSixteenBits<T> ? 2 * W : W >= 8 ? 4 * W : 16;

// Where write_elements' whole vectors start in dst[0, n): 0, or, streamed,
// after the head that aligns them (at most n).
template <bool kStream, int W, typename T>
[[gnu::always_inline]] inline std::int64_t vector_start(const T* dst, std::int64_t n) {
#if NORMKIT_X86_DISPATCH
  if constexpr (kStream) {
    constexpr auto kAlign = static_cast<std::uintptr_t>(kStreamAlignment<W, T>);
    std::int64_t i = 0;
    while (i < n && (reinterpret_cast<std::uintptr_t>(dst + i) & (kAlign - 1)) != 0) ++i;
    return i;
  }
#endif
  (void)dst;
  (void)n;
  return 0;
}

// Whether rows of n elements, one after another from dst, all have their
// whole vectors start at the same element (vector_start of row 0).
template <bool kStream, int W, typename T>
[[gnu::always_inline]] inline bool rows_share_vector_start(std::int64_t n) {
#if NORMKIT_X86_DISPATCH
  if constexpr (kStream) return n * static_cast<std::int64_t>(sizeof(T)) % kStreamAlignment<W, T> == 0;
#endif
  (void)n;
  return true;
}

// A vector width as an argument: vec(kWidth<V>, i) computes V lanes.
template <int V>
inline constexpr std::integral_constant<int, V> kWidth{};

// After the whole vectors of W, what is left of dst[0, n) from i in one
// vector of each narrower width down to 4, where it fits (W / 2, then W /
// 4), so that a run shorter than W, or a tail, is not left to scalar
// stores: BatchNorm's runs of 4 floats (2x2 maps) or the 4 after 12 vectors
// of a 14x14 map on AVX-512. An aligned streamed body stays aligned for
// them (kStreamAlignment halves with the width).
template <bool kStream, int V, typename T, typename Vec>
[[gnu::always_inline]] inline void write_narrower(T* dst, std::int64_t n, std::int64_t& i, const Vec& vec) {
  if constexpr (V >= 4) {
    if (i + V <= n) {
      store_vector<kStream, V>(dst + i, vec(kWidth<V>, i));
      i += V;
    }
    write_narrower<kStream, V / 2>(dst, n, i, vec);
  }
}

// dst[i] = value(i) for i in [0, n), W at a time through vec(kWidth<W>, i)
// (and narrower widths for the tail; vec must compute, lane by lane, exactly
// what scalar(i) computes at any width) and with streaming stores when
// `stream`; dst float, Bf16 or F16 (each value rounded: vectors.hpp). Always
// inlines: it takes the target of its caller.
template <bool kStream, int W, typename T, typename Vec, typename Scalar>
[[gnu::always_inline]] inline void write_elements_to(T* dst, std::int64_t n, const Vec& vec, const Scalar& scalar) {
  const std::int64_t start = vector_start<kStream, W>(dst, n);
  std::int64_t i = 0;
  for (; i < start; ++i) store_element<kStream>(dst + i, scalar(i));
  for (; i + W <= n; i += W) store_vector<kStream, W>(dst + i, vec(kWidth<W>, i));
  write_narrower<kStream, W / 2>(dst, n, i, vec);
  for (; i < n; ++i) store_element<kStream>(dst + i, scalar(i));
}
template <int W, typename T, typename Vec, typename Scalar>
[[gnu::always_inline]] inline void write_elements(T* dst, std::int64_t n, bool stream, const Vec& vec,
                                                  const Scalar& scalar) {
  if (stream) write_elements_to<true, W>(dst, n, vec, scalar);
  else write_elements_to<false, W>(dst, n, vec, scalar);
}

// Makes this thread's streaming stores visible before the parallel region ends.
inline void stream_fence([[maybe_unused]] bool stream) {
#if NORMKIT_X86_DISPATCH
  if (stream) _mm_sfence();
#endif
}

}  // namespace normkit::kernels
