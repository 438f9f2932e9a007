// ics: Santurkar et al. 2018, Definition 2.1 (their Figure 5) on
// Fashion-MNIST: internal covariate shift measured by what it is said to
// harm, the gradient. For layer i, G is the gradient of its weight at the
// current weights, and G' the same gradient after every layer below i has
// taken its SGD update (w - lr x its gradient) while i and the layers above
// keep theirs; both on the same probe batch of 128 training images (BN uses
// its statistics). ||G - G'|| (also relative to ||G||) and cos(G, G') for
// each weight layer but the first, every few steps, with and without BN.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "curves.hpp"
#include "normkit/nn/conv2d.hpp"
#include "normkit/nn/linear.hpp"
#include "probes.hpp"
#include "report/gnuplot.hpp"
#include "report/table.hpp"

namespace normkit::lab {
namespace {

struct WeightLayer {
  std::size_t index;  // in the Sequential
  std::string name;   // "conv 2", "linear 3", ...
};

std::vector<WeightLayer> weight_layers(nn::Sequential& net) {
  std::vector<WeightLayer> out;
  for (std::size_t i = 0; i < net.size(); ++i) {
    const bool conv = dynamic_cast<nn::Conv2d*>(&net[i]) != nullptr;
    if (conv || dynamic_cast<nn::Linear*>(&net[i]) != nullptr)
      out.push_back({i, std::string(conv ? "conv " : "linear ") + std::to_string(out.size() + 1)});
  }
  return out;
}

// The Sequential layer a named_parameters() key belongs to ("4.weight" -> 4).
std::size_t owner(const std::string& key) { return std::stoul(key.substr(0, key.find('.'))); }

struct Shift {
  std::int64_t step;
  std::string layer;
  double distance, relative, cos;
};

std::vector<Shift> measure_shift(nn::Sequential& net, const Tensor& x, const Tensor& y, double lr, std::int64_t step) {
  const Flat w = parameter_values(net);
  const LossAndGradient before = loss_and_gradient(net, x, y);
  const auto named = net.named_parameters();
  std::vector<Shift> out;
  const std::vector<WeightLayer> layers = weight_layers(net);
  for (std::size_t l = 1; l < layers.size(); ++l) {
    // The layers below take their step; layer l and those above do not.
    Flat moved = w;
    std::size_t at = 0;
    for (const auto& [key, p] : named) {
      const auto n = static_cast<std::size_t>(p->value.numel());
      if (owner(key) < layers[l].index)
        for (std::size_t i = at; i < at + n; ++i) moved[i] = static_cast<float>(w[i] - lr * before.gradient[i]);
      at += n;
    }
    set_parameter_values(net, moved);
    const LossAndGradient after = loss_and_gradient(net, x, y);
    const auto [begin, end] = parameter_range(net, std::to_string(layers[l].index) + ".weight");
    const double distance = l2_distance(before.gradient, after.gradient, begin, end);
    const double g = l2_norm(before.gradient, begin, end);
    out.push_back({step, layers[l].name, distance, g > 0 ? distance / g : 0.0,
                   cosine(before.gradient, after.gradient, begin, end)});
  }
  set_parameter_values(net, w);
  return out;
}

}  // namespace

Section run_ics(const Context& ctx) {
  Section s;
  const bool quick = ctx.options.quick;
  const std::int64_t steps = quick ? 300 : 2400, every = quick ? 30 : 100, batch = 128;
  const double lr = 0.1;
  const std::int64_t images = ctx.train_images(60000);
  struct Arm {
    const char* norm;
    const char* name;
    Curve curve;
    std::vector<Shift> shifts;
  };
  std::vector<Arm> arms;
  arms.push_back(Arm{"none", "no BN", {}, {}});
  arms.push_back(Arm{"bn", "BN", {}, {}});
  for (Arm& arm : arms)
    arm.curve = train_curve(ctx, {.label = std::string("ics, cnn ") + arm.name,
                                  .model = "cnn",
                                  .norm = arm.norm,
                                  .train = {.batch_size = batch, .sgd = {.lr = lr, .momentum = 0.0},
                                            .seed = ctx.options.seed, .limit = images},
                                  .steps = steps,
                                  .eval_every = every,
                                  .test_images = ctx.test_images(1000),
                                  .observe = [&](nn::Sequential& net, std::int64_t step) {
                                    const auto [x, y] = probe_batch(ctx.data.train, images, batch, ctx.options.seed, step);
                                    for (Shift& shift : measure_shift(net, x, y, lr, step)) arm.shifts.push_back(shift);
                                  }});

  report::Table csv({"norm", "layer", "step", "distance", "relative", "cos"});
  report::Table summary({"layer", "network", "||G - G'|| (median)", "relative to ||G||", "cos(G, G') (median)",
                         "test acc"});
  std::vector<std::string> layer_names;
  for (const Shift& shift : arms[0].shifts)
    if (std::find(layer_names.begin(), layer_names.end(), shift.layer) == layer_names.end())
      layer_names.push_back(shift.layer);
  int reduced = 0;       // layers where BN's median relative shift is the smaller
  double log_ratio = 0;  // the sum over layers of log(BN's median relative shift / no BN's)
  for (const std::string& layer : layer_names) {
    double relative_median[2] = {0, 0};
    for (std::size_t a = 0; a < arms.size(); ++a) {
      const Arm& arm = arms[a];
      std::vector<double> distance, relative, cos;
      for (const Shift& shift : arm.shifts) {
        if (shift.layer != layer) continue;
        distance.push_back(shift.distance), relative.push_back(shift.relative), cos.push_back(shift.cos);
        csv.add({arm.norm, shift.layer, std::to_string(shift.step), report::cell("%.5g", shift.distance),
                 report::cell("%.5g", shift.relative), report::cell("%.5f", shift.cos)});
      }
      relative_median[a] = median(relative);
      summary.add({layer, arm.name, report::cell("%.4g", median(distance)), report::cell("%.4g", median(relative)),
                   report::cell("%.4f", median(cos)),
                   arm.curve.diverged() ? "diverged" : report::cell("%.4f", arm.curve.final_accuracy())});
    }
    reduced += relative_median[1] < relative_median[0];
    log_ratio += std::log(relative_median[1] / relative_median[0]);
  }
  const int layers = static_cast<int>(layer_names.size());
  // The claim, BN does not reduce this shift: BN's relative shift is larger
  // than no BN's (the mean over layers of the log of their ratio is positive).
  const std::string agreement =
      s.claim("BN does not reduce internal covariate shift (Santurkar et al.)", log_ratio / layers) + "BN's median ||G - G'|| / ||G|| is smaller than no BN's in " +
      std::to_string(reduced) + " of " + std::to_string(layers) + " layers; over the layers it is x" +
      report::cell("%.2f", std::exp(log_ratio / layers)) + " no BN's (geometric mean; the paper: BN does not reduce "
      "this shift, it is often larger).\n\n";
  csv.write_csv(ctx.path("ics.csv"));

  const std::string file = ctx.report_file("ics.csv");
  std::string gp = report::png_preamble(ctx.report_file("ics.png"), 420 * static_cast<int>(layer_names.size()), 760);
  gp += "set multiplot layout 2," + std::to_string(layer_names.size()) + "\nset xlabel 'training steps'\nset key top right\n";
  for (int metric = 0; metric < 2; ++metric)
    for (const std::string& layer : layer_names) {
      gp += "set title '" + layer + (metric ? ": cos(G, G'')'" : ": ||G - G''||'") + "\nplot ";
      for (std::size_t a = 0; a < arms.size(); ++a)
        gp += std::string(a ? ", " : "") + "'" + file + "' using (strcol(1) eq '" + arms[a].norm + "' && strcol(2) eq '" +
              layer + "' ? $3 : 1/0):" + (metric ? "6" : "4") + " with linespoints lw 2 title '" + arms[a].name + "'";
      gp += "\n";
    }
  gp += "unset multiplot\n";
  const std::string plot = s.plot("ics", "ics.png", ctx.report_file("ics.gp"), gp);

  s.printed = "ics: CNN, plain SGD lr " + report::cell("%g", lr) + ", gradient of each layer before (G) and after (G') "
              "the layers below take their step\n" + summary.text() + agreement;
  s.markdown = "## ics: internal covariate shift, measured by the gradient (Santurkar et al. 2018, Definition 2.1)\n\n"
               "The CNN with and without BN, plain SGD (batch 128, lr " + report::cell("%g", lr) + ", no momentum) for " +
               std::to_string(steps) + " steps. Every " + std::to_string(every) + " steps, on a probe batch of 128 "
               "training images: G, the gradient of a layer's weight at the current weights, and G', the same "
               "gradient once every layer below it has taken its SGD step (the layer and those above unchanged). "
               "If BN reduced internal covariate shift in this sense, G' would stay closer to G with BN "
               "(smaller ||G - G'||, cosine nearer 1). Medians over the probes:\n\n" + summary.markdown() + "\n" +
               plot +
               "Published (VGG and a deep linear network, Figure 5): networks with BN show no smaller, often larger, "
               "||G - G'|| and cosines no closer to 1 than without, though they train better; BN does not reduce "
               "internal covariate shift in this sense. Data: ics.csv.\n\n" + agreement;
  return s;
}

}  // namespace normkit::lab
