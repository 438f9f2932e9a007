#include "normkit/threading.hpp"

#include <pthread.h>
#include <omp.h>

#include <atomic>

#include "normkit/error.hpp"

namespace normkit {
namespace {

// 0 until first asked: then OpenMP's default (OMP_NUM_THREADS or the cores).
std::atomic<int> thread_count{0};
std::atomic<bool> forked_child{false};

// A child forked from a process whose OpenMP threads were running would wait
// for them forever in its first parallel region (libgomp's pool is not
// inherited). As PyTorch does, the child runs on its calling thread only.
void one_thread_after_fork() {
  forked_child.store(true);
  thread_count.store(1);
  omp_set_num_threads(1);
}

[[maybe_unused]] const bool fork_handler_registered = [] {
  ::pthread_atfork(nullptr, nullptr, one_thread_after_fork);
  return true;
}();

}  // namespace

int num_threads() {
  int n = thread_count.load(std::memory_order_relaxed);
  if (n == 0) {
    int unset = 0;
    thread_count.compare_exchange_strong(unset, omp_get_max_threads());
    n = thread_count.load();
  }
  return n;
}

void set_num_threads(int n) {
  NORMKIT_CHECK(n >= 1, "set_num_threads: n: expected >= 1, got ", n);
  // More would wait forever for OpenMP threads that the fork did not copy.
  NORMKIT_CHECK(n == 1 || !forked_child.load(), "set_num_threads: n: a process made by fork() runs on 1 thread "
                "(OpenMP's threads do not survive a fork; start workers with 'spawn'), got ", n);
  thread_count.store(n);
  // The calling thread's own OpenMP count too, for the libraries normkit
  // calls (oneDNN) and for code that asks OpenMP.
  omp_set_num_threads(n);
}

}  // namespace normkit
