#include "normkit/train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "checkpoint.hpp"
#include "normkit/error.hpp"
#include "normkit/io/safetensors.hpp"
#include "normkit/nn/grad_mode.hpp"
#include "normkit/nn/init.hpp"
#include "normkit/nn/loss.hpp"
#include "normkit/train/augment.hpp"

namespace normkit::train {
namespace {

RunIdentity run_identity(const TrainOptions& options) {
  return {.model_name = options.model_name, .norm_name = options.norm_name, .batch_size = options.batch_size};
}

}  // namespace

std::pair<Tensor, Tensor> gather(const io::LabelledImages& data, const std::int64_t* indices, std::int64_t count) {
  const std::int64_t available = data.labels.numel();
  Shape shape = data.images.shape();
  const std::int64_t per_image = data.images.numel() / shape[0];
  shape[0] = count;
  Tensor x(shape), y({count}, DType::int64);
  for (std::int64_t j = 0; j < count; ++j) {
    NORMKIT_CHECK(indices[j] >= 0 && indices[j] < available, "gather: indices: expected 0 to ", available - 1,
                  ", got ", indices[j]);
    std::memcpy(x.data<float>() + j * per_image, data.images.data<float>() + indices[j] * per_image,
                static_cast<std::size_t>(per_image) * sizeof(float));
    y.data<std::int64_t>()[j] = data.labels.data<std::int64_t>()[indices[j]];
  }
  return {std::move(x), std::move(y)};
}

Evaluation evaluate(nn::Sequential& net, const io::LabelledImages& data, std::int64_t batch_size, BatchShare* share,
                    bool flip_average) {
  NORMKIT_CHECK(batch_size >= 1, "evaluate: batch_size: expected >= 1, got ", batch_size);
  NORMKIT_CHECK(data.labels.numel() > 0, "evaluate: data: expected at least one image, got an empty set");
  BatchShare one_process;
  BatchShare& parts = share != nullptr ? *share : one_process;
  parts.share_buffers();
  const bool was_training = net.is_training();
  net.eval();
  // No backward follows: the layers keep no copies (at batch 1000 those
  // outgrew the storage cache, and each batch paid for fresh pages).
  const nn::NoGrad no_grad;
  const std::int64_t n = data.labels.numel(), batches = (n + batch_size - 1) / batch_size;
  std::vector<std::int64_t> all(static_cast<std::size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  // Per batch: its loss sum and its correct count; zeros for the batches of
  // the other processes.
  std::vector<double> mine(static_cast<std::size_t>(2 * batches), 0.0);
  for (std::int64_t b = parts.part(); b < batches; b += parts.parts()) {
    const std::int64_t count = std::min(batch_size, n - b * batch_size);
    const auto [x, y] = gather(data, all.data() + b * batch_size, count);
    Tensor logits = net.forward(x);
    if (flip_average) {
      const Tensor mirrored = net.forward(mirrored_images(x));
      float* l = logits.data<float>();
      const float* m = mirrored.data<float>();
      for (std::int64_t i = 0; i < logits.numel(); ++i) l[i] = (l[i] + m[i]) * 0.5f;
    }
    const nn::CrossEntropy ce = nn::softmax_cross_entropy(logits, y);
    mine[static_cast<std::size_t>(2 * b)] = ce.loss * static_cast<double>(count);
    mine[static_cast<std::size_t>(2 * b + 1)] = static_cast<double>(ce.correct);
  }
  net.train(was_training);
  const std::vector<double> every = parts.gather(mine);
  double loss = 0;
  std::int64_t correct = 0;
  for (std::int64_t b = 0; b < batches; ++b) {  // in batch order, from the process that evaluated it
    const std::size_t at = static_cast<std::size_t>(2 * (b % parts.parts() * batches + b));
    loss += every[at];
    correct += static_cast<std::int64_t>(every[at + 1]);
  }
  return {n > 0 ? loss / static_cast<double>(n) : 0.0, n > 0 ? static_cast<double>(correct) / static_cast<double>(n) : 0.0};
}

std::int64_t training_images(const io::LabelledImages& train, std::int64_t limit) {
  const std::int64_t available = train.labels.numel();
  return limit > 0 ? std::min(limit, available) : available;
}

Trainer::Trainer(nn::Sequential& net, const io::LabelledImages& train, const TrainOptions& options)
    : net_(net),
      train_(train),
      options_(options),
      shuffle_(options.seed ^ 0x5eedULL) {
  NORMKIT_CHECK(options.optimizer == "sgd" || options.optimizer == "adamw",
                "optimizer: expected sgd or adamw, got '", options.optimizer, "'");
  NORMKIT_CHECK(options.epochs >= 1, "epochs: expected >= 1, got ", options.epochs);
  NORMKIT_CHECK(options.micro_batches >= 1, "micro_batches: expected >= 1, got ", options.micro_batches);
  NORMKIT_CHECK(options.batch_size % options.micro_batches == 0, "batch_size: expected a multiple of the ",
                options.micro_batches, " micro-batches, got ", options.batch_size);
  NORMKIT_CHECK(options.batch_size / options.micro_batches >= 2,
                "batch_size: expected >= 2 samples per (micro-)batch (BatchNorm needs two), got ",
                options.batch_size / options.micro_batches);
  NORMKIT_CHECK(options.sgd.lr > 0 && std::isfinite(options.sgd.lr), "sgd.lr: expected a finite number > 0, got ",
                options.sgd.lr);
  NORMKIT_CHECK(options.adamw.lr > 0 && std::isfinite(options.adamw.lr),
                "adamw.lr: expected a finite number > 0, got ", options.adamw.lr);
  if (options.optimizer == "sgd") {
    optimizer_ = std::make_unique<nn::SGD>(net.parameters(), options.sgd);
  } else {
    std::vector<nn::Parameter*> no_decay;
    if (!options.decay_all)
      for (nn::Parameter* p : net.parameters())
        if (p->value.shape().size() < 2) no_decay.push_back(p);
    optimizer_ = std::make_unique<nn::AdamW>(net.parameters(), options.adamw, no_decay);
  }
  NORMKIT_CHECK(options.limit >= 0, "limit: expected >= 1 images (0: all), got ", options.limit);
  const LrSchedule& schedule = options.schedule;
  NORMKIT_CHECK(schedule.gamma > 0 && std::isfinite(schedule.gamma), "schedule.gamma: expected a finite number > 0, got ",
                schedule.gamma);
  NORMKIT_CHECK(schedule.step_epochs >= 1, "schedule.step_epochs: expected >= 1, got ", schedule.step_epochs);
  NORMKIT_CHECK(schedule.warmup_steps >= 0, "schedule.warmup_steps: expected >= 0 steps, got ", schedule.warmup_steps);
  const TensorView images = train.images.view();
  const std::int64_t side = images.dim() >= 2 ? std::min(images.size(images.dim() - 2), images.size(images.dim() - 1)) : 0;
  NORMKIT_CHECK(!options.augment || (options.augmentation.shift >= 0 && options.augmentation.shift < side),
                "augmentation.shift: expected 0 to ", side - 1, " pixels (the images are ", side, " wide), got ",
                options.augmentation.shift);
  NORMKIT_CHECK(options.label_smoothing >= 0 && options.label_smoothing <= 1,
                "label_smoothing: expected 0 to 1, got ", options.label_smoothing);
  NORMKIT_CHECK(options.augmentation.erase >= 0 && options.augmentation.erase <= 1,
                "augmentation.erase: expected a probability in [0, 1], got ", options.augmentation.erase);
  const std::int64_t n = training_images(train, options.limit);
  NORMKIT_CHECK(n >= options.batch_size, "batch_size: expected at most the ", n, " training images, got ",
                options.batch_size);
  if (options.share != nullptr && options.share->parts() > 1) {
    NORMKIT_CHECK(options.micro_batches == 1, "micro_batches: data-parallel training takes one micro-batch, got ",
                  options.micro_batches);
    NORMKIT_CHECK(options.batch_size >= 2 * options.share->parts(), "batch_size: expected at least 2 samples for each of the ",
                  options.share->parts(), " processes, got ", options.batch_size);
  }
  if (!options.checkpoint.empty()) {  // found now, not after the first epoch
    try {
      io::check_writable(options.checkpoint);
    } catch (const Error& e) {
      detail::throw_error("checkpoint: ", e.what());
    }
  }
  net.set_input_gradient(false);  // the images are data: no gradient for them
  order_.resize(static_cast<std::size_t>(n));
  std::iota(order_.begin(), order_.end(), 0);
  steps_per_epoch_ = n / options.batch_size;
}

StepReport Trainer::step() {
  const std::int64_t within = steps_done_ % steps_per_epoch_;
  if (within == 0)  // a new epoch: Fisher-Yates with the seeded generator
    for (std::size_t i = order_.size() - 1; i > 0; --i) std::swap(order_[i], order_[shuffle_.below(i + 1)]);
  net_.train();
  const double base_lr = options_.optimizer == "adamw" ? options_.adamw.lr : options_.sgd.lr;
  const double lr = options_.schedule.at(steps_done_, steps_per_epoch_, options_.epochs * steps_per_epoch_, base_lr);
  optimizer_->set_lr(lr);
  optimizer_->zero_grad();
  const std::int64_t micro = options_.batch_size / options_.micro_batches;
  BatchShare one_process;
  BatchShare& share = options_.share != nullptr ? *options_.share : one_process;
  // This process's samples of each micro-batch (all of them in one process).
  const auto [first, count] = share.slice(micro, share.part());
  double loss = 0;
  std::int64_t correct = 0;
  for (std::int64_t m = 0; m < options_.micro_batches; ++m) {
    auto [x, y] = gather(train_, order_.data() + within * options_.batch_size + m * micro + first, count);
    if (options_.augment) augment_images(x, options_.seed, steps_done_, m * micro + first, options_.augmentation);
    // The loss is the mean over the whole micro-batch.
    nn::CrossEntropy ce = nn::softmax_cross_entropy(net_.forward(x), y, micro, options_.label_smoothing);
    if (options_.micro_batches > 1) {  // the batch's loss is the micro-batches' mean
      const float share_of_batch = 1.0f / static_cast<float>(options_.micro_batches);
      float* g = ce.grad.data<float>();
      const std::int64_t n = ce.grad.numel();
      for (std::int64_t i = 0; i < n; ++i) g[i] *= share_of_batch;
    }
    net_.backward(ce.grad);
    // The micro-batch's loss from every sample's, in sample order (as one
    // process sums them), and its correct count.
    std::vector<double> mine = std::move(ce.losses);
    mine.push_back(static_cast<double>(ce.correct));
    const std::vector<double> every = share.gather(mine);
    double total = 0;
    std::size_t at = 0;
    for (int p = 0; p < share.parts(); ++p) {
      for (std::int64_t i = 0; i < share.slice(micro, p).second; ++i) total += every[at++];
      correct += static_cast<std::int64_t>(every[at++]);
    }
    loss += total / static_cast<double>(micro);
  }
  share.finish_gradients();
  optimizer_->step();
  const std::int64_t epoch = steps_done_ / steps_per_epoch_ + 1;
  ++steps_done_;
  return {.epoch = epoch,
          .step = within + 1,
          .steps_per_epoch = steps_per_epoch_,
          .global_step = steps_done_,
          .lr = lr,
          .loss = loss / static_cast<double>(options_.micro_batches),
          .correct = correct};
}

void Trainer::save_checkpoint(const std::string& path) const {
  train::save_checkpoint(path, run_identity(options_), net_, *optimizer_,
                         {.epochs_done = epochs_done(), .order = order_, .shuffle = shuffle_});
}

void Trainer::load_checkpoint(const std::string& path) {
  TrainerState state{.order = std::vector<std::int64_t>(order_.size()), .shuffle = shuffle_};
  train::load_checkpoint(path, run_identity(options_), steps_per_epoch_, net_, *optimizer_, state);
  shuffle_ = state.shuffle;
  order_ = std::move(state.order);
  steps_done_ = state.epochs_done * steps_per_epoch_;
}

std::vector<EpochReport> fit(nn::Sequential& net, const io::FashionMnist& data, const TrainOptions& options,
                             const std::function<void(const StepReport&)>& on_step,
                             const std::function<void(const EpochReport&)>& on_epoch) {
  NORMKIT_CHECK(options.eval_every >= 0, "eval_every: expected >= 0 epochs (0: after the last only), got ",
                options.eval_every);
  Trainer trainer(net, data.train, options);
  if (!options.resume.empty()) trainer.load_checkpoint(options.resume);
  std::vector<EpochReport> reports;
  for (std::int64_t epoch = trainer.epochs_done() + 1; epoch <= options.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    double loss_sum = 0;
    std::int64_t correct = 0;
    for (std::int64_t step = 0; step < trainer.steps_per_epoch(); ++step) {
      const StepReport report = trainer.step();
      loss_sum += report.loss;
      correct += report.correct;
      if (on_step) on_step(report);
    }
    const double training_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const bool tested = epoch == options.epochs || (options.eval_every > 0 && epoch % options.eval_every == 0);
    const double test_accuracy = tested ? evaluate(net, data.test, 1000, options.share, options.test_flip_average).accuracy
                                        : std::numeric_limits<double>::quiet_NaN();
    // A checkpoint needs every process's buffers alike, which evaluate's
    // sharing otherwise makes so.
    if (!tested && options.share != nullptr) options.share->share_buffers();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto steps = static_cast<double>(trainer.steps_per_epoch());
    const double images = steps * static_cast<double>(options.batch_size);
    reports.push_back({.epoch = epoch,
                       .train_loss = loss_sum / steps,
                       .train_accuracy = static_cast<double>(correct) / images,
                       .test_accuracy = test_accuracy,
                       .seconds = seconds,
                       .images_per_second = training_seconds > 0 ? images / training_seconds : 0.0});
    // In data-parallel training every process holds the same state after
    // evaluation (evaluate shares the buffers): the first one writes it.
    const bool writer = options.share == nullptr || options.share->part() == 0;
    if (!options.checkpoint.empty() && writer) trainer.save_checkpoint(options.checkpoint);
    if (on_epoch) on_epoch(reports.back());
  }
  return reports;
}

}  // namespace normkit::train
