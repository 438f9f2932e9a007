#include "normkit/threading.hpp"

#include "../kernels/simd.hpp"

#include <omp.h>

#include "normkit/error.hpp"

namespace normkit {

int num_threads() { return omp_get_max_threads(); }

void set_num_threads(int n) {
  NORMKIT_CHECK(n >= 1, "set_num_threads: n: expected >= 1, got ", n);
  omp_set_num_threads(n);
}

const char* simd_path() { return kernels::isa_name(kernels::active_isa()); }

}  // namespace normkit
