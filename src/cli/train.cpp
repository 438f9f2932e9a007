// normkit train: trains a lab network on Fashion-MNIST and prints, last,
// test_accuracy=0.XXXX.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "distributed.hpp"
#include "normkit/error.hpp"
#include "normkit/io/fashion_mnist.hpp"
#include "normkit/train/models.hpp"
#include "normkit/train/trainer.hpp"
#include "model_flags.hpp"
#include "options.hpp"

namespace normkit::cli {
namespace {

struct TrainArgs {
  ModelFlags net;
  std::string data = io::kDefaultFashionMnistDir;
  std::string schedule = "constant";
  std::string distributed;        // "", "sync" or "per-rank"
  std::string step_log;           // a file for every step's loss ("": none)
  std::string metrics;            // a file for JSON lines of metrics ("": none)
  std::int64_t metrics_every = 0;  // also a line every N steps (0: per epoch only)
  train::TrainOptions options;
  // Flags whose default depends on --optimizer: given or not.
  const CLI::Option *lr_flag = nullptr, *decay_flag = nullptr;
};

// The library names its options' fields in its errors (TrainOptions,
// ModelOptions, make_model's arguments); the CLI says which flag sets each.
const std::pair<const char*, const char*> kFlagOfField[] = {
    {"epochs", "--epochs"},
    {"batch_size", "--batch-size"},
    {"sgd.lr", "--lr"},
    {"sgd.momentum", "--momentum"},
    {"sgd.weight_decay", "--weight-decay"},
    {"adamw.lr", "--lr"},
    {"AdamW: weight_decay", "--weight-decay"},
    {"optimizer", "--optimizer"},
    {"vit", "--depth, --dim, --heads, --mlp-ratio"},
    {"patch", "--patch"},
    {"limit", "--limit"},
    {"schedule.gamma", "--gamma"},
    {"schedule.step_epochs", "--step-epochs"},
    {"schedule.warmup_steps", "--warmup"},
    {"schedule", "--schedule"},
    {"augmentation.shift", "--shift"},
    {"augmentation.erase", "--erase"},
    {"label_smoothing", "--label-smoothing"},
    {"eval_every", "--eval-every"},
    {"checkpoint", "--checkpoint"},
    {"resume", "--resume"},
    {"model", "--model"},
    {"norm", "--norm"},
    {"ghost_batch", "--ghost-batch"},
    {"width", "--width"},
    {"depth", "--depth"},
    {"dropout", "--dropout"},
};

// The message with its leading field name ("sgd.lr: ...", "norm gn: ...")
// replaced by the flag that sets it.
std::string with_flag_name(const std::string& message) {
  for (const auto& [field, flag] : kFlagOfField) {
    const std::string f = field;
    if (message.starts_with(f) && message.size() > f.size() && (message[f.size()] == ':' || message[f.size()] == ' '))
      return flag + message.substr(f.size());
  }
  return message;
}

// Runs body(); a plain normkit::Error from it (not one raised on every rank
// together, dist::RankError, which keeps its type) is raised again with its
// field named as a flag.
template <typename Body>
auto naming_flags(Body body) -> decltype(body()) {
  try {
    return body();
  } catch (const Error& e) {
    if (typeid(e) != typeid(Error)) throw;
    throw Error(with_flag_name(e.what()));
  }
}

std::string value_text(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

// Settles what the flags leave to be derived: defaults that depend on the
// model or the optimizer, and the checkpoint's model name.
void finish(TrainArgs& a) {
  a.net.finish();
  if (a.options.optimizer == "adamw") {  // --lr and --weight-decay are AdamW's when given
    if (a.lr_flag->count() > 0) a.options.adamw.lr = a.options.sgd.lr;
    if (a.decay_flag->count() > 0) a.options.adamw.weight_decay = a.options.sgd.weight_decay;
  }
  a.options.schedule.kind = train::schedule_kind(a.schedule);
  // Recorded in checkpoints: what --resume must match.
  a.options.model_name = a.net.recorded_name();
  a.options.norm_name = a.net.norm;
}

// JSON lines for --metrics: one object per epoch and, with --metrics-every
// N, one every N steps, flushed as written so that a run can be followed.
class MetricsLog {
 public:
  MetricsLog(const std::string& path, std::int64_t every, std::int64_t batch_size)
      : every_(every), batch_size_(batch_size), start_(std::chrono::steady_clock::now()) {
    if (path.empty()) return;
    out_.open(path, std::ios::trunc);
    NORMKIT_CHECK(out_.is_open(), "--metrics: cannot write ", path);
  }

  void step(const train::StepReport& s) {
    if (!out_.is_open()) return;
    if (s.step == 1) window_ = {};
    window_.add(s.loss, s.correct, batch_size_);
    if (every_ <= 0 || s.step % every_ != 0) return;
    write({{"epoch", s.epoch},
           {"step", s.global_step},
           {"lr", s.lr},
           {"train_loss", window_.loss / static_cast<double>(window_.steps)},
           {"train_accuracy", static_cast<double>(window_.correct) / static_cast<double>(window_.images)},
           {"images_per_second", images_per_second(window_.images)},
           {"wall_seconds", seconds()}});
    window_ = {};
  }

  void epoch(const train::EpochReport& e, std::int64_t global_step, double lr) {
    if (!out_.is_open()) return;
    write({{"epoch", e.epoch},
           {"step", global_step},
           {"lr", lr},
           {"train_loss", e.train_loss},
           {"train_accuracy", e.train_accuracy},
           {"test_accuracy", std::isnan(e.test_accuracy) ? nlohmann::json() : nlohmann::json(e.test_accuracy)},
           {"images_per_second", e.images_per_second},
           {"wall_seconds", seconds()}});
  }

 private:
  struct Window {  // the steps since the last line
    double loss = 0;
    std::int64_t steps = 0, correct = 0, images = 0;
    std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();
    void add(double l, std::int64_t c, std::int64_t batch) { loss += l, ++steps, correct += c, images += batch; }
  };

  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  double images_per_second(std::int64_t images) const {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - window_.since).count();
    return s > 0 ? static_cast<double>(images) / s : 0.0;
  }
  void write(const nlohmann::ordered_json& line) { out_ << line.dump() << '\n' << std::flush; }

  std::ofstream out_;
  std::int64_t every_, batch_size_;
  std::chrono::steady_clock::time_point start_;
  Window window_;
};

int train_model(const TrainArgs& parsed) {
  TrainArgs args = parsed;
  nn::Generator init(args.options.seed);
  const auto net = naming_flags([&] { return train::make_model(args.net.model, args.net.norm, init, args.net.options); });
  std::unique_ptr<train::BatchShare> share;
  if (!args.distributed.empty()) {
    NORMKIT_CHECK(args.net.options.dropout == 0,
                  "--dropout: not available with --distributed (masks are drawn per element of a rank's slice)");
    share = data_parallel(*net, args.distributed == "sync");
    args.options.share = share.get();
  }
  // Only the first process prints and writes.
  const bool lead = share == nullptr || share->part() == 0;
  const bool terminal = lead && ::isatty(STDOUT_FILENO) != 0;
  const io::FashionMnist data = io::load_fashion_mnist(args.data);
  std::FILE* step_log = nullptr;
  if (lead && !args.step_log.empty()) {
    step_log = std::fopen(args.step_log.c_str(), "w");
    NORMKIT_CHECK(step_log != nullptr, "--step-log: cannot write ", args.step_log);
  }
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> step_log_closer(step_log, [](std::FILE* f) {
    return f != nullptr ? std::fclose(f) : 0;
  });
  MetricsLog metrics(lead ? args.metrics : "", args.metrics_every, args.options.batch_size);
  if (lead) {
    const train::TrainOptions& o = args.options;
    const std::string optimizer =
        o.optimizer == "adamw"
            ? "adamw lr " + value_text(o.adamw.lr) + ", weight decay " + value_text(o.adamw.weight_decay)
            : "lr " + value_text(o.sgd.lr) + ", momentum " + value_text(o.sgd.momentum);
    std::printf("normkit train: %s with norm=%s, %lld epochs, batch %lld, %s, seed %llu", args.net.model.c_str(),
                args.net.norm.c_str(), static_cast<long long>(o.epochs), static_cast<long long>(o.batch_size),
                optimizer.c_str(), static_cast<unsigned long long>(o.seed));
    if (share != nullptr)
      std::printf(", data-parallel over %d ranks (%s)", share->parts(),
                  args.distributed == "sync" ? "Synchronized BN" : "per-rank BN");
    std::printf("\n");
    std::fflush(stdout);
  }
  // On a terminal, a progress bar that rewrites itself: the epoch's share
  // done, the running loss and accuracy, and images per second.
  auto epoch_start = std::chrono::steady_clock::now();
  double loss_sum = 0, last_lr = args.options.sgd.lr;
  std::int64_t correct = 0, global_step = 0;
  const auto on_step = [&](const train::StepReport& s) {
    if (s.step == 1) epoch_start = std::chrono::steady_clock::now(), loss_sum = 0, correct = 0;
    if (step_log != nullptr)
      std::fprintf(step_log, "%lld %lld %.17g\n", static_cast<long long>(s.epoch), static_cast<long long>(s.step),
                   s.loss);
    metrics.step(s);
    global_step = s.global_step, last_lr = s.lr;
    loss_sum += s.loss;
    correct += s.correct;
    if (!terminal || (s.step % 10 != 0 && s.step != s.steps_per_epoch)) return;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * s.step / s.steps_per_epoch);
    // Speed over the steps after the first (the clock starts when it ends).
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    const auto images = static_cast<double>(s.step * args.options.batch_size);
    const auto timed_images = static_cast<double>((s.step - 1) * args.options.batch_size);
    std::printf("\repoch %lld [%s%s] %lld/%lld  loss %.4f  acc %.4f  %.0f img/s ", static_cast<long long>(s.epoch),
                std::string(static_cast<std::size_t>(filled), '=').c_str(),
                std::string(static_cast<std::size_t>(kWidth - filled), ' ').c_str(), static_cast<long long>(s.step),
                static_cast<long long>(s.steps_per_epoch), loss_sum / static_cast<double>(s.step),
                static_cast<double>(correct) / images, seconds > 0 ? timed_images / seconds : 0.0);
    std::fflush(stdout);
  };
  const auto on_epoch = [&](const train::EpochReport& e) {
    if (!lead) return;
    metrics.epoch(e, global_step, last_lr);
    char test[16] = "-";  // an epoch not evaluated (--eval-every)
    if (!std::isnan(e.test_accuracy)) std::snprintf(test, sizeof test, "%.4f", e.test_accuracy);
    std::printf("%sepoch %lld/%lld  loss %.4f  train_acc %.4f  test_acc %s  %.1f s\n", terminal ? "\r\033[K" : "",
                static_cast<long long>(e.epoch), static_cast<long long>(args.options.epochs), e.train_loss,
                e.train_accuracy, test, e.seconds);
    std::fflush(stdout);
  };
  const std::vector<train::EpochReport> reports =
      naming_flags([&] { return train::fit(*net, data, args.options, on_step, on_epoch); });
  // (A resumed run whose epochs were all done evaluates what it loaded.)
  const double accuracy = reports.empty()
                              ? train::evaluate(*net, data.test, 1000, share.get(), args.options.test_flip_average).accuracy
                                          : reports.back().test_accuracy;
  if (lead) std::printf("test_accuracy=%.4f\n", accuracy);
  return 0;
}

}  // namespace

Command add_train(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("train", "train a network on Fashion-MNIST");
  sub->footer(
      "--checkpoint saves model, optimizer and trainer state after every epoch (safetensors);\n"
      "--resume continues such a run up to --epochs, with the bits of an uninterrupted one\n"
      "(under --distributed too, on any number of ranks). The last line printed is\n"
      "test_accuracy=0.XXXX.");
  auto args = std::make_shared<TrainArgs>();
  TrainArgs& a = *args;
  train::TrainOptions& o = a.options;
  add_model_flags(*sub, a.net);
  add_integer(*sub, "--epochs", o.epochs, "epochs to train");
  add_integer(*sub, "--batch-size", o.batch_size, "samples per batch B");
  add_choice(*sub, "--optimizer", o.optimizer, {"sgd", "adamw"}, "SGD with momentum, or AdamW (torch.optim's)");
  a.lr_flag = add_number(*sub, "--lr", o.sgd.lr, "the learning rate, the schedule's base (default: SGD 0.1, AdamW 1e-3)");
  add_number(*sub, "--momentum", o.sgd.momentum, "SGD's momentum");
  a.decay_flag = add_number(*sub, "--weight-decay", o.sgd.weight_decay,
                            "weight decay (default: SGD 0, AdamW 0.01, decoupled)");
  sub->add_flag_callback("--no-decay-norms", [&o] { o.decay_all = false; },
                         "AdamW: no weight decay on biases and norms' parameters (those of fewer than 2 dims)");
  add_number(*sub, "--label-smoothing", o.label_smoothing,
             "the training loss's label smoothing, as torch.nn.CrossEntropyLoss's (0 to 1)");
  add_integer(*sub, "--seed", o.seed, "seeds initialization, shuffling, augmentation and dropout");
  sub->add_option("--data", a.data, "the Fashion-MNIST directory")->type_name("DIR")->capture_default_str();
  add_choice(*sub, "--schedule", a.schedule, {"constant", "step", "cosine"}, "the learning-rate schedule");
  add_integer(*sub, "--warmup", o.schedule.warmup_steps, "steps of linear warm-up");
  add_integer(*sub, "--step-epochs", o.schedule.step_epochs, "--schedule step: epochs between decays");
  add_number(*sub, "--gamma", o.schedule.gamma, "--schedule step: the decay factor");
  sub->add_option("--checkpoint", o.checkpoint, "save a checkpoint here after every epoch")->type_name("FILE");
  sub->add_option("--resume", o.resume, "continue the run saved in this checkpoint")->type_name("FILE");
  add_integer(*sub, "--limit", o.limit, "train on the first N images only (default: all)", AtLeast{1, "images"})
      ->default_str("");
  add_switch(*sub, "--augment", o.augment, "random shifts and left-right flips (seeded)");
  add_integer(*sub, "--shift", o.augmentation.shift, "--augment: the largest shift in pixels (0: flips only)");
  add_number(*sub, "--erase", o.augmentation.erase, "--augment: probability of random erasing");
  add_integer(*sub, "--eval-every", o.eval_every,
              "evaluate on the test set every N epochs and after the last (0: after the last only)");
  add_switch(*sub, "--test-flips", o.test_flip_average,
             "evaluate on each test image and its mirror, averaging the logits (test-time augmentation)");
  add_choice(*sub, "--distributed", a.distributed, {"sync", "per-rank"},
             "data-parallel over the ranks of mpirun -np R (docs/distributed.md): each rank trains on its\n"
             "slice of every batch; sync: BatchNorm becomes Synchronized BN (the loss of one process, bit\n"
             "for bit); per-rank: each rank normalizes with its own slice's statistics");
  sub->add_option("--step-log", a.step_log, "write every step's loss (epoch, step, loss to 17 digits) here")
      ->type_name("FILE");
  sub->add_option("--metrics", a.metrics,
                  "write JSON lines here: per epoch (and every --metrics-every steps) the epoch, step, lr,\n"
                  "train loss and accuracy, test accuracy when evaluated, images/s and wall seconds")
      ->type_name("FILE");
  add_integer(*sub, "--metrics-every", a.metrics_every, "--metrics: also a line every N steps (0: per epoch only)",
              AtLeast{0});
  return {sub, [args] {
            finish(*args);
            if (args->distributed.empty()) return train_model(*args);
            return run_as_rank("train", [&] { return train_model(*args); });
          }};
}

}  // namespace normkit::cli
