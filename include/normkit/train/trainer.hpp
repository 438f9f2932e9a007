// The training loop: seeded shuffling, mini-batch SGD or AdamW on softmax
// cross-entropy, evaluation in eval mode. Deterministic for a seed and a
// thread count. Trainer takes one step at a time (the lab measures between
// steps); fit() runs whole epochs with evaluation and checkpoints.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "normkit/io/fashion_mnist.hpp"
#include "normkit/nn/init.hpp"
#include "normkit/nn/sequential.hpp"
#include "normkit/nn/adamw.hpp"
#include "normkit/nn/sgd.hpp"
#include "normkit/train/augment.hpp"
#include "normkit/train/batch_share.hpp"
#include "normkit/train/schedule.hpp"

namespace normkit::train {

struct TrainOptions {
  std::int64_t epochs = 5;
  std::int64_t batch_size = 60;
  // Each batch is split into this many micro-batches, each normalized on its
  // own (its own BatchNorm statistics) with gradients accumulated over them
  // before the step: Wu and He's setup of one batch over several workers.
  std::int64_t micro_batches = 1;
  std::string optimizer = "sgd";                   // "sgd" or "adamw"
  nn::SgdOptions sgd{.lr = 0.1, .momentum = 0.9};  // sgd.lr: the base rate of the schedule with sgd
  nn::AdamWOptions adamw;                          // adamw.lr: the base rate of the schedule with adamw
  // adamw: weight decay on every parameter (torch.optim.AdamW's default), or
  // only on those of 2 dims and more (not on biases and norms' parameters).
  bool decay_all = true;
  LrSchedule schedule;
  // The training loss's label smoothing, as torch.nn.CrossEntropyLoss's
  // (0 to 1; evaluation reports the unsmoothed loss).
  double label_smoothing = 0;
  std::uint64_t seed = 0;
  bool augment = false;         // random shifts, left-right flips, erasing (train/augment.hpp)
  AugmentOptions augmentation;  // what augment does
  // Evaluation averages each test image's logits with its mirror's
  // (test-time augmentation; useful after training with flips).
  bool test_flip_average = false;
  // Evaluate on the test set after every this many epochs, and always after
  // the last (0: after the last only). An epoch not evaluated reports NaN.
  std::int64_t eval_every = 1;
  std::int64_t limit = 0;  // use the first `limit` training images (0: all)
  // After every epoch, the model, the optimizer and the trainer's own state
  // (epochs done, shuffling) are saved here, atomically ("": not saved).
  std::string checkpoint;
  // Continue from such a file: the epochs after the ones it records, with the
  // same bits as a run that was never interrupted ("": from the start).
  std::string resume;
  // Recorded in checkpoints, and checked on resume.
  std::string model_name = "?", norm_name = "?";
  // Data-parallel training: this process's share of every batch
  // (dist::DataParallel; null: one process). Not with micro_batches > 1.
  // Its first process writes the checkpoint; every process resumes from it.
  BatchShare* share = nullptr;
};

struct StepReport {
  std::int64_t epoch, step, steps_per_epoch;  // the epoch (from 1) and the step within it (from 1)
  std::int64_t global_step;                   // steps done in the whole run, this one included
  double lr;                                  // the learning rate of this step
  double loss;                                // the batch's mean loss
  std::int64_t correct;                       // samples of the batch classified right
};

struct EpochReport {
  std::int64_t epoch;
  double train_loss, train_accuracy;
  double test_accuracy;      // NaN when this epoch was not evaluated (TrainOptions::eval_every)
  double seconds;            // the epoch's wall time, its evaluation included
  double images_per_second;  // training images over the training steps' wall time
};

struct Evaluation {
  double loss, accuracy;
};

// The images and labels at `indices` (count of them), as one batch; an index
// outside the data is an error.
std::pair<Tensor, Tensor> gather(const io::LabelledImages& data, const std::int64_t* indices, std::int64_t count);

// Loss and accuracy of `net` (in eval mode, restored after) on `data`, in
// batches of batch_size. With a share of several parts, each process
// evaluates every parts()-th batch (after share_buffers()) and the results
// are combined in batch order: the same numbers as one process. With
// flip_average, an image's logits are the mean of the network's on it and on
// its mirror (mirrored_images), and the loss and accuracy are those of the
// mean.
Evaluation evaluate(nn::Sequential& net, const io::LabelledImages& data, std::int64_t batch_size = 1000,
                    BatchShare* share = nullptr, bool flip_average = false);

// The images a run trains on: the first `limit` of `train` (0: all).
std::int64_t training_images(const io::LabelledImages& train, std::int64_t limit);

// One step at a time on `train`: the first step of every epoch reshuffles
// (seeded Fisher-Yates over the first `limit` images); the last partial batch
// of an epoch is dropped. The net is put in training mode before each step,
// and told that no gradient of its input is needed (set_input_gradient).
class Trainer {
 public:
  Trainer(nn::Sequential& net, const io::LabelledImages& train, const TrainOptions& options);

  StepReport step();

  std::int64_t steps_per_epoch() const { return steps_per_epoch_; }
  std::int64_t steps_done() const { return steps_done_; }
  std::int64_t epochs_done() const { return steps_done_ / steps_per_epoch_; }
  nn::Optimizer& optimizer() { return *optimizer_; }

  // The model, the optimizer, the shuffling and the layers' extra state, in
  // one safetensors file (written atomically), at an epoch boundary.
  void save_checkpoint(const std::string& path) const;
  // Restores such a file (checked against this run's model, norm and batch).
  void load_checkpoint(const std::string& path);

 private:
  nn::Sequential& net_;
  const io::LabelledImages& train_;
  TrainOptions options_;
  std::unique_ptr<nn::Optimizer> optimizer_;
  nn::Generator shuffle_;
  std::vector<std::int64_t> order_;
  std::int64_t steps_per_epoch_;
  std::int64_t steps_done_ = 0;
};

// Trains `net` on data.train, evaluating on data.test after every epoch.
// on_step after every step, on_epoch after every epoch (either may be empty).
// Returns the reports of the epochs run (none when a resumed run had already
// done them all).
std::vector<EpochReport> fit(nn::Sequential& net, const io::FashionMnist& data, const TrainOptions& options,
                             const std::function<void(const StepReport&)>& on_step,
                             const std::function<void(const EpochReport&)>& on_epoch);

}  // namespace normkit::train
