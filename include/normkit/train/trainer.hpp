// The training loop: seeded shuffling, mini-batch SGD on softmax
// cross-entropy, evaluation in eval mode. Deterministic for a seed and a
// thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "normkit/io/fashion_mnist.hpp"
#include "normkit/nn/sequential.hpp"
#include "normkit/nn/sgd.hpp"
#include "normkit/train/schedule.hpp"

namespace normkit::train {

struct TrainOptions {
  std::int64_t epochs = 5;
  std::int64_t batch_size = 60;
  nn::SgdOptions sgd{.lr = 0.1, .momentum = 0.9};  // sgd.lr: the base rate of the schedule
  LrSchedule schedule;
  std::uint64_t seed = 0;
  std::int64_t limit = 0;  // use the first `limit` training images (0: all)
  // After every epoch, the model, the optimizer and the trainer's own state
  // (epochs done, shuffling) are saved here, atomically ("": not saved).
  std::string checkpoint;
  // Continue from such a file: the epochs after the ones it records, with the
  // same bits as a run that was never interrupted ("": from the start).
  std::string resume;
  // Recorded in checkpoints, and checked on resume.
  std::string model_name = "?", norm_name = "?";
};

struct StepReport {
  std::int64_t epoch, step, steps_per_epoch;
  double loss;
};

struct EpochReport {
  std::int64_t epoch;
  double train_loss, train_accuracy, test_accuracy, seconds;
};

struct Evaluation {
  double loss, accuracy;
};

// Loss and accuracy of `net` (in eval mode, restored after) on `data`.
Evaluation evaluate(nn::Sequential& net, const io::LabelledImages& data, std::int64_t batch_size = 1000);

// Trains `net` on data.train, evaluating on data.test after every epoch.
// on_step after every step, on_epoch after every epoch (either may be empty).
// Returns the reports of the epochs run (none when a resumed run had already
// done them all).
std::vector<EpochReport> fit(nn::Sequential& net, const io::FashionMnist& data, const TrainOptions& options,
                             const std::function<void(const StepReport&)>& on_step,
                             const std::function<void(const EpochReport&)>& on_epoch);

}  // namespace normkit::train
