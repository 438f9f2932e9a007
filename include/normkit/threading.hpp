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

// The instruction set the kernels run on: "portable" (SSE2), "avx2" or
// "avx512": the widest this CPU has, or the one named by the environment
// variable NORMKIT_ISA when the CPU has it. Chosen once per process; every
// path gives the same bits (docs/numerics.md).
const char* simd_path();

}  // namespace normkit
