#include "curves.hpp"

#include <chrono>
#include <algorithm>
#include <cmath>
#include <numeric>

#include "normkit/error.hpp"

namespace normkit::lab {

std::int64_t Context::train_images(std::int64_t wanted) const {
  const std::int64_t cap = options.limit > 0 ? std::min(options.limit, data.train.labels.numel()) : data.train.labels.numel();
  return std::min(wanted, cap);
}

std::int64_t Context::test_images(std::int64_t wanted) const {
  const std::int64_t cap =
      options.test_limit > 0 ? std::min(options.test_limit, data.test.labels.numel()) : data.test.labels.numel();
  return std::min(wanted, cap);
}

bool Curve::stable() const { return !diverged() && final_accuracy() >= kStableAccuracy; }

double lr_log_ratio(double a, double b, const std::vector<double>& grid) {
  if (grid.empty() || grid.front() <= 0) throw Error("lr_log_ratio: grid: expected ascending positive learning rates");
  const double step = grid.size() > 1 ? grid[1] / grid[0] : std::sqrt(10.0);
  const double none = grid.front() / step;
  return std::log10(std::max(a, none) / std::max(b, none));
}

std::int64_t Curve::steps_to(double target) const {
  for (const CurvePoint& p : points)
    if (p.test_accuracy >= target) return p.step;
  return -1;
}

double mean_accuracy_gap(const Curve& a, const Curve& b) {
  const std::size_t points = std::min(a.points.size(), b.points.size());
  if (points == 0) return NAN;
  double gap = 0;
  for (std::size_t i = 0; i < points; ++i) gap += b.points[i].test_accuracy - a.points[i].test_accuracy;
  return gap / static_cast<double>(points);
}

io::LabelledImages first_images(const io::LabelledImages& data, std::int64_t count) {
  NORMKIT_CHECK(count >= 1 && count <= data.labels.numel(), "first_images: count: expected 1 to ",
                data.labels.numel(), ", got ", count);
  std::vector<std::int64_t> indices(static_cast<std::size_t>(count));
  std::iota(indices.begin(), indices.end(), 0);
  auto [images, labels] = train::gather(data, indices.data(), count);
  return {std::move(images), std::move(labels)};
}

Curve train_curve(const Context& ctx, const RunSpec& spec) {
  NORMKIT_CHECK(spec.steps >= 1 && spec.eval_every >= 1, spec.label, ": steps and eval_every: expected >= 1");
  const auto start = std::chrono::steady_clock::now();
  nn::Generator init(spec.train.seed);
  Curve curve;
  curve.net = train::make_model(spec.model, spec.norm, init, spec.model_options);
  if (spec.prepare) spec.prepare(*curve.net);
  const io::LabelledImages test = first_images(ctx.data.test, spec.test_images);
  train::TrainOptions options = spec.train;
  if (spec.parallel != RunSpec::Parallel::none) {
    NORMKIT_CHECK(ctx.data_parallel != nullptr, spec.label, ": data-parallel runs need the ranks of mpirun");
    curve.share = ctx.data_parallel(*curve.net, spec.parallel == RunSpec::Parallel::sync_bn);
    options.share = curve.share.get();
  }
  const std::int64_t steps_per_epoch =
      std::max<std::int64_t>(1, train::training_images(ctx.data.train, options.limit) / options.batch_size);
  options.epochs = (spec.steps + steps_per_epoch - 1) / steps_per_epoch;  // the schedule spans the run
  train::Trainer trainer(*curve.net, ctx.data.train, options);
  double loss_sum = 0;
  std::int64_t since = 0;
  for (std::int64_t step = 1; step <= spec.steps; ++step) {
    const train::StepReport r = trainer.step();
    if (!std::isfinite(r.loss) || r.loss > kDivergedLoss) {
      curve.diverged_at = step;
      break;
    }
    loss_sum += r.loss;
    ++since;
    if (step % spec.eval_every == 0 || step == spec.steps) {
      curve.points.push_back({step, loss_sum / static_cast<double>(since), train::evaluate(*curve.net, test, 1000, curve.share.get()).accuracy});
      loss_sum = 0;
      since = 0;
      if (spec.observe) spec.observe(*curve.net, step);
    }
  }
  curve.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (ctx.progress) {
    char line[256];
    std::snprintf(line, sizeof line, "%s: %s, %.1f s", spec.label.c_str(),
                  curve.diverged() ? ("diverged at step " + std::to_string(curve.diverged_at)).c_str()
                                   : ("test accuracy " + std::to_string(curve.final_accuracy()).substr(0, 6)).c_str(),
                  curve.seconds);
    ctx.progress(line);
  }
  return curve;
}

}  // namespace normkit::lab
