// landscape: Santurkar et al. 2018 ("How Does Batch Normalization Help
// Optimization?", Figure 4) on Fashion-MNIST. VGG-8, a deep plain network like
// the paper's VGG, with and without BN is trained with plain SGD (batch 128)
// at learning rates 0.03 and 0.1 (without BN it stays at chance from 0.2 on,
// and a network that does not learn has no landscape to compare); every few
// steps, on a probe batch of 128 training images, with g the gradient at the
// current weights w, the loss and gradient are evaluated at w - eta g for
// eight step sizes eta in [0.05, 0.4]:
// - variation of loss: the range of L(w - eta g) over eta;
// - gradient predictiveness: the range of ||grad L(w) - grad L(w - eta g)||;
// - effective beta-smoothness: the largest ||delta grad|| / ||delta w||.
// BN layers use the probe batch's statistics (training mode) at every point,
// and the network is restored after each probe.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "curves.hpp"
#include "probes.hpp"
#include "report/gnuplot.hpp"
#include "report/table.hpp"

namespace normkit::lab {
namespace {

struct Probe {
  std::int64_t step;
  double loss_min, loss_max, change_min, change_max, beta;
};

Probe probe_landscape(nn::Sequential& net, const Tensor& x, const Tensor& y, std::int64_t step) {
  const Flat w = parameter_values(net);
  const LossAndGradient at_w = loss_and_gradient(net, x, y);
  const double g_norm = l2_norm(at_w.gradient);
  Probe p{step, INFINITY, -INFINITY, INFINITY, -INFINITY, 0};
  for (int k = 1; k <= 8; ++k) {
    const double eta = 0.05 * k;
    set_parameter_values(net, axpy(w, -eta, at_w.gradient));
    const LossAndGradient moved = loss_and_gradient(net, x, y);
    const double change = l2_distance(at_w.gradient, moved.gradient);
    p.loss_min = std::min(p.loss_min, moved.loss), p.loss_max = std::max(p.loss_max, moved.loss);
    p.change_min = std::min(p.change_min, change), p.change_max = std::max(p.change_max, change);
    if (g_norm > 0) p.beta = std::max(p.beta, change / (eta * g_norm));
  }
  set_parameter_values(net, w);
  return p;
}

struct Arm {
  const char* norm;
  double lr;
  Curve curve;
  std::vector<Probe> probes;
  std::string label() const { return std::string(norm == std::string("bn") ? "BN" : "no BN") + ", lr " + report::cell("%g", lr); }
};

// Plain SGD on VGG-8 at batch 128: without BN it learns at 0.1 (0.77 test
// accuracy after 150 steps, seed 1) and stays at chance from 0.2 on.
constexpr double kLearningRates[] = {0.03, 0.1};

}  // namespace

Section run_landscape(const Context& ctx) {
  Section s;
  const bool quick = ctx.options.quick;
  // VGG-8 does about 20 times the CNN's work a step, and every probe costs
  // nine gradients: 300 steps with six probes (the CNN ran 2400 with 24).
  const std::int64_t steps = quick ? 30 : 300, every = quick ? 15 : 50, batch = 128;
  const std::int64_t images = ctx.train_images(60000);
  std::vector<Arm> arms;
  for (const double lr : kLearningRates)
    for (const char* norm : {"none", "bn"}) arms.push_back(Arm{norm, lr, {}, {}});
  for (Arm& arm : arms) {
    arm.curve = train_curve(ctx, {.label = "landscape, vgg8 " + arm.label(),
                                  .model = "vgg",
                                  .norm = arm.norm,
                                  .model_options = kVgg8,
                                  .train = {.batch_size = batch, .sgd = {.lr = arm.lr, .momentum = 0.0},
                                            .seed = ctx.options.seed, .limit = images},
                                  .steps = steps,
                                  .eval_every = every,
                                  .test_images = ctx.test_images(quick ? 300 : 1000),
                                  .observe = [&](nn::Sequential& net, std::int64_t step) {
                                    const auto [x, y] = probe_batch(ctx.data.train, images, batch, ctx.options.seed, step);
                                    arm.probes.push_back(probe_landscape(net, x, y, step));
                                  }});
  }

  report::Table csv({"norm", "lr", "step", "test_accuracy", "loss_min", "loss_max", "grad_change_min",
                     "grad_change_max", "beta"});
  struct Medians {
    double range, change, beta;
  };
  std::vector<Medians> medians;
  report::Table summary({"network", "test acc", "loss range (median)", "grad change (median max)",
                         "beta-smoothness (median)", "beta (max)"});
  for (const Arm& arm : arms) {
    std::vector<double> ranges, changes, betas;
    for (std::size_t i = 0; i < arm.probes.size(); ++i) {
      const Probe& p = arm.probes[i];
      csv.add({arm.norm, report::cell("%g", arm.lr), std::to_string(p.step),
               report::cell("%.4f", arm.curve.points[i].test_accuracy), report::cell("%.5g", p.loss_min),
               report::cell("%.5g", p.loss_max), report::cell("%.5g", p.change_min), report::cell("%.5g", p.change_max),
               report::cell("%.5g", p.beta)});
      ranges.push_back(p.loss_max - p.loss_min);
      changes.push_back(p.change_max);
      betas.push_back(p.beta);
    }
    medians.push_back({median(ranges), median(changes), median(betas)});
    summary.add({arm.label(),
                 arm.curve.diverged() ? "diverged at step " + std::to_string(arm.curve.diverged_at)
                                      : report::cell("%.4f", arm.curve.final_accuracy()),
                 report::cell("%.4g", median(ranges)), report::cell("%.4g", median(changes)),
                 report::cell("%.4g", median(betas)),
                 report::cell("%.4g", betas.empty() ? NAN : *std::max_element(betas.begin(), betas.end()))});
  }
  csv.write_csv(ctx.path("landscape.csv"));

  const std::string file = ctx.report_file("landscape.csv");
  std::string gp = report::png_preamble(ctx.report_file("landscape.png"), 1350, 760);
  gp += "set multiplot layout 2,3\nset xlabel 'training steps'\nset key top right\n";
  const char* titles[] = {"variation of loss", "gradient predictiveness: ||grad L(w) - grad L(w - eta g)||", "effective beta-smoothness"};
  for (const double rate : kLearningRates)
    for (int panel = 0; panel < 3; ++panel) {
      const std::string lr = report::cell("%g", rate);  // as the CSV's lr column
      gp += std::string("set title '") + titles[panel] + ", lr " + lr + "'\n";
      gp += panel == 0 ? "set logscale y\n" : "unset logscale y\n";
      gp += "plot ";
      for (int a = 0; a < 2; ++a) {
        const std::string norm = a ? "bn" : "none", name = a ? "BN" : "no BN";
        const std::string when = "(strcol(1) eq '" + norm + "' && strcol(2) eq '" + lr + "' ? $3 : 1/0)";
        gp += a ? ", " : "";
        gp += panel == 2 ? "'" + file + "' using " + when + ":9 with linespoints lw 2 title '" + name + "'"
                         : "'" + file + "' using " + when + (panel == 0 ? ":5:6" : ":7:8") +
                               " with filledcurves fs transparent solid 0.35 title '" + name + "'";
      }
      gp += "\n";
    }
  gp += "unset multiplot\n";
  const std::string plot = s.plot("landscape", "landscape.png", ctx.report_file("landscape.gp"), gp);

  // Arms are (no BN, BN) at lr 0.03, then at 0.1.
  // The claim, BN's landscape is smoother: BN's medians are smaller (the
  // mean over the three measures and both rates of log(no BN's / BN's) is
  // positive).
  std::string measured;
  double log_smaller = 0;
  int count = 0;
  for (std::size_t a = 0; a + 1 < arms.size(); a += 2) {
    const Medians &none = medians[a], &bn = medians[a + 1];
    // "Markedly": at least 10% below no BN's.
    const int smaller = (bn.range < 0.9 * none.range) + (bn.change < 0.9 * none.change) + (bn.beta < 0.9 * none.beta);
    log_smaller += std::log(none.range / bn.range) + std::log(none.change / bn.change) + std::log(none.beta / bn.beta);
    count += 3;
    measured += "at lr " + report::cell("%g", arms[a].lr) + ", BN's medians are at least 10% smaller on " + std::to_string(smaller) +
                " of the 3 measures (loss range x" + report::cell("%.2f", bn.range / none.range) + ", gradient change x" +
                report::cell("%.2f", bn.change / none.change) + ", beta x" + report::cell("%.2f", bn.beta / none.beta) +
                " of no BN's); ";
  }
  measured += "over both rates and the three measures BN's medians are x" + report::cell("%.2f", std::exp(-log_smaller / count)) +
              " no BN's (geometric mean; the paper: all three markedly smaller with BN).";
  const std::string agreement = s.claim("BN smooths the loss landscape (Santurkar et al.)", log_smaller / count) + measured + "\n\n";

  s.printed = "landscape: VGG-8, plain SGD, batch 128, probes along -grad every " + std::to_string(every) +
              " steps (eta 0.05..0.4)\n" + summary.text() + agreement;
  s.markdown = "## landscape: the loss landscape with and without BN (Santurkar et al. 2018, Figure 4)\n\n" +
               std::string(kVgg8Text) + " with and without BN, plain SGD (batch 128, no momentum) at learning "
               "rates " + report::cell("%g", kLearningRates[0]) + " and " + report::cell("%g", kLearningRates[1]) + " for " +
               std::to_string(steps) + " steps, the same seed for all. Every " + std::to_string(every) +
               " steps, on a probe batch of 128 training images, with g the gradient at the weights w: the loss "
               "and gradient at w - eta g for eta = 0.05, 0.10, ..., 0.40 (BN uses the probe batch's statistics). "
               "Variation of loss: the range of L(w - eta g); gradient predictiveness: the range of "
               "||grad L(w) - grad L(w - eta g)||; effective beta-smoothness: the largest "
               "||grad L(w) - grad L(w - eta g)|| / ||eta g||. The table gives medians over the probes.\n\n" +
               summary.markdown() + "\n" +
               plot +
               "Published (VGG on CIFAR-10, Figure 4): with BN the loss varies far less along the gradient, the "
               "gradient changes less (it is more predictive) and the effective beta-smoothness is smaller, at "
               "both learning rates; the paper's conclusion is that this smoothness, not reduced internal "
               "covariate shift, lets BN networks take larger steps. Data: landscape.csv.\n\n" + agreement;
  return s;
}

}  // namespace normkit::lab
