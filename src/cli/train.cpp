// normkit train: trains a lab network on Fashion-MNIST and prints, last,
// test_accuracy=0.XXXX.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "args.hpp"
#include "commands.hpp"
#include "distributed.hpp"
#include "normkit/error.hpp"
#include "normkit/io/fashion_mnist.hpp"
#include "normkit/train/models.hpp"
#include "normkit/train/trainer.hpp"

namespace normkit::cli {
namespace {

struct TrainArgs {
  std::string model = "mlp", norm = "bn", data = io::kDefaultFashionMnistDir;
  std::string distributed;  // "", "sync" or "per-rank"
  std::string step_log;     // a file for every step's loss ("": none)
  train::ModelOptions model_options;
  train::TrainOptions options;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr,
               "normkit train: %s\n"
               "usage: normkit train [--model mlp|cnn|resnet] [--norm none|bn|gn|ln|in|rms|ghost|renorm]\n"
               "                     [--depth 6n+2] [--form post|pre] [--width K] [--dropout P] [--ghost-batch G]\n"
               "                     [--epochs E] [--batch-size B]\n"
               "                     [--lr LR] [--momentum M] [--weight-decay WD] [--seed S] [--data DIR]\n"
               "                     [--schedule constant|step|cosine] [--warmup STEPS] [--step-epochs E]\n"
               "                     [--gamma G] [--checkpoint FILE] [--resume FILE] [--limit N]\n"
               "                     [--augment on|off] [--shift P] [--erase P]\n"
               "                     [--distributed sync|per-rank] [--step-log FILE]\n"
               "  --checkpoint: save model, optimizer and trainer state after every epoch (safetensors)\n"
               "  --resume: continue such a run up to --epochs, with the bits of an uninterrupted one\n"
               "  --limit: train on the first N images only\n"
               "  --width: the cnn's channels times K (16K and 32K)\n"
               "  --augment: shift images by up to --shift pixels (default 2; 0: none) and flip them\n"
               "             left-right, at random (seeded); with --erase P > 0, also fill a random\n"
               "             rectangle with noise with probability P (random erasing)\n"
               "  --ghost-batch: samples per virtual batch of --norm ghost (default 16; must divide B)\n"
               "  --distributed: data-parallel over the ranks of mpirun -np R (docs/distributed.md):\n"
               "             each rank trains on its slice of every batch of B; sync: BatchNorm\n"
               "             becomes Synchronized BN (the loss of one process, bit for bit);\n"
               "             per-rank: each rank normalizes with its own slice's statistics\n"
               "  --step-log: write every step's loss (epoch, step, loss to 17 digits) to FILE\n",
               message.c_str());
  std::exit(2);
}

double number(const std::string& flag, const std::string& text) { return parse_number(flag, text, usage_error); }
std::int64_t integer(const std::string& flag, const std::string& text) { return parse_integer(flag, text, usage_error); }

std::string value_text(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

TrainArgs parse(int argc, char** argv) {
  TrainArgs a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage_error(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--model") a.model = value;
    else if (flag == "--norm") a.norm = value;
    else if (flag == "--data") a.data = value;
    else if (flag == "--epochs") a.options.epochs = integer(flag, value);
    else if (flag == "--batch-size") a.options.batch_size = integer(flag, value);
    else if (flag == "--lr") a.options.sgd.lr = number(flag, value);
    else if (flag == "--momentum") a.options.sgd.momentum = number(flag, value);
    else if (flag == "--weight-decay") a.options.sgd.weight_decay = number(flag, value);
    else if (flag == "--seed") a.options.seed = static_cast<std::uint64_t>(integer(flag, value));
    else if (flag == "--limit") {
      a.options.limit = integer(flag, value);
      if (a.options.limit < 1) usage_error("--limit: expected >= 1 images, got " + value);
    }
    else if (flag == "--augment") {
      if (value != "on" && value != "off") usage_error("--augment: expected on or off, got '" + value + "'");
      a.options.augment = value == "on";
    }
    else if (flag == "--shift") a.options.augmentation.shift = integer(flag, value);
    else if (flag == "--erase") a.options.augmentation.erase = number(flag, value);
    else if (flag == "--depth") a.model_options.depth = integer(flag, value);
    else if (flag == "--width") a.model_options.width = integer(flag, value);
    else if (flag == "--dropout") a.model_options.dropout = number(flag, value);
    else if (flag == "--ghost-batch") a.model_options.ghost_batch = integer(flag, value);
    else if (flag == "--form") {
      if (value != "post" && value != "pre") usage_error("--form: expected post or pre, got '" + value + "'");
      a.model_options.form = value == "pre" ? nn::ResidualForm::pre_activation : nn::ResidualForm::post_activation;
    } else if (flag == "--schedule") a.options.schedule.kind = train::schedule_kind(value);
    else if (flag == "--warmup") a.options.schedule.warmup_steps = integer(flag, value);
    else if (flag == "--step-epochs") a.options.schedule.step_epochs = integer(flag, value);
    else if (flag == "--gamma") a.options.schedule.gamma = number(flag, value);
    else if (flag == "--checkpoint") a.options.checkpoint = value;
    else if (flag == "--resume") a.options.resume = value;
    else if (flag == "--distributed") {
      if (value != "sync" && value != "per-rank")
        usage_error("--distributed: expected sync or per-rank, got '" + value + "'");
      a.distributed = value;
    } else if (flag == "--step-log") a.step_log = value;
    else usage_error("unknown option '" + flag + "'");
  }
  // Recorded in checkpoints: what --resume must match.
  a.options.model_name = a.model;
  if (a.model == "resnet")
    a.options.model_name += std::to_string(a.model_options.depth) +
                            (a.model_options.form == nn::ResidualForm::pre_activation ? "-pre" : "-post");
  if (a.model == "cnn" && a.model_options.width != 1) a.options.model_name += "-w" + std::to_string(a.model_options.width);
  if (a.model_options.dropout > 0) a.options.model_name += "-dropout" + value_text(a.model_options.dropout);
  a.options.norm_name = a.norm;
  return a;
}


int train_model(const TrainArgs& parsed) {
  TrainArgs args = parsed;
  nn::Generator init(args.options.seed);
  const auto net = train::make_model(args.model, args.norm, init, args.model_options);
  std::unique_ptr<train::BatchShare> share;
  if (!args.distributed.empty()) {
    NORMKIT_CHECK(args.model_options.dropout == 0,
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
  if (lead) {
    std::printf("normkit train: %s with norm=%s, %lld epochs, batch %lld, lr %g, momentum %g, seed %llu",
                args.model.c_str(), args.norm.c_str(), static_cast<long long>(args.options.epochs),
                static_cast<long long>(args.options.batch_size), args.options.sgd.lr, args.options.sgd.momentum,
                static_cast<unsigned long long>(args.options.seed));
    if (share != nullptr)
      std::printf(", data-parallel over %d ranks (%s)", share->parts(),
                  args.distributed == "sync" ? "Synchronized BN" : "per-rank BN");
    std::printf("\n");
    std::fflush(stdout);
  }
  // On a terminal, a progress bar that rewrites itself: the epoch's share
  // done, the running loss and accuracy, and images per second.
  auto epoch_start = std::chrono::steady_clock::now();
  double loss_sum = 0;
  std::int64_t correct = 0;
  const auto on_step = [&](const train::StepReport& s) {
    if (s.step == 1) epoch_start = std::chrono::steady_clock::now(), loss_sum = 0, correct = 0;
    if (step_log != nullptr)
      std::fprintf(step_log, "%lld %lld %.17g\n", static_cast<long long>(s.epoch), static_cast<long long>(s.step),
                   s.loss);
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
    std::printf("%sepoch %lld/%lld  loss %.4f  train_acc %.4f  test_acc %.4f  %.1f s\n", terminal ? "\r\033[K" : "",
                static_cast<long long>(e.epoch), static_cast<long long>(args.options.epochs), e.train_loss,
                e.train_accuracy, e.test_accuracy, e.seconds);
    std::fflush(stdout);
  };
  const std::vector<train::EpochReport> reports = train::fit(*net, data, args.options, on_step, on_epoch);
  // (A resumed run whose epochs were all done evaluates what it loaded.)
  const double accuracy = reports.empty() ? train::evaluate(*net, data.test).accuracy : reports.back().test_accuracy;
  if (lead) std::printf("test_accuracy=%.4f\n", accuracy);
  return 0;
}

}  // namespace

int run_train(int argc, char** argv) {
  const TrainArgs args = parse(argc, argv);
  if (args.distributed.empty()) return train_model(args);
  return run_as_rank("train", [&] { return train_model(args); });
}

}  // namespace normkit::cli
