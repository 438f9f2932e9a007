// scale-invariance: BN(c W x) = BN(W x) for any c > 0, so a layer before BN
// computes the same function at every scale of its weights, and its gradient
// scales as 1/c (van Laarhoven 2017; Arora et al. 2019). Measured on the CNN:
// the training-mode logits and the convolutions' gradient norms when every
// convolution's weights are multiplied by c, with BN and, for contrast,
// without; then, over training with and without weight decay, each
// convolution's ||w|| and the effective learning rate ||grad|| / ||w|| (the
// relative size of a step): weight decay shrinks ||w|| and so makes the
// effective learning rate grow, while without it ||w|| only grows.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "curves.hpp"
#include "normkit/nn/conv2d.hpp"
#include "probes.hpp"
#include "report/gnuplot.hpp"
#include "report/table.hpp"

namespace normkit::lab {
namespace {

void scale_convolutions(nn::Sequential& net, double c) {
  for (nn::Conv2d* conv : layers_of<nn::Conv2d>(net))
    for (std::int64_t i = 0; i < conv->weight.value.numel(); ++i)
      conv->weight.value.data<float>()[i] = static_cast<float>(conv->weight.value.data<float>()[i] * c);
}

struct Scaled {
  double output_change;  // max |logits(c) - logits(1)| / max |logits(1)|
  double grad_ratio;     // ||grad W||(c) / ||grad W||(1), first convolution
};

// Logits and first-convolution gradient of one batch in training mode, with
// every convolution's weights times c; the network is restored after.
Scaled scaled_response(nn::Sequential& net, const Tensor& x, const Tensor& y, double c, const Tensor& base_logits,
                       double base_grad) {
  const nn::StateDict saved = net.state_dict();
  scale_convolutions(net, c);
  const Tensor logits = training_mode_output(net, x);
  loss_and_gradient(net, x, y);
  const double grad = l2_norm(layers_of<nn::Conv2d>(net)[0]->weight.grad);
  net.load_state_dict(saved);
  return {relative_change(logits, base_logits), grad / std::max(base_grad, 1e-30)};
}

}  // namespace

Section run_scale_invariance(const Context& ctx) {
  Section s;
  const bool quick = ctx.options.quick;
  const std::int64_t images = ctx.train_images(60000);
  const std::vector<double> scales{0.01, 0.1, 10, 100};
  const auto [x, y] = probe_batch(ctx.data.train, images, 128, ctx.options.seed, 0);

  // 1. The measured invariance, at initialisation.
  bool invariant = true;  // with BN, at c >= 1 (where eps does not matter)
  report::Table invariance({"network", "c", "output change (relative)", "||grad W1|| ratio", "1/c"});
  for (const char* norm : {"bn", "none"}) {
    nn::Generator gen(ctx.options.seed);
    const auto net = train::make_model("cnn", norm, gen);
    const Tensor base_logits = training_mode_output(*net, x);
    loss_and_gradient(*net, x, y);
    const double base_grad = l2_norm(layers_of<nn::Conv2d>(*net)[0]->weight.grad);
    for (const double c : scales) {
      const Scaled r = scaled_response(*net, x, y, c, base_logits, base_grad);
      if (norm == std::string("bn") && c >= 1)
        invariant = invariant && r.output_change < 1e-3 && std::fabs(r.grad_ratio * c - 1) < 0.05;
      invariance.add({norm == std::string("bn") ? "with BN" : "without BN", report::cell("%g", c),
                      report::cell("%.3g", r.output_change), report::cell("%.4g", r.grad_ratio), report::cell("%g", 1 / c)});
    }
  }
  invariance.write_csv(ctx.path("scale_invariance.csv"));

  // 2. ||w|| and the effective learning rate over training.
  const std::int64_t steps = quick ? 600 : 2340, every = quick ? 50 : 117;
  const double lr = 0.1;
  report::Table curve({"weight_decay", "step", "layer", "weight_norm", "grad_norm", "effective_lr", "test_accuracy"});
  double effective_lr_growth[2] = {1, 1};  // last / first, mean over layers; without and with decay
  int decay_index = 0;
  report::Table summary({"weight decay", "layer", "||w|| first -> last", "||grad||/||w|| first -> last", "test acc"});
  for (const double wd : {0.0, 5e-4}) {
    struct Row {
      std::int64_t step;
      std::vector<double> w, g;
    };
    std::vector<Row> rows;
    const Curve c = train_curve(ctx, {.label = "scale-invariance, cnn bn, weight decay " + report::cell("%g", wd),
                                      .model = "cnn",
                                      .norm = "bn",
                                      .train = {.batch_size = 128, .sgd = {.lr = lr, .momentum = 0.9, .weight_decay = wd},
                                                .seed = ctx.options.seed, .limit = images},
                                      .steps = steps,
                                      .eval_every = every,
                                      .test_images = ctx.test_images(1000),
                                      .observe = [&](nn::Sequential& net, std::int64_t step) {
                                        Row r{step, {}, {}};
                                        for (nn::Conv2d* conv : layers_of<nn::Conv2d>(net)) {
                                          r.w.push_back(l2_norm(conv->weight.value));
                                          r.g.push_back(l2_norm(conv->weight.grad));
                                        }
                                        rows.push_back(r);
                                      }});
    for (std::size_t i = 0; i < rows.size(); ++i)
      for (std::size_t l = 0; l < rows[i].w.size(); ++l)
        curve.add({report::cell("%g", wd), std::to_string(rows[i].step), "conv " + std::to_string(l + 1),
                   report::cell("%.5g", rows[i].w[l]), report::cell("%.5g", rows[i].g[l]),
                   report::cell("%.5g", rows[i].g[l] / rows[i].w[l]), report::cell("%.4f", c.points[i].test_accuracy)});
    double growth = 0;
    for (std::size_t l = 0; !rows.empty() && l < rows.front().w.size(); ++l)
      growth += (rows.back().g[l] / rows.back().w[l]) / (rows.front().g[l] / rows.front().w[l]) /
                static_cast<double>(rows.front().w.size());
    effective_lr_growth[decay_index++] = growth;
    for (std::size_t l = 0; !rows.empty() && l < rows.front().w.size(); ++l)
      summary.add({report::cell("%g", wd), "conv " + std::to_string(l + 1),
                   report::cell("%.3f", rows.front().w[l]) + " -> " + report::cell("%.3f", rows.back().w[l]),
                   report::cell("%.4f", rows.front().g[l] / rows.front().w[l]) + " -> " +
                       report::cell("%.4f", rows.back().g[l] / rows.back().w[l]),
                   c.diverged() ? "diverged" : report::cell("%.4f", c.final_accuracy())});
  }
  curve.write_csv(ctx.path("scale_invariance_training.csv"));

  const std::string file = ctx.report_file("scale_invariance_training.csv");
  std::string gp = report::png_preamble(ctx.report_file("scale_invariance.png"), 1100, 420);
  gp += "set multiplot layout 1,2\nset xlabel 'training steps'\nset key top left\n";
  for (int panel = 0; panel < 2; ++panel) {
    gp += panel ? "set title 'effective learning rate ||grad|| / ||w||'\nplot "
                : "set title 'weight norm ||w|| of the convolutions before BN'\nplot ";
    int n = 0;
    for (const char* wd : {"0", "0.0005"})
      for (const char* layer : {"conv 1", "conv 2"})
        gp += std::string(n++ ? ", " : "") + "'" + file + "' using (strcol(1) eq '" + wd + "' && strcol(3) eq '" + layer +
              "' ? $2 : 1/0):" + (panel ? "6" : "4") + " with lines lw 2 title '" + layer + ", wd " + wd + "'";
    gp += "\n";
  }
  gp += "unset multiplot\n";
  const std::string plot = s.plot("scale-invariance", "scale_invariance.png", ctx.report_file("scale_invariance.gp"), gp);

  // The claims: the layer before BN is scale-invariant (in every seed), and
  // weight decay makes the effective learning rate grow more than without.
  // One claim a statement: their order is the text's (operands of + are unsequenced).
  std::string agreement =
      s.claim_holds("BN makes the layer before it scale-invariant", invariant) +
      "with BN the logits do not move (below 1e-3 relative) and the gradient scales as 1/c, for c >= 1.\n\n";
  agreement += s.claim("weight decay raises the effective learning rate before BN", effective_lr_growth[1] - effective_lr_growth[0]) + "over training ||grad|| / ||w|| changed by x" +
      report::cell("%.2f", effective_lr_growth[0]) + " without weight decay and x" +
      report::cell("%.2f", effective_lr_growth[1]) + " with it (mean over the convolutions; the claim: weight decay "
      "raises the effective learning rate).\n\n";
  s.printed = "scale-invariance: CNN, every convolution's weights times c (training-mode logits of 128 images)\n" +
              invariance.text() + "\nover training (SGD lr 0.1, momentum 0.9, " + std::to_string(steps) + " steps):\n" +
              summary.text();
  s.markdown = "## scale-invariance: BN makes the layer before it scale-invariant\n\n"
               "The CNN at initialisation, every convolution's weights multiplied by c: the largest change of the "
               "training-mode logits of 128 training images (relative to the largest logit) and the ratio of the "
               "first convolution's weight-gradient norm to the unscaled one. With BN the output should not move "
               "(up to BN's eps, which matters once c^2 x variance nears 1e-5) and the gradient should scale as "
               "1/c; without BN neither holds.\n\n" + invariance.markdown() +
               "\nThen the CNN with BN trained with constant lr " + report::cell("%g", lr) + " (momentum 0.9) for " +
               std::to_string(steps) + " steps with and without weight decay 5e-4, each convolution's ||w|| and "
               "||grad|| / ||w|| (the relative size of a step, which is what matters for a scale-invariant layer) "
               "every " + std::to_string(every) + " steps:\n\n" + summary.markdown() + "\n" +
               plot +
               "Published (van Laarhoven 2017; Hoffer et al. 2018; Zhang et al. 2019): for a weight before BN, "
               "weight decay does not regularize the function, it shrinks ||w|| and so raises the effective "
               "learning rate; without it the gradient, orthogonal to w, makes ||w|| grow and the effective "
               "learning rate decay. Data: scale_invariance.csv, scale_invariance_training.csv.\n\n";
  s.printed += agreement;
  s.markdown += agreement;
  return s;
}

}  // namespace normkit::lab
