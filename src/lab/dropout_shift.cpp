// dropout: Li et al. 2019 ("Understanding the Disharmony between Dropout and
// Batch Normalization by Variance Shift"). Dropout scales its kept units by
// 1 / (1 - p) in training, which keeps their mean but not their variance: a
// BN layer after it learns running statistics of the training-time variance
// and meets a smaller one at test time. The sigmoid MLP with BN and dropout
// 0.5 after each hidden layer (so the second and third BN see dropped
// inputs) against the same network with dropout only after the last BN.
// Measured: per BN layer, the variance of its input at test time over its
// running variance (1 when nothing shifts), and the test accuracy before and
// after re-estimating the running statistics with dropout off.
#include <cstdio>

#include "curves.hpp"
#include "normkit/nn/batch_norm.hpp"
#include "normkit/nn/dropout.hpp"
#include "normkit/train/trainer.hpp"
#include "probes.hpp"
#include "report/table.hpp"

namespace normkit::lab {
namespace {

// The mean over features of var(BN input at test time) / running_var, the
// network in eval mode (dropout off).
double variance_ratio(nn::Sequential& net, std::size_t bn_index, const io::LabelledImages& test) {
  net.eval();
  const Tensor h = net.forward_prefix(test.images, bn_index);
  const Tensor* running_var = net[bn_index].find_tensor("running_var");
  const std::int64_t n = h.shape()[0], features = h.shape()[1];
  double ratio_sum = 0;
  for (std::int64_t f = 0; f < features; ++f) {
    double mean = 0, square = 0;
    for (std::int64_t i = 0; i < n; ++i) mean += h.data<float>()[i * features + f];
    mean /= static_cast<double>(n);
    for (std::int64_t i = 0; i < n; ++i) {
      const double d = h.data<float>()[i * features + f] - mean;
      square += d * d;
    }
    ratio_sum += square / static_cast<double>(n) / running_var->data<float>()[f];
  }
  return ratio_sum / static_cast<double>(features);
}

// BN's running statistics re-estimated over `images` training images in
// batches of 60, with dropout off (the network stays in eval mode; only the
// BN layers train during the pass).
void reestimate(nn::Sequential& net, const io::LabelledImages& train, std::int64_t images) {
  const std::vector<nn::BatchNorm*> bns = layers_of<nn::BatchNorm>(net);
  net.eval();
  nn::recalibrate_running_stats(bns, [&] {
    std::vector<std::int64_t> indices(60);
    for (std::int64_t b0 = 0; b0 + 60 <= images; b0 += 60) {
      for (std::int64_t j = 0; j < 60; ++j) indices[static_cast<std::size_t>(j)] = b0 + j;
      net.forward(train::gather(train, indices.data(), 60).first);
    }
  });
}

}  // namespace

Section run_dropout(const Context& ctx) {
  Section s;
  const bool quick = ctx.options.quick;
  const std::int64_t steps = quick ? 3000 : 20000;
  const double p = 0.5;
  const io::LabelledImages test = first_images(ctx.data.test, ctx.test_images(quick ? 2000 : 10000));
  struct Arm {
    const char* label;
    bool only_last;
  };
  double accuracy_before[2] = {0, 0}, accuracy_after[2] = {0, 0}, smallest_shifted_ratio = 1;
  int arm_index = 0;
  report::Table table({"network", "BN layer", "test var / running var", "test acc", "after re-estimating"});
  for (const Arm& arm : {Arm{"dropout before BN (after every hidden layer)", false},
                         Arm{"dropout after the last BN only", true}}) {
    RunSpec spec{.label = std::string("dropout, mlp bn, ") + arm.label,
                 .model = "mlp",
                 .norm = "bn",
                 .model_options = {.dropout = p},
                 .train = {.batch_size = 60, .sgd = {.lr = 0.5, .momentum = 0.0}, .seed = ctx.options.seed,
                           .limit = ctx.train_images(60000)},
                 .steps = steps,
                 .eval_every = steps,
                 .test_images = test.labels.numel()};
    if (arm.only_last)
      spec.prepare = [](nn::Sequential& net) {  // every Dropout but the last becomes the identity
        std::vector<std::size_t> dropouts;
        for (std::size_t i = 0; i < net.size(); ++i)
          if (dynamic_cast<nn::Dropout*>(&net[i]) != nullptr) dropouts.push_back(i);
        nn::Generator unused(0);
        for (std::size_t d = 0; d + 1 < dropouts.size(); ++d) net.replace(dropouts[d], std::make_unique<nn::Dropout>(0.0, unused));
      };
    Curve c = train_curve(ctx, spec);
    nn::Sequential& net = *c.net;
    const double before = train::evaluate(net, test).accuracy;
    std::vector<double> ratios;
    for (std::size_t i = 0; i < net.size(); ++i)
      if (dynamic_cast<nn::BatchNorm*>(&net[i]) != nullptr) ratios.push_back(variance_ratio(net, i, test));
    reestimate(net, ctx.data.train, ctx.train_images(quick ? 6000 : 30000));
    const double after = train::evaluate(net, test).accuracy;
    accuracy_before[arm_index] = before, accuracy_after[arm_index] = after;
    for (std::size_t l = 1; arm_index == 0 && l < ratios.size(); ++l)  // the BN layers after a dropout
      smallest_shifted_ratio = std::min(smallest_shifted_ratio, ratios[l]);
    ++arm_index;
    for (std::size_t l = 0; l < ratios.size(); ++l)
      table.add({arm.label, std::to_string(l + 1), report::cell("%.3f", ratios[l]),
                 l == 0 ? report::cell("%.4f", before) : "", l == 0 ? report::cell("%.4f", after) : ""});
  }
  table.write_csv(ctx.path("dropout.csv"));

  // The claim: re-estimating the statistics recovers what the variance shift cost.
  const std::string agreement = s.claim("dropout before BN shifts the variance; re-estimating the statistics recovers (Li et al.)", accuracy_after[0] - accuracy_before[0]) + (
      "with dropout before BN the BN layers after a dropout see " + report::cell("%.0f%%", 100 * smallest_shifted_ratio) +
          " of their running variance at test time (at the smallest); re-estimating the statistics moves its accuracy "
          "from " + report::cell("%.4f", accuracy_before[0]) + " to " + report::cell("%.4f", accuracy_after[0]) +
          "; dropout after the last BN only: " + report::cell("%.4f", accuracy_before[1]) + " (re-estimated: " +
          report::cell("%.4f", accuracy_after[1]) + ", so part of any gain from re-estimating is the running "
          "statistics' lag, not the shift).") + "\n\n";
  s.printed = "dropout: sigmoid MLP with BN and dropout " + report::cell("%g", p) + ", " + std::to_string(steps) +
              " steps of batch 60\n" + table.text();
  s.markdown = "## dropout: the variance shift between dropout and BN (Li et al. 2019)\n\n"
               "The sigmoid MLP with BN in each hidden layer, trained " + std::to_string(steps) + " steps (batch 60, "
               "SGD lr 0.5) with dropout p = " + report::cell("%g", p) + " after every hidden layer (so the second and "
               "third BN see dropped inputs), and with dropout only after the last BN. Per BN layer, the variance "
               "of its input over " + std::to_string(test.labels.numel()) + " test images in eval mode (dropout off) "
               "over its running variance, averaged over the features; then the test accuracy before and after the "
               "running statistics are re-estimated on training images with dropout off.\n\n" + table.markdown() +
               "\nPublished (Li et al., CIFAR and ImageNet networks): with dropout before BN the test-time variance "
               "is smaller than the running variance BN learned (a ratio below 1 in the layers after a dropout), "
               "the network does worse than without that order, and re-estimating BN's statistics with dropout off "
               "recovers part of the loss; dropout placed after the last BN shifts nothing. Data: dropout.csv.\n\n";
  s.printed += agreement;
  s.markdown += agreement;
  return s;
}

}  // namespace normkit::lab
