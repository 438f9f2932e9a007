#include "normkit/train/schedule.hpp"

#include <cmath>
#include <numbers>

#include "normkit/error.hpp"

namespace normkit::train {

double LrSchedule::at(std::int64_t t, std::int64_t steps_per_epoch, std::int64_t total_steps, double base) const {
  if (warmup_steps > 0 && t < warmup_steps) return base * static_cast<double>(t + 1) / static_cast<double>(warmup_steps);
  switch (kind) {
    case Kind::constant:
      return base;
    case Kind::step: {
      const std::int64_t epoch = steps_per_epoch > 0 ? t / steps_per_epoch : 0;
      return base * std::pow(gamma, static_cast<double>(epoch / std::max<std::int64_t>(step_epochs, 1)));
    }
    case Kind::cosine: {
      const std::int64_t span = std::max<std::int64_t>(total_steps - warmup_steps, 1);
      const double progress = static_cast<double>(t - warmup_steps) / static_cast<double>(span);
      return eta_min + (base - eta_min) * (1 + std::cos(std::numbers::pi * progress)) / 2;
    }
  }
  return base;
}

LrSchedule::Kind schedule_kind(const std::string& name) {
  if (name == "constant") return LrSchedule::Kind::constant;
  if (name == "step") return LrSchedule::Kind::step;
  if (name == "cosine") return LrSchedule::Kind::cosine;
  detail::throw_error("schedule: expected constant, step or cosine, got '", name, "'");
}

}  // namespace normkit::train
