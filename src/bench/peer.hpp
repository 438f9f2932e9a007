// Peers (PyTorch, oneDNN) are shared-library plugins that `normkit bench`
// loads at run time when they were built: the library and the CLI never link
// them. A plugin exports
//
//   extern "C" normkit::bench::Peer* normkit_bench_peer();
//
// and prepares, for a case it supports, a closure that runs its kernel once,
// on its own copy of the case's input or, where its API takes the caller's
// memory, on the case's own buffers (the same pages normkit reads and
// writes, so that where a tensor lies in memory favours neither). The interface holds no std::string: a
// plugin built against a PyTorch wheel may use the other libstdc++ string ABI.
#pragma once

#include <cstdint>
#include <functional>

namespace normkit::bench {

struct PeerCase {
  const char* op = "";  // "bn_train_fwd", "bn_eval_fwd", "bn_train_fwd_bwd", "ln_fwd",
                        // "ln_fwd_bwd", "rms_fwd", "rms_fwd_bwd", "gn_fwd", "in_fwd",
                        // "add_ln_fwd", "add_rms_fwd" (and their "_fwd_bwd")
  const std::int64_t* shape = nullptr;  // logical, e.g. (N, C, H, W) or (rows, cols)
  int rank = 0;
  bool channels_last = false;
  std::int64_t groups = 1;         // GroupNorm
  // The data tensors are in `dtype` ("float32", "bfloat16" or "float16"): a
  // peer declines a dtype it has no kernel for.
  const char* dtype = "float32";
  const void* x = nullptr;         // the input in the case's memory layout
  const void* dy = nullptr;        // the output gradient, same layout
  // normkit's output buffers of the case, same layout: a peer may write its
  // y and dx there (nothing reads them back). dx is null without a backward.
  void* y = nullptr;
  void* dx = nullptr;
  // The fused add + norm ops' residual (x's shape), and the gradient of the
  // new residual stream in their backward; null for the other ops.
  const void* residual = nullptr;
  const void* dresidual_out = nullptr;
};

class Peer {
 public:
  virtual ~Peer() = default;
  virtual const char* name() const = 0;  // "torch-1.13.0", "onednn-2.6"
  virtual void set_num_threads(int n) = 0;
  // A closure running the kernel once, or an empty function when unsupported.
  virtual std::function<void()> prepare(const PeerCase& c) = 0;
};

using PeerFactory = Peer* (*)();

}  // namespace normkit::bench
