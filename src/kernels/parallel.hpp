// How many threads a parallel region over a given amount of work uses.
// Waking a thread costs microseconds, so a small tensor runs on fewer
// threads (each gets at least kGrainElements elements, the grain ATen uses
// too). Results never depend on the thread count (docs/numerics.md), so
// this changes speed only.
#pragma once

#include <algorithm>
#include <cstdint>

#include "normkit/threading.hpp"

namespace normkit::kernels {

inline constexpr std::int64_t kGrainElements = 32768;

inline int threads_for(std::int64_t elements) {
  const std::int64_t wanted = (elements + kGrainElements - 1) / kGrainElements;
  return static_cast<int>(std::clamp<std::int64_t>(wanted, 1, normkit::num_threads()));
}

}  // namespace normkit::kernels
