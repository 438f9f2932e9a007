// Whether a layer's forward keeps what its backward needs, as PyTorch's
// torch.no_grad(): on by default; a NoGrad object turns it off on its thread
// until it goes out of scope. Evaluation and inference, which never call
// backward, then skip the copies of the inputs (a BatchNorm2d forward copies
// its whole input) and release what earlier forwards kept. The outputs are
// the same bits either way. A backward whose layer's last forward ran
// without gradients is refused, as one before any forward.
#pragma once

namespace normkit::nn {

bool grad_enabled();

// What a refused backward's message adds: why its layer may hold nothing.
inline constexpr const char* kNoGradHint = " (a forward under nn::NoGrad keeps nothing)";

class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

}  // namespace normkit::nn
