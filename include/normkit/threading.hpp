// Threading is OpenMP. Results never depend on the thread count: every
// reduction is split into blocks fixed by element index and merged in a fixed
// order (docs/numerics.md).
#pragma once

namespace normkit {

int num_threads();              // threads a parallel kernel will use
void set_num_threads(int n);    // n >= 1

}  // namespace normkit
