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

// Runs body() on `threads` threads: in an OpenMP parallel region, or on the
// calling thread alone when one thread is enough. (A region of one thread
// still sets up a team: about 0.3 us, a sixth of a decode-sized LayerNorm.)
// The body's `#pragma omp for` loops share their iterations among the
// region's threads, or run them all on the calling thread.
template <typename Body>
void parallel_region(int threads, const Body& body) {
  if (threads <= 1) {
    body();
    return;
  }
#pragma omp parallel num_threads(threads)
  body();
}

}  // namespace normkit::kernels
