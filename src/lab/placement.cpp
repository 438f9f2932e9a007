// placement-and-bias: where BN goes in a block, and the bias before it. The
// CNN with BN between each convolution and its ReLU (as Ioffe and Szegedy
// place it), with BN after the ReLU, and with BN before the ReLU but a bias
// kept in the convolutions. BN subtracts each channel's batch mean, and with
// it any constant the convolution adds: the bias changes nothing, so its
// gradient is zero and it only adds parameters. Measured: parameters, test
// accuracy, the largest |bias gradient| seen over training (beside the
// weights' gradient norm), how far the biases moved, and the network's
// output in training mode with the trained biases against with them zeroed.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "curves.hpp"
#include "normkit/nn/conv2d.hpp"
#include "probes.hpp"
#include "report/table.hpp"

namespace normkit::lab {
namespace {

std::int64_t parameter_count(nn::Module& net) {
  std::int64_t n = 0;
  for (const nn::Parameter* p : net.parameters()) n += p->value.numel();
  return n;
}

}  // namespace

Section run_placement(const Context& ctx) {
  Section s;
  const bool quick = ctx.options.quick;
  const std::int64_t steps = quick ? 400 : 1872, images = ctx.train_images(60000);
  struct Arm {
    const char* label;
    train::ModelOptions options;
    Curve curve;
    std::int64_t parameters = 0;
    double max_bias_grad = 0, weight_grad = 0, bias_moved = 0, zeroed_output_change = NAN;
  };
  std::vector<Arm> arms;
  arms.push_back({"conv -> BN -> ReLU (no bias)", {}, {}});
  arms.push_back({"conv -> ReLU -> BN", {.norm_after_activation = true}, {}});
  arms.push_back({"conv + bias -> BN -> ReLU", {.bias_before_norm = true}, {}});
  for (Arm& arm : arms) {
    std::vector<Tensor> initial_biases;
    arm.curve = train_curve(ctx, {.label = std::string("placement, cnn ") + arm.label,
                                  .model = "cnn",
                                  .norm = "bn",
                                  .model_options = arm.options,
                                  .train = {.batch_size = 128, .sgd = {.lr = 0.1, .momentum = 0.9},
                                            .seed = ctx.options.seed, .limit = images},
                                  .steps = steps,
                                  .eval_every = steps / 4,
                                  .test_images = ctx.test_images(quick ? 2000 : 10000),
                                  .observe = [&](nn::Sequential& net, std::int64_t) {
                                    // The last step's gradients are still in place.
                                    for (nn::Conv2d* c : layers_of<nn::Conv2d>(net)) {
                                      if (c->bias.grad.defined())
                                        arm.max_bias_grad = std::max(arm.max_bias_grad, max_abs(c->bias.grad));
                                      arm.weight_grad = std::max(arm.weight_grad, max_abs(c->weight.grad));
                                    }
                                  },
                                  .prepare = [&](nn::Sequential& net) {
                                    for (nn::Conv2d* c : layers_of<nn::Conv2d>(net))
                                      initial_biases.push_back(c->bias.value.defined() ? Tensor::copy_of(c->bias.value)
                                                                                       : Tensor());
                                  }});
    nn::Sequential& net = *arm.curve.net;
    arm.parameters = parameter_count(net);
    const std::vector<nn::Conv2d*> convs = layers_of<nn::Conv2d>(net);
    for (std::size_t c = 0; c < convs.size(); ++c)
      if (convs[c]->bias.value.defined())
        for (std::int64_t i = 0; i < convs[c]->bias.value.numel(); ++i)
          arm.bias_moved = std::max(arm.bias_moved, std::fabs(static_cast<double>(convs[c]->bias.value.data<float>()[i]) -
                                                              initial_biases[c].data<float>()[i]));
    if (arm.options.bias_before_norm) {
      const auto [x, y] = probe_batch(ctx.data.train, images, 128, ctx.options.seed, 0);
      const Tensor with = training_mode_output(net, x);
      for (nn::Conv2d* c : convs) std::fill_n(c->bias.value.data<float>(), c->bias.value.numel(), 0.0f);
      arm.zeroed_output_change = relative_change(training_mode_output(net, x), with);
    }
  }

  report::Table table({"network", "parameters", "test acc", "max |bias grad|", "max |weight grad|",
                       "bias moved (max)", "output change, biases zeroed"});
  for (const Arm& arm : arms) {
    const bool bias = arm.options.bias_before_norm;
    table.add({arm.label, std::to_string(arm.parameters),
               arm.curve.diverged() ? "diverged" : report::cell("%.4f", arm.curve.final_accuracy()),
               bias ? report::cell("%.3g", arm.max_bias_grad) : "-", report::cell("%.3g", arm.weight_grad),
               bias ? report::cell("%.3g", arm.bias_moved) : "-",
               bias ? report::cell("%.3g", arm.zeroed_output_change) + " (relative)" : "-"});
  }
  table.write_csv(ctx.path("placement.csv"));

  const Arm& bias = arms[2];
  const bool zero = bias.max_bias_grad < 1e-4 * bias.weight_grad && bias.zeroed_output_change < 1e-4;
  const std::string agreement = s.claim_holds("a bias before BN is redundant", zero) + (
      "the largest bias gradient seen is " + report::cell("%.2g", bias.max_bias_grad / bias.weight_grad) +
                " of the largest weight gradient, and zeroing the trained biases changes the logits by " +
                report::cell("%.2g", bias.zeroed_output_change) + " (relative): the same function with " +
                std::to_string(bias.parameters - arms[0].parameters) + " more parameters.") + "\n\n";
  // Before or after the ReLU "about equal": within half a point of each other.
  const auto final_of = [](const Curve& c) { return c.diverged() ? 0.0 : c.final_accuracy(); };
  const double after_minus_before = final_of(arms[1].curve) - final_of(arms[0].curve);
  const std::string placement_agreement =
      s.claim("BN before or after ReLU: about equal", 0.005 - std::fabs(after_minus_before)) +
      "BN after the ReLU ends " + report::cell("%+.4f", after_minus_before) +
      " against BN before it (the claim: about equal; here within 0.005).\n\n";
  s.printed = "placement-and-bias: CNN with BN, SGD lr 0.1 momentum 0.9, batch 128, " + std::to_string(steps) +
              " steps\n" + table.text();
  s.markdown = "## placement-and-bias: BN before or after ReLU, and the bias before BN\n\n"
               "The CNN with BatchNorm placed between each convolution and its ReLU (Ioffe and Szegedy's place, "
               "normkit's default), after the ReLU, and before the ReLU with the convolutions' bias kept; the same "
               "seed, SGD lr 0.1, momentum 0.9, no weight decay, batch 128, " + std::to_string(steps) + " steps. "
               "The gradients are read after every " + std::to_string(steps / 4) + " steps; \"output change\" is the "
               "largest change of the logits of 128 training images in training mode when the trained biases are "
               "set to zero, relative to the largest logit.\n\n" + table.markdown() +
               "\nWhat BN's definition predicts: a per-channel constant added before BN is removed with the batch "
               "mean, so the bias gets a zero gradient (up to rounding), never moves without weight decay, and "
               "the network computes the same function with or without it: " +
               std::to_string(arms[2].parameters - arms[0].parameters) + " parameters for nothing. Whether BN goes "
               "before or after the ReLU is an empirical question (the original paper puts it before; many "
               "practitioners report after works as well or better). Data: placement.csv.\n\n";
  s.printed += agreement + placement_agreement;
  s.markdown += agreement + placement_agreement;
  return s;
}

}  // namespace normkit::lab
