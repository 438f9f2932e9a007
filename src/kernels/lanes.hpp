// Float accumulation in a fixed number of lanes: element i always goes to lane
// i % kLanes and the lanes are summed in a fixed order, so the result is the
// same bits on every run, while the compiler vectorises the lane loop.
#pragma once

#include <cstdint>

namespace normkit::kernels {

inline constexpr int kLanes = 16;

// Calls body(i, lane) for i in [0, n), lane = i % kLanes, in an order that
// the compiler can vectorise.
template <typename Body>
inline void for_lanes(std::int64_t n, const Body& body) {
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int lane = 0; lane < kLanes; ++lane) body(i + lane, lane);
  for (int lane = 0; i < n; ++i, ++lane) body(i, lane);
}

struct Lanes {
  float v[kLanes] = {};

  template <typename Term>
  void accumulate(std::int64_t n, const Term& term) {
    for_lanes(n, [&](std::int64_t i, int lane) { v[lane] += term(i); });
  }
  // Pairwise sum of the lanes in double.
  double total() const {
    double t[kLanes];
    for (int i = 0; i < kLanes; ++i) t[i] = v[i];
    for (int width = kLanes / 2; width >= 1; width /= 2)
      for (int i = 0; i < width; ++i) t[i] += t[i + width];
    return t[0];
  }
};

}  // namespace normkit::kernels
