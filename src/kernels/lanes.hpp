// Float accumulation in a fixed number of lanes: element i always goes to lane
// i % kLanes and the lanes are summed in a fixed order, so the result is the
// same bits on every run and on every instruction set.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "vectors.hpp"

namespace normkit::kernels {

inline constexpr int kLanes = 16;

// A long row of the row norms (LayerNorm, RMSNorm and their fused forms:
// a run of at least kWideRun elements) sums its statistics in two sets of
// the 16 lanes: element i goes to lane i % 16 of set (i / 16) % 2, and the
// two sets are added lane by lane in float (set 0 + set 1) before the
// lanes' total. Two running sums per lane make two dependency chains where
// a row alone had one on AVX-512 (one vector per sum), waiting on the adds'
// latency: LayerNorm forward 1x4096, 1 thread, Zen 5, 1.11-1.14x, RMSNorm
// 1.07-1.13x (docs/benchmarks.md, "Long rows in two lane sets"). Shorter
// rows keep one set (the threshold is not tuned: 1x1024 gained 1.05x), and
// so do the other reductions (BatchNorm, GroupNorm, InstanceNorm: the lab's
// results keep their bits) and the backward's sums (level in two sets). The rule depends on the op and the run's
// length only: the same bits on every path and thread count.
enum class LaneRule {
  one_set,     // every run in the 16 lanes (the engine's reductions)
  long_rows,   // runs of kWideRun or more in two sets (the row norms)
};
inline constexpr std::int64_t kWideRun = 1024;
inline constexpr int lane_sets(LaneRule rule, std::int64_t n) {
  return rule == LaneRule::long_rows && n >= kWideRun ? 2 : 1;
}

// Asks for the element `distance` elements after p (data the caller reads
// next) without reading it: no fault, whatever the address, and no effect
// on any result.
template <typename T>
[[gnu::always_inline]] inline void prefetch_ahead(const T* p, std::int64_t distance) {
  __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(p) +
                                                  static_cast<std::uintptr_t>(distance) * sizeof(T)));
}

// The 16 lanes as kLanes / W vectors of W: lane l is element l % W of
// vector l / W, so the lanes are the same for every W.
template <int W>
struct LaneSet {
  static constexpr int kVectors = kLanes / W;
  vfloat<W> v[kVectors] = {};

  template <typename T>
  [[gnu::always_inline]] static LaneSet load(const T* p) {
    LaneSet s;
#pragma GCC unroll 4
    for (int k = 0; k < kVectors; ++k) s.v[k] = loadv<W>(p + k * W);
    return s;
  }
  [[gnu::always_inline]] void store(float* p) const {
#pragma GCC unroll 4
    for (int k = 0; k < kVectors; ++k) storev<W>(p + k * W, v[k]);
  }
  // The first n < 16 elements at p, zeros after (a run's tail). AVX-512 and
  // AVX2 load them with a masked load (no element after them is read, nor
  // can fault); the portable path copies them into a buffer and loads that,
  // which stalls on store forwarding. (BatchNorm forward 64x256x14x14 NCHW,
  // 1 thread on Zen 4: 1.48 to 1.41 ms with AVX-512's.) Through asm, as
  // stream_store.hpp's stores: this template has no target of its own
  // (GCC's asm only: vectors.hpp's NORMKIT_VECTOR_ASM).
  [[gnu::always_inline]] static LaneSet load_tail(const float* p, std::int64_t n) {
#if NORMKIT_VECTOR_ASM
    if constexpr (W == 16) {
      LaneSet s;
      const auto mask = static_cast<unsigned short>((1u << n) - 1);
      asm("vmovups %1, %0%{%2%}%{z%}" : "=v"(s.v[0]) : "m"(*reinterpret_cast<const vfloat<16>*>(p)), "Yk"(mask));
      return s;
    }
    if constexpr (W == 8) {
      typedef int i8 __attribute__((vector_size(32)));
      const i8 lane = {0, 1, 2, 3, 4, 5, 6, 7};
      LaneSet s;
      for (int k = 0; k < kVectors; ++k) {
        const i8 mask = lane + 8 * k < static_cast<int>(n);
        asm("vmaskmovps %1, %2, %0" : "=x"(s.v[k]) : "m"(*reinterpret_cast<const vfloat<8>*>(p + 8 * k)), "x"(mask));
      }
      return s;
    }
#endif
    return load_tail_copied(p, n);
  }
  // A 16-bit tail, widened into a buffer.
  [[gnu::always_inline]] static LaneSet load_tail(const Bf16* p, std::int64_t n) { return load_tail_copied(p, n); }
  [[gnu::always_inline]] static LaneSet load_tail(const F16* p, std::int64_t n) { return load_tail_copied(p, n); }
  template <typename T>
  [[gnu::always_inline]] static LaneSet load_tail_copied(const T* p, std::int64_t n) {
    float t[kLanes];  // a loop of fixed length, not memcpy: a call per run cost short runs a seventh of their time
#pragma GCC unroll 16
    for (int l = 0; l < kLanes; ++l) t[l] = l < n ? load1(p + l) : 0.0f;
    return load(t);
  }
  // The sum of the 16 lanes, in double, pairwise in a fixed order: lane l +
  // lane l + 8, then the halves of those 8, and so on to one. In vector
  // registers: through memory and one double at a time, the three totals of
  // each 196-float run made BatchNorm forward 64x256x14x14 NCHW 1.55 rather
  // than 1.48 ms (1 thread, Zen 4).
  [[gnu::always_inline]] double total() const {
    typedef double d4 __attribute__((vector_size(32)));
    typedef double d2 __attribute__((vector_size(16)));
    const Doubles8 t8 = first_level();
    const d4 t4 = __builtin_shufflevector(t8, t8, 0, 1, 2, 3) + __builtin_shufflevector(t8, t8, 4, 5, 6, 7);
    const d2 t2 = __builtin_shufflevector(t4, t4, 0, 1) + __builtin_shufflevector(t4, t4, 2, 3);
    return t2[0] + t2[1];
  }
  // The first level of total()'s tree, in double: lane l + lane l + 8.
  typedef double Doubles8 __attribute__((vector_size(64)));
  [[gnu::always_inline]] Doubles8 first_level() const {
    typedef float f8 __attribute__((vector_size(32)));
    f8 low, high;
    if constexpr (W == 16) {
      low = __builtin_shufflevector(v[0], v[0], 0, 1, 2, 3, 4, 5, 6, 7);
      high = __builtin_shufflevector(v[0], v[0], 8, 9, 10, 11, 12, 13, 14, 15);
    } else if constexpr (W == 8) {
      low = v[0], high = v[1];
    } else {
      low = __builtin_shufflevector(v[0], v[1], 0, 1, 2, 3, 4, 5, 6, 7);
      high = __builtin_shufflevector(v[2], v[3], 0, 1, 2, 3, 4, 5, 6, 7);
    }
    return __builtin_convertvector(low, Doubles8) + __builtin_convertvector(high, Doubles8);
  }
  // 1 in the first n lanes, 0 after: multiplying a tail's terms by it keeps
  // the missing lanes' accumulators unchanged (adding 0 is exact).
  // Built by comparing lane numbers with n in vector registers: written a
  // float at a time and loaded, it stalled on store forwarding (BatchNorm
  // forward 64x256x14x14 NCHW, 1 thread, Zen 4: 1.02x on AVX-512, 1.03x
  // on AVX2).
  [[gnu::always_inline]] static LaneSet tail_mask(std::int64_t n) {
    typedef int vint __attribute__((vector_size(4 * W)));
    static constexpr int kLaneNumbers[kLanes] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    constexpr int kOneBits = 0x3f800000;  // 1.0f
    LaneSet s;
#pragma GCC unroll 4
    for (int k = 0; k < kVectors; ++k) {
      vint lane;
      std::memcpy(&lane, kLaneNumbers + k * W, sizeof lane);
      const vint bits = (lane < static_cast<int>(n)) & kOneBits;
      std::memcpy(&s.v[k], &bits, sizeof bits);
    }
    return s;
  }
};

// out[k] = sets[k].total(), bit for bit. Four or eight lane sets on
// AVX-512 (W = 16) go at once: the same pairs added at every level of the
// tree, the trees side by side in vectors of doubles after the first level,
// where each alone ends in narrowing shuffles and scalar adds. Zen 5,
// against one at a time, alternating in one process: BatchNorm NCHW
// backward 32x512x2x2 1.05-1.08x, 32x256x4x4 1.05-1.07x, 32x128x8x8
// 1.03-1.04x, 64x256x14x14 level; training forward 1.00-1.03x; LayerNorm
// forward level (0.98-1.03x). The narrower paths take them one at a time:
// there the vectors of eight doubles are pairs or quartets of registers
// (AVX2 training forward 0.96-0.99x, SSE2 0.77x).
//
// The sets come by value, and a caller copies its running sums into them
// in unrolled loops: GCC 12 keeps a sum whose address is taken, or that a
// loop it does not unroll indexes, on the stack for its whole life, so that
// every add of the loop before goes through a store and a load (LayerNorm
// forward (2048, 256), 1 thread, Zen 5: 107-119 us so, 96-100 us without).
template <int W, std::size_t N>
[[gnu::always_inline]] inline void lane_totals(const std::array<LaneSet<W>, N> sets, double (&out)[N]) {
  if constexpr (W == 16 && (N == 4 || N == 8)) {
    using d8 = typename LaneSet<W>::Doubles8;
    d8 t8[N];
    for (std::size_t k = 0; k < N; ++k) t8[k] = sets[k].first_level();
    d8 t4[N / 2];  // sets 2p and 2p + 1: t8[i] + t8[i + 4], i < 4
    for (std::size_t p = 0; p < N / 2; ++p)
      t4[p] = __builtin_shufflevector(t8[2 * p], t8[2 * p + 1], 0, 1, 2, 3, 8, 9, 10, 11) +
              __builtin_shufflevector(t8[2 * p], t8[2 * p + 1], 4, 5, 6, 7, 12, 13, 14, 15);
    d8 t2[N / 4];  // sets 4q to 4q + 3: t4[i] + t4[i + 2], i < 2
    for (std::size_t q = 0; q < N / 4; ++q)
      t2[q] = __builtin_shufflevector(t4[2 * q], t4[2 * q + 1], 0, 1, 4, 5, 8, 9, 12, 13) +
              __builtin_shufflevector(t4[2 * q], t4[2 * q + 1], 2, 3, 6, 7, 10, 11, 14, 15);
    // t2[0] + t2[1] of each set, in set order (with N = 4 the upper four
    // lanes repeat the lower).
    const d8 last = t2[N / 4 - 1];
    const d8 t = __builtin_shufflevector(t2[0], last, 0, 2, 4, 6, 8, 10, 12, 14) +
                 __builtin_shufflevector(t2[0], last, 1, 3, 5, 7, 9, 11, 13, 15);
    for (std::size_t k = 0; k < N; ++k) out[k] = t[k];
  } else {
    for (std::size_t k = 0; k < N; ++k) out[k] = sets[k].total();
  }
}

// A row's centre as a float pair (hi, lo): x - mean is (x - hi) - lo. When
// both are +0 (RMSNorm, which has no centre) that is x, bit for bit (x - +0
// is x for every x, -0 and NaN included), and the kernels run a version
// without the two subtractions: has_centre says which, centred<kCentred>
// applies the centre or not.
[[gnu::always_inline]] inline bool has_centre(float hi, float lo) {
  return std::bit_cast<std::uint32_t>(hi) != 0 || std::bit_cast<std::uint32_t>(lo) != 0;
}
template <bool kCentred, typename T>
[[gnu::always_inline]] inline T centred(const T& x, float hi, float lo) {
  if constexpr (kCentred) return (x - hi) - lo;
  return x;
}

}  // namespace normkit::kernels
