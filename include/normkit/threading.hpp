// Threading is OpenMP. Results never depend on the thread count: every
// reduction is split into blocks fixed by element index and merged in a fixed
// order (docs/numerics.md).
#pragma once

namespace normkit {

// The threads a parallel kernel uses: one count for the whole process (every
// thread, including threads started later), OpenMP's default until set. A
// child process made by fork() starts with 1, as PyTorch's do: OpenMP's
// threads do not survive a fork (docs/threads.md).
int num_threads();
void set_num_threads(int n);    // n >= 1

}  // namespace normkit
