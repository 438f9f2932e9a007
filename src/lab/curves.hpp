// Training runs the lab measures between steps: a model trained for a fixed
// number of steps, evaluated every few steps on a fixed slice of the test
// set, stopped early when it diverges.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lab.hpp"
#include "normkit/nn/sequential.hpp"
#include "normkit/train/models.hpp"
#include "normkit/train/trainer.hpp"

namespace normkit::lab {

struct RunSpec {
  std::string label;  // for progress lines and tables
  std::string model, norm;
  train::ModelOptions model_options;
  train::TrainOptions train;  // batch, lr, momentum, schedule, micro-batches, seed, limit
  std::int64_t steps = 0;       // steps to take (epochs = as many as they need)
  std::int64_t eval_every = 0;  // evaluate every this many steps (and after the last)
  std::int64_t test_images = 0;
  // Called at every evaluation point (after the evaluation), with the step.
  std::function<void(nn::Sequential&, std::int64_t)> observe;
  // Called once on the new network, before training (to change its layers).
  std::function<void(nn::Sequential&)> prepare;
  // Data-parallel over the ranks of ctx.data_parallel: each rank trains on
  // its slice of every batch, with per-rank or Synchronized BN.
  enum class Parallel { none, per_rank_bn, sync_bn } parallel = Parallel::none;
};

struct CurvePoint {
  std::int64_t step;
  double train_loss;  // mean over the steps since the previous point
  double test_accuracy;
};

struct Curve {
  std::vector<CurvePoint> points;
  // A step's loss was not finite or above kDivergedLoss: the run stopped there.
  std::int64_t diverged_at = -1;
  double seconds = 0;
  std::unique_ptr<nn::Sequential> net;
  std::unique_ptr<train::BatchShare> share;  // the data-parallel run's (its communication times)

  bool diverged() const { return diverged_at >= 0; }
  // Stable: it did not diverge and ends at or above kStableAccuracy.
  bool stable() const;
  double final_accuracy() const { return points.empty() ? 0.0 : points.back().test_accuracy; }
  // The first evaluated step with test accuracy >= target, or -1.
  std::int64_t steps_to(double target) const;
};

// A loss this far above chance (ln 10 = 2.3) means the weights blew up.
inline constexpr double kDivergedLoss = 100.0;
// A run that ends below this test accuracy (chance: 0.1) did not really learn.
inline constexpr double kStableAccuracy = 0.5;

Curve train_curve(const Context& ctx, const RunSpec& spec);

// The claim "learning rate `a` is higher than `b`" as a number whose sign
// says it: log10(a / b). The rates are the largest stable ones on a
// log-spaced `grid` (ascending), so the log counts each grid step alike (a
// plain difference on 0.03, 0.1, 0.3 makes 0.3 against 0.1 weigh three
// times 0.1 against 0.03, and its interval over seeds wide). A rate of 0 (no
// stable rate on the grid) counts as one grid step below the smallest.
double lr_log_ratio(double a, double b, const std::vector<double>& grid);

// How far `b`'s test accuracy is above `a`'s on average over the evaluation
// points both reached (the area between their curves per point; NaN when
// they share none).
double mean_accuracy_gap(const Curve& a, const Curve& b);

// The lab's deep plain network (train/models.cpp): VGG-8, 3x3 convolutions of
// 32, 32, 32, 64, 64, 64, 128 and 128 channels with the norm after each.
inline const train::ModelOptions kVgg8{.depth = 8};
inline constexpr const char* kVgg8Text =
    "VGG-8 (3x3 convolutions of 32, 32, 32, 64, 64, 64, 128 and 128 channels, each followed by the norm and a "
    "ReLU, no residuals, 2x2 max pooling after the third and sixth, then 128 hidden units)";

// The first `count` test images and labels (a copy).
io::LabelledImages first_images(const io::LabelledImages& data, std::int64_t count);

}  // namespace normkit::lab
