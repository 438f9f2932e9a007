// `normkit demo`: what BatchNorm does, in a few lines of output.
//  1. training batches drawn from N(2, 3^2) build running statistics near 2 and 9;
//  2. a single sample in eval mode is normalized with those statistics (and in
//     training mode it is an error, as in PyTorch);
//  3. the "forgot eval()" bug: the same small batch in train and eval mode.
#include <cmath>
#include <cstdio>
#include <random>

#include "commands.hpp"
#include "normkit/normkit.hpp"

namespace normkit::cli {
namespace {

constexpr std::int64_t kChannels = 4;

Tensor normal_batch(std::mt19937_64& rng, std::int64_t n, double mean, double stddev) {
  Tensor x({n, kChannels, 8, 8});
  std::normal_distribution<float> dist(static_cast<float>(mean), static_cast<float>(stddev));
  for (std::int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = dist(rng);
  return x;
}

int run_demo() {
  std::mt19937_64 rng(2015);
  nn::BatchNorm2d bn(kChannels);

  const int steps = 200;
  std::printf("1. Running statistics: %d training batches of shape (32, %lld, 8, 8) from N(2, 3^2)\n",
              steps, static_cast<long long>(kChannels));
  for (int step = 0; step < steps; ++step) bn.forward(normal_batch(rng, 32, 2.0, 3.0));
  std::printf("   channel  running_mean  running_var   (expected about 2 and 9)\n");
  for (std::int64_t c = 0; c < kChannels; ++c)
    std::printf("   %7lld  %12.4f  %11.4f\n", static_cast<long long>(c),
                bn.running_mean.data<float>()[c], bn.running_var.data<float>()[c]);
  std::printf("   num_batches_tracked = %lld\n\n",
              static_cast<long long>(*bn.num_batches_tracked.data<std::int64_t>()));

  std::printf("2. One sample in eval mode uses the running statistics: y = (x - 2) / 3\n");
  bn.eval();
  Tensor sample = Tensor::full({1, kChannels}, 0.0f);
  nn::BatchNorm1d bn1(kChannels);
  bn1.load_state_dict(bn.state_dict());
  bn1.eval();
  for (std::int64_t c = 0; c < kChannels; ++c) sample.data<float>()[c] = 2.0f + 3.0f * (c - 1.5f);
  Tensor y = bn1.forward(sample);
  std::printf("   x = [");
  for (std::int64_t c = 0; c < kChannels; ++c) std::printf("%s%.2f", c ? ", " : "", sample.data<float>()[c]);
  std::printf("]\n   y = [");
  for (std::int64_t c = 0; c < kChannels; ++c) std::printf("%s%.3f", c ? ", " : "", y.data<float>()[c]);
  std::printf("]\n");
  bn1.train();
  try {
    bn1.forward(sample);
  } catch (const Error& e) {
    std::printf("   the same sample in training mode: error: %s\n\n", e.what());
  }

  std::printf("3. Forgot eval(): a batch of 4 samples in train mode vs eval mode (channel 0)\n");
  Tensor batch({4, kChannels});
  std::normal_distribution<float> dist(2.0f, 3.0f);
  for (std::int64_t i = 0; i < batch.numel(); ++i) batch.data<float>()[i] = dist(rng);
  bn1.eval();
  Tensor y_eval = bn1.forward(batch);
  bn1.train();
  Tensor y_train = bn1.forward(batch);
  std::printf("   x        y (eval)  y (train)\n");
  double max_diff = 0;
  for (std::int64_t n = 0; n < 4; ++n) {
    const std::int64_t i = n * kChannels;
    std::printf("   %7.3f  %8.3f  %9.3f\n", batch.data<float>()[i], y_eval.data<float>()[i],
                y_train.data<float>()[i]);
  }
  for (std::int64_t i = 0; i < batch.numel(); ++i)
    max_diff = std::max<double>(max_diff, std::fabs(y_train.data<float>()[i] - y_eval.data<float>()[i]));
  std::printf("   max |y_train - y_eval| over all channels = %.3f\n", max_diff);
  std::printf("   In train mode each output depends on the other samples of the batch\n"
              "   (and the running statistics move); call eval() before inference.\n");
  return 0;
}

}  // namespace

Command add_demo(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("demo", "Batch Normalization in three short experiments");
  return {sub, [] { return run_demo(); }};
}

}  // namespace normkit::cli
