// Loops of the nn layers over independent elements, on the library's threads
// (kernels/parallel.hpp decides how many for the size). Each element is
// computed by exactly one thread from its own inputs, so results do not
// depend on the thread count.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/parallel.hpp"
#include "layer_checks.hpp"
#include "normkit/error.hpp"

namespace normkit::nn {

// body(i) for i in [0, items), where each item touches about
// elements_per_item elements (the thread count follows the elements).
template <typename Body>
void parallel_for_items(std::int64_t items, std::int64_t elements_per_item, Body body) {
#pragma omp parallel for num_threads(kernels::threads_for(items * elements_per_item)) schedule(static)
  for (std::int64_t i = 0; i < items; ++i) body(i);
}

// body(i) for i in [0, n), element by element: each thread takes one
// contiguous range and runs a plain loop over it with its own copy of the
// body, whose captured pointers then live in registers. (Called through the
// OpenMP region's shared closure, a store through a byte pointer, such as
// ReLU's mask, made the compiler reload every pointer after it: a scalar,
// branching loop that took 14% of a VGG step. Now it vectorizes.)
template <typename Body>
void parallel_for_elements(std::int64_t n, Body body) {
  const int threads = kernels::threads_for(n);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int t = 0; t < threads; ++t) {
    Body local = body;
    const std::int64_t end = n * (t + 1) / threads;
    for (std::int64_t i = n * t / threads; i < end; ++i) local(i);
  }
}

// a + b, element by element (a residual connection's sum); an Error names
// `what` ("ResidualBlock: the branches'") when the shapes differ.
inline Tensor sum_of(const TensorView& a, const TensorView& b, const std::string& what) {
  NORMKIT_CHECK(a.shape() == b.shape(), what, " shapes ", shape_string(a.shape()), " and ", shape_string(b.shape()),
                " differ");
  Tensor out = Tensor::copy_of(a);
  Tensor holder;
  float* sum = out.data<float>();
  const float* other = contiguous_values(b, holder);
  parallel_for_elements(out.numel(), [=](std::int64_t i) { sum[i] += other[i]; });
  return out;
}

}  // namespace normkit::nn
