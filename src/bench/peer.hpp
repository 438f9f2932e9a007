// Peers (PyTorch, oneDNN) are shared-library plugins that `normkit bench`
// loads at run time when they were built: the library and the CLI never link
// them. A plugin exports
//
//   extern "C" normkit::bench::Peer* normkit_bench_peer();
//
// and prepares, for a case it supports, a closure that runs its kernel once on
// its own copy of the case's input.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace normkit::bench {

struct PeerCase {
  std::string op;  // "bn_train_fwd", "bn_eval_fwd", "bn_train_fwd_bwd", "ln_fwd",
                   // "ln_fwd_bwd", "rms_fwd", "rms_fwd_bwd", "gn_fwd", "in_fwd"
  std::vector<std::int64_t> shape;  // logical, e.g. (N, C, H, W) or (rows, cols)
  bool channels_last = false;
  std::int64_t groups = 1;         // GroupNorm
  const float* x = nullptr;        // the input in the case's memory layout
  const float* dy = nullptr;       // the output gradient, same layout
};

class Peer {
 public:
  virtual ~Peer() = default;
  virtual std::string name() const = 0;      // "torch-1.13", "onednn-2.6"
  virtual void set_num_threads(int n) = 0;
  // A closure running the kernel once, or an empty function when unsupported.
  virtual std::function<void()> prepare(const PeerCase& c) = 0;
};

using PeerFactory = Peer* (*)();

}  // namespace normkit::bench
