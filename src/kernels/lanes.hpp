// Float accumulation in a fixed number of lanes: element i always goes to lane
// i % kLanes and the lanes are summed in a fixed order, so the result is the
// same bits on every run and on every instruction set.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace normkit::kernels {

inline constexpr int kLanes = 16;

// Asks for the float `distance` elements after p (data the caller reads
// next) without reading it: no fault, whatever the address, and no effect
// on any result.
[[gnu::always_inline]] inline void prefetch_ahead(const float* p, std::int64_t distance) {
  __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(p) +
                                                  static_cast<std::uintptr_t>(distance) * sizeof(float)));
}

// W-wide float vectors (W = 4, 8 or 16) for kernels written once for every
// instruction set (core/simd_dispatch.hpp). Their helpers always inline, so that they are
// generated with the target of the wrapper that uses them.
// (Through a struct: GCC drops vector_size on an alias template.)
template <int W>
struct FloatVector {
  typedef float type __attribute__((vector_size(4 * W)));
};
template <int W>
using vfloat = typename FloatVector<W>::type;
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

// The 16 lanes as kLanes / W vectors of W: lane l is element l % W of
// vector l / W, so the lanes are the same for every W.
template <int W>
struct LaneSet {
  static constexpr int kVectors = kLanes / W;
  vfloat<W> v[kVectors] = {};

  [[gnu::always_inline]] static LaneSet load(const float* p) {
    LaneSet s;
#pragma GCC unroll 4
    for (int k = 0; k < kVectors; ++k) s.v[k] = loadv<W>(p + k * W);
    return s;
  }
  [[gnu::always_inline]] void store(float* p) const {
#pragma GCC unroll 4
    for (int k = 0; k < kVectors; ++k) storev<W>(p + k * W, v[k]);
  }
  // The first n < 16 elements at p, zeros after (a run's tail). (A loop of
  // fixed length, not memcpy: a call per run cost short runs a seventh of
  // their time.)
  [[gnu::always_inline]] static LaneSet load_tail(const float* p, std::int64_t n) {
    float t[kLanes];
#pragma GCC unroll 16
    for (int l = 0; l < kLanes; ++l) t[l] = l < n ? p[l] : 0.0f;
    return load(t);
  }
  // 1 in the first n lanes, 0 after: multiplying a tail's terms by it keeps
  // the missing lanes' accumulators unchanged (adding 0 is exact).
  [[gnu::always_inline]] static LaneSet tail_mask(std::int64_t n) {
    float t[kLanes] = {};
    for (std::int64_t l = 0; l < n; ++l) t[l] = 1.0f;
    return load(t);
  }
};

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

// Pairwise sum of kLanes float partial sums, in double, in a fixed order.
inline double lane_total(const float* v) {
  double t[kLanes];
  for (int i = 0; i < kLanes; ++i) t[i] = v[i];
  for (int width = kLanes / 2; width >= 1; width /= 2)
    for (int i = 0; i < width; ++i) t[i] += t[i + width];
  return t[0];
}

}  // namespace normkit::kernels
