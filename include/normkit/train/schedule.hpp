// Learning-rate schedules, as PyTorch's, computed from the global step so
// that a resumed run follows the same curve:
// - constant;
// - step: lr * gamma^floor(epoch / step_epochs) (StepLR stepped per epoch);
// - cosine: eta_min + (lr - eta_min) * (1 + cos(pi * t / T)) / 2 over the
//   T steps after the warm-up (CosineAnnealingLR stepped per iteration);
// and a linear warm-up before either: lr * (t + 1) / warmup_steps for the
// first warmup_steps steps (Goyal et al. 2017).
#pragma once

#include <cstdint>
#include <string>

namespace normkit::train {

struct LrSchedule {
  enum class Kind { constant, step, cosine };
  Kind kind = Kind::constant;
  std::int64_t step_epochs = 10;  // step: epochs between decays
  double gamma = 0.1;             // step: the decay factor
  double eta_min = 0;             // cosine: the final rate
  std::int64_t warmup_steps = 0;

  // The rate of global step `t` (0-based) of a run of `total_steps` steps,
  // `steps_per_epoch` each epoch, starting from `base`.
  double at(std::int64_t t, std::int64_t steps_per_epoch, std::int64_t total_steps, double base) const;
};

// "constant", "step" or "cosine"; an Error naming --schedule otherwise.
LrSchedule::Kind schedule_kind(const std::string& name);

}  // namespace normkit::train
