// convergence: Ioffe and Szegedy 2015, section 4.1 (their Figure 1), on
// Fashion-MNIST: the 784-100-100-100-10 sigmoid network with batch 60, with
// and without BatchNorm. Test accuracy against steps, and the 15th, 50th and
// 85th percentiles of one last-hidden-layer sigmoid's input over training.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "curves.hpp"
#include "seeds.hpp"
#include "normkit/nn/activation.hpp"
#include "report/gnuplot.hpp"
#include "report/table.hpp"

namespace normkit::lab {
namespace {

// The index of the network's last Sigmoid layer.
std::size_t last_sigmoid(nn::Sequential& net) {
  std::size_t found = net.size();
  for (std::size_t i = 0; i < net.size(); ++i)
    if (dynamic_cast<nn::Sigmoid*>(&net[i]) != nullptr) found = i;
  return found;
}

struct Percentiles {
  std::int64_t step;
  double p15, p50, p85;
};

// The percentiles of unit `unit`'s input to the last sigmoid over `images`,
// in eval mode (a BN layer uses its running statistics, as at test time).
Percentiles sigmoid_input_percentiles(nn::Sequential& net, const io::LabelledImages& images, std::int64_t unit,
                                      std::int64_t step) {
  const bool was_training = net.is_training();
  net.eval();
  const Tensor h = net.forward_prefix(images.images, last_sigmoid(net));
  net.train(was_training);
  const std::int64_t n = h.shape()[0], width = h.shape()[1];
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = h.data<float>()[i * width + unit];
  std::sort(v.begin(), v.end());
  const auto at = [&](double q) { return v[static_cast<std::size_t>(q * static_cast<double>(n - 1) + 0.5)]; };
  return {step, at(0.15), at(0.50), at(0.85)};
}

}  // namespace

// VGG-8's learning rate, the same with and without BN.
constexpr double kVggLr = 0.02;

Section run_convergence(const Context& ctx) {
  Section s;
  const bool quick = ctx.options.quick;
  const std::int64_t steps = quick ? 5000 : 50000, eval_every = quick ? 250 : 1000;
  const std::int64_t unit = 7;  // "a typical sigmoid": any fixed unit of the last hidden layer
  const io::LabelledImages probe = first_images(ctx.data.test, ctx.test_images(1000));
  struct Arm {
    const char* norm = "";
    Curve curve;
    std::vector<Percentiles> percentiles;
  };
  std::vector<Arm> arms(2);
  arms[0].norm = "none";
  arms[1].norm = "bn";
  for (Arm& arm : arms) {
    RunSpec spec{.label = std::string("convergence, mlp norm=") + arm.norm,
                 .model = "mlp",
                 .norm = arm.norm,
                 .train = {.batch_size = 60, .sgd = {.lr = 0.5, .momentum = 0.0}, .seed = ctx.options.seed,
                           .limit = ctx.train_images(60000)},
                 .steps = steps,
                 .eval_every = eval_every,
                 .test_images = ctx.test_images(10000),
                 .observe = [&](nn::Sequential& net, std::int64_t step) {
                   arm.percentiles.push_back(sigmoid_input_percentiles(net, probe, unit, step));
                 }};
    arm.curve = train_curve(ctx, spec);
  }

  // The deep plain network: VGG-8 (8 convolutions, no residuals) with and
  // without BN, SGD with momentum at one learning rate for both; Santurkar et
  // al.'s VGG showed BN's speed-up most clearly.
  const std::int64_t vgg_steps = quick ? 30 : 2000, vgg_every = quick ? 10 : 100;
  const std::int64_t vgg_test_images = ctx.test_images(quick ? 300 : 2000);
  Curve vgg[2];
  for (int b = 0; b < 2; ++b)
    vgg[b] = train_curve(ctx, {.label = std::string("convergence, vgg8 norm=") + (b ? "bn" : "none"),
                               .model = "vgg",
                               .norm = b ? "bn" : "none",
                               .model_options = kVgg8,
                               .train = {.batch_size = 64, .sgd = {.lr = kVggLr, .momentum = 0.9},
                                         .seed = ctx.options.seed, .limit = ctx.train_images(60000)},
                               .steps = vgg_steps,
                               .eval_every = vgg_every,
                               .test_images = vgg_test_images});
  report::Table vgg_curves({"step", "norm", "train_loss", "test_accuracy"});
  report::Table vgg_summary({"steps", "VGG-8 test acc, no BN", "VGG-8 test acc, BN"});
  for (int b = 0; b < 2; ++b)
    for (const CurvePoint& p : vgg[b].points)
      vgg_curves.add({std::to_string(p.step), b ? "bn" : "none", report::cell("%.5f", p.train_loss),
                      report::cell("%.4f", p.test_accuracy)});
  for (std::size_t i = 0; i < vgg[0].points.size(); ++i) {
    const std::int64_t step = vgg[0].points[i].step;
    if (step != vgg_every && step % (vgg_steps / 5) != 0) continue;
    vgg_summary.add({std::to_string(step), report::cell("%.4f", vgg[0].points[i].test_accuracy),
                     i < vgg[1].points.size() ? report::cell("%.4f", vgg[1].points[i].test_accuracy) : "diverged"});
  }
  vgg_curves.write_csv(ctx.path("convergence_vgg.csv"));

  report::Table curves({"step", "norm", "train_loss", "test_accuracy", "p15", "p50", "p85"});
  for (const Arm& arm : arms)
    for (std::size_t i = 0; i < arm.curve.points.size(); ++i) {
      const CurvePoint& p = arm.curve.points[i];
      const Percentiles& q = arm.percentiles[i];
      curves.add({std::to_string(p.step), arm.norm, report::cell("%.5f", p.train_loss),
                  report::cell("%.4f", p.test_accuracy), report::cell("%.4f", q.p15), report::cell("%.4f", q.p50),
                  report::cell("%.4f", q.p85)});
    }
  curves.write_csv(ctx.path("convergence.csv"));

  // The summary: accuracy at a few points of the run, as the paper's Figure 1(a) reads.
  report::Table summary({"steps", "test acc, no BN", "test acc, BN"});
  for (const CurvePoint& p : arms[0].curve.points) {
    const bool shown = p.step == eval_every || p.step % (steps / 5) == 0;
    if (!shown) continue;
    std::string bn = "-";
    for (const CurvePoint& q : arms[1].curve.points)
      if (q.step == p.step) bn = report::cell("%.4f", q.test_accuracy);
    summary.add({std::to_string(p.step), report::cell("%.4f", p.test_accuracy), bn});
  }
  report::Table spread({"network", "p15 -> p85 at first point", "at last point", "median drift (max - min)"});
  for (const Arm& arm : arms) {
    const auto [lo, hi] = std::minmax_element(arm.percentiles.begin(), arm.percentiles.end(),
                                              [](const Percentiles& a, const Percentiles& b) { return a.p50 < b.p50; });
    spread.add({arm.norm == std::string("bn") ? "BN" : "no BN",
                report::cell("%.2f", arm.percentiles.front().p15) + " .. " + report::cell("%.2f", arm.percentiles.front().p85),
                report::cell("%.2f", arm.percentiles.back().p15) + " .. " + report::cell("%.2f", arm.percentiles.back().p85),
                report::cell("%.3f", hi->p50 - lo->p50)});
  }

  const std::string csv = ctx.report_file("convergence.csv"), vgg_csv = ctx.report_file("convergence_vgg.csv");
  std::string gp = report::png_preamble(ctx.report_file("convergence.png"), 1200, 840);
  gp += "set multiplot layout 2,2\nset xlabel 'training steps'\n"
        "set title 'MLP test accuracy (Ioffe and Szegedy Fig. 1a)'\nset key bottom right\n"
        "plot " + mean_and_interval(csv, curves.columns(), 1, 4, "strcol(2) eq 'none'", "without BN", 1) + ", " +
        mean_and_interval(csv, curves.columns(), 1, 4, "strcol(2) eq 'bn'", "with BN", 2) + "\n"
        "set title 'VGG-8 test accuracy'\n"
        "plot " + mean_and_interval(vgg_csv, vgg_curves.columns(), 1, 4, "strcol(2) eq 'none'", "without BN", 1) + ", " +
        mean_and_interval(vgg_csv, vgg_curves.columns(), 1, 4, "strcol(2) eq 'bn'", "with BN", 2) + "\n";
  // Both distributions on one scale, so their spreads compare by eye.
  double lo = 0, hi = 0;
  for (const Arm& arm : arms)
    for (const Percentiles& q : arm.percentiles) lo = std::min(lo, q.p15), hi = std::max(hi, q.p85);
  gp += "set yrange [" + report::cell("%.2f", lo - 0.5) + ":" + report::cell("%.2f", hi + 0.5) + "]\n";
  const char* titles[] = {"sigmoid input without BN (Fig. 1b)", "sigmoid input with BN (Fig. 1c)"};
  for (int a = 0; a < 2; ++a)
    gp += std::string("set title '") + titles[a] + "'\nset key top right\nplot '" + csv + "' using (strcol(2) eq '" +
          arms[static_cast<std::size_t>(a)].norm + "' ? $1 : 1/0):5:7 with filledcurves fs transparent solid 0.25 "
          "title '15th-85th percentile', '" + csv + "' using (strcol(2) eq '" + arms[static_cast<std::size_t>(a)].norm +
          "' ? $1 : 1/0):6 with lines lw 2 title 'median'\n";
  gp += "unset multiplot\n";
  const std::string plot = s.plot("convergence", "convergence.png", ctx.report_file("convergence.gp"), gp);

  // The claim, BN reaches higher accuracy sooner: BN's test accuracy above
  // no BN's on average over the evaluation points (the area between the
  // curves), and at the first point.
  const double above = mean_accuracy_gap(arms[0].curve, arms[1].curve), vgg_above = mean_accuracy_gap(vgg[0], vgg[1]);
  // One claim a statement: their order is the text's (operands of + are unsequenced).
  std::string agreement =
      s.claim("BN converges faster (Ioffe and Szegedy)", above) + "over the run the MLP's test accuracy with BN is " +
      report::cell("%+.4f", above) + " against without on average (the paper: higher, sooner).\n\n";
  agreement += s.claim("BN converges faster in a deep plain network", vgg_above) +
      "over the run VGG-8's test accuracy with BN is " + report::cell("%+.4f", vgg_above) +
      " against without on average.\n\n";
  s.printed = "convergence: test accuracy over training (MLP 784-100-100-100-10, sigmoid, batch 60, SGD lr 0.5)\n" +
              summary.text() + "\ninput of one last-layer sigmoid (unit " + std::to_string(unit) + ", " +
              std::to_string(probe.labels.numel()) + " test images):\n" + spread.text() +
              "\nVGG-8 (8 convolutions, batch 64, SGD lr " + report::cell("%g", kVggLr) + " momentum 0.9)\n" +
              vgg_summary.text() + agreement;
  s.markdown = "## convergence: BatchNorm in the sigmoid MLP (Ioffe and Szegedy 2015, Figure 1) and in VGG-8\n\n"
               "Ioffe and Szegedy's MNIST network on Fashion-MNIST: 784-100-100-100-10 with sigmoid units, "
               "batch 60, plain SGD (lr 0.5), " + std::to_string(steps) + " steps, the same seed and so the same "
               "initial weights and batches for both; BN between each hidden Linear and its sigmoid. Test accuracy "
               "on " + std::to_string(ctx.test_images(10000)) + " test images every " + std::to_string(eval_every) +
               " steps; the 15th, 50th and 85th percentiles of one last-hidden-layer sigmoid's input over " +
               std::to_string(probe.labels.numel()) + " test images.\n\n" + summary.markdown() + "\n" +
               spread.markdown() + "\n" +
               "The deep plain network: " + std::string(kVgg8Text) + " with and without BN, batch 64, SGD with "
               "momentum 0.9 at lr " + report::cell("%g", kVggLr) + " for both, " +
               std::to_string(vgg_steps) + " steps, test accuracy on " + std::to_string(vgg_test_images) +
               " test images every " + std::to_string(vgg_every) + " steps:\n\n" + vgg_summary.markdown() + "\n" +
               plot +
               "Published (MNIST, 50000 steps): with BN the network reaches higher test accuracy sooner (Fig. 1a), "
               "and the sigmoid's input distribution stays stable over training, while without BN its mean and "
               "variance drift (Fig. 1b, c). Data: convergence.csv, convergence_vgg.csv.\n\n" + agreement;
  return s;
}

}  // namespace normkit::lab
