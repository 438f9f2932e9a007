// normkit step-time: the time of one training step (forward, loss,
// backward, SGD or AdamW update) of a lab network on Fashion-MNIST batches,
// for bench/train_step.py to set beside PyTorch's. Prints one line:
//   step_ms median=M min=M steps=N threads=T
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "normkit/io/fashion_mnist.hpp"
#include "normkit/threading.hpp"
#include "normkit/train/models.hpp"
#include "normkit/train/trainer.hpp"
#include "model_flags.hpp"
#include "options.hpp"

namespace normkit::cli {
namespace {

struct StepTimeArgs {
  ModelFlags net{.model = "cnn"};
  std::string optimizer = "sgd";
  std::int64_t batch = 128, steps = 20, threads = 0;
};

int run_step_time(const StepTimeArgs& a) {
  if (a.threads > 0) set_num_threads(static_cast<int>(a.threads));
  const io::FashionMnist data = io::load_fashion_mnist();
  nn::Generator init(1);
  const auto net = train::make_model(a.net.model, a.net.norm, init, a.net.options);
  train::TrainOptions options{.batch_size = a.batch, .optimizer = a.optimizer, .sgd = {.lr = 0.01, .momentum = 0.9},
                              .seed = 1};
  train::Trainer trainer(*net, data.train, options);
  for (int warm = 0; warm < 3; ++warm) trainer.step();  // primitives made, memory touched
  std::vector<double> ms;
  for (std::int64_t s = 0; s < a.steps; ++s) {
    const auto start = std::chrono::steady_clock::now();
    trainer.step();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("step_ms median=%.3f min=%.3f steps=%lld threads=%d\n", ms[ms.size() / 2], ms.front(),
              static_cast<long long>(a.steps), num_threads());
  return 0;
}

}  // namespace

Command add_step_time(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("step-time", "the time of one training step (for bench/train_step.py)");
  auto args = std::make_shared<StepTimeArgs>();
  add_model_flags(*sub, args->net);
  add_choice(*sub, "--optimizer", args->optimizer, {"sgd", "adamw"}, "SGD with momentum (lr 0.01), or AdamW (lr 1e-3)");
  add_integer(*sub, "--batch-size", args->batch, "samples per batch");
  add_integer(*sub, "--steps", args->steps, "steps timed (after 3 to warm up)", AtLeast{1});
  add_integer(*sub, "--threads", args->threads, "threads (0: the default)");
  return {sub, [args] {
    args->net.finish();
    return run_step_time(*args);
  }};
}

}  // namespace normkit::cli
