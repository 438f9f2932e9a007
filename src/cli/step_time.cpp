// normkit step-time: the time of one training step (forward, loss,
// backward, SGD update) of a lab network on Fashion-MNIST batches, for
// bench/train_step.py to set beside PyTorch's. Prints one line:
//   step_ms median=M min=M steps=N threads=T
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "args.hpp"
#include "commands.hpp"
#include "normkit/io/fashion_mnist.hpp"
#include "normkit/threading.hpp"
#include "normkit/train/models.hpp"
#include "normkit/train/trainer.hpp"

namespace normkit::cli {
namespace {

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr,
               "normkit step-time: %s\n"
               "usage: normkit step-time [--model cnn] [--norm bn] [--batch-size 128] [--steps 20] [--threads T] [--width K]\n",
               message.c_str());
  std::exit(2);
}

}  // namespace

int run_step_time(int argc, char** argv) {
  std::string model = "cnn", norm = "bn";
  std::int64_t batch = 128, steps = 20, threads = 0, width = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage_error(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--model") model = value;
    else if (flag == "--norm") norm = value;
    else if (flag == "--batch-size") batch = parse_integer(flag, value, usage_error);
    else if (flag == "--steps") steps = parse_integer(flag, value, usage_error);
    else if (flag == "--threads") threads = parse_integer(flag, value, usage_error);
    else if (flag == "--width") width = parse_integer(flag, value, usage_error);
    else usage_error("unknown option '" + flag + "'");
  }
  if (steps < 1) usage_error("--steps: expected >= 1");
  if (threads > 0) set_num_threads(static_cast<int>(threads));
  const io::FashionMnist data = io::load_fashion_mnist();
  nn::Generator init(1);
  train::ModelOptions model_options;
  model_options.width = width;
  const auto net = train::make_model(model, norm, init, model_options);
  train::Trainer trainer(*net, data.train, {.batch_size = batch, .sgd = {.lr = 0.01, .momentum = 0.9}, .seed = 1});
  for (int warm = 0; warm < 3; ++warm) trainer.step();  // primitives made, memory touched
  std::vector<double> ms;
  for (std::int64_t s = 0; s < steps; ++s) {
    const auto start = std::chrono::steady_clock::now();
    trainer.step();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("step_ms median=%.3f min=%.3f steps=%lld threads=%d\n", ms[ms.size() / 2], ms.front(),
              static_cast<long long>(steps), num_threads());
  return 0;
}

}  // namespace normkit::cli
