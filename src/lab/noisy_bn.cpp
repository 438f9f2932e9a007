// noisy-bn: Santurkar et al. 2018, section 2 (their Figure 2): BN followed
// by deliberately non-stationary noise, a <- s * a + m, where at every step
// each noisy layer draws mu ~ U(-0.5, 0.5) and sigma ~ U(1, 1.25), and each
// element m ~ U(mu - 0.1, mu + 0.1) and s ~ N(sigma, 0.1). The activations'
// distribution then shifts at every step, more than without BN, yet the
// network should train about as well as with standard BN, and better than
// without BN: BN's benefit does not come from stable distributions. The
// network is VGG-8, a deep plain network like the paper's VGG.
#include <cmath>
#include <cstdio>

#include "curves.hpp"
#include "seeds.hpp"
#include "nn/parallel_loop.hpp"
#include "normkit/nn/batch_norm.hpp"
#include "normkit/nn/init.hpp"
#include "report/gnuplot.hpp"
#include "report/table.hpp"

namespace normkit::lab {
namespace {

double unit(std::uint64_t bits) { return (static_cast<double>(bits >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)

// The noise after one BN layer: in training mode y = s * x + m with the draws
// above, hashed from (seed, forward count, element); identity in eval mode.
class NonStationaryNoise : public nn::Layer {
 public:
  explicit NonStationaryNoise(std::uint64_t seed) : nn::Layer("NonStationaryNoise"), seed_(seed) {}

  Tensor forward(const TensorView& x) override {
    Tensor y = Tensor::copy_of(x);
    if (!is_training()) {
      scale_ = Tensor();
      return y;
    }
    const std::uint64_t stream = nn::mix64(seed_ ^ nn::mix64(forwards_++ + 0x9e3779b97f4a7c15ULL));
    const double mu = unit(nn::mix64(stream)) - 0.5, sigma = 1.0 + 0.25 * unit(nn::mix64(stream + 1));
    scale_ = Tensor(y.shape());
    float* out = y.data<float>();
    float* scale = scale_.data<float>();
    nn::parallel_for_elements(y.numel(), [=](std::int64_t i) {
      const std::uint64_t h = nn::mix64(stream + 3 * static_cast<std::uint64_t>(i) + 2);
      const double normal = std::sqrt(-2.0 * std::log(unit(h))) * std::cos(6.283185307179586 * unit(nn::mix64(h)));
      const double m = mu + 0.2 * (unit(nn::mix64(h + 1)) - 0.5);
      scale[i] = static_cast<float>(sigma + 0.1 * normal);
      out[i] = static_cast<float>(scale[i] * out[i] + m);
    });
    return y;
  }

  Tensor backward(const TensorView& dy) override {
    Tensor dx = Tensor::copy_of(dy);
    if (!scale_.defined()) return dx;
    float* g = dx.data<float>();
    const float* scale = scale_.data<float>();
    nn::parallel_for_elements(dx.numel(), [=](std::int64_t i) { g[i] *= scale[i]; });
    return dx;
  }

 private:
  std::uint64_t seed_, forwards_ = 0;
  Tensor scale_;  // s of the last training forward
};

// Puts the noise after every BN layer of the network (each BN becomes a
// two-layer Sequential: BN, noise).
void add_noise_after_batch_norm(nn::Sequential& net, std::uint64_t seed) {
  for (std::size_t i = 0; i < net.size(); ++i) {
    if (dynamic_cast<nn::BatchNorm*>(&net[i]) == nullptr) continue;
    auto pair = std::make_unique<nn::Sequential>();
    nn::Sequential& inside = *pair;
    std::unique_ptr<nn::Layer> bn = net.replace(i, std::move(pair));
    inside.add(std::move(bn));
    inside.add(std::make_unique<NonStationaryNoise>(seed + i));
  }
}

}  // namespace

Section run_noisy_bn(const Context& ctx) {
  Section s;
  const bool quick = ctx.options.quick;
  // lr 0.02: at 0.1 VGG-8 without BN stays at chance, which would make the
  // comparison with no BN say nothing about the noise.
  const std::int64_t steps = quick ? 40 : 800, every = quick ? 20 : 100, batch = 64;
  const double lr = 0.02;
  const std::int64_t test_images = ctx.test_images(quick ? 300 : 2000);
  struct Arm {
    const char* label;
    const char* norm;
    bool noisy;
    Curve curve;
  };
  std::vector<Arm> arms;
  arms.push_back({"standard BN", "bn", false, {}});
  arms.push_back({"noisy BN", "bn", true, {}});
  arms.push_back({"no BN", "none", false, {}});
  for (Arm& arm : arms) {
    RunSpec spec{.label = std::string("noisy-bn, vgg8 ") + arm.label,
                 .model = "vgg",
                 .norm = arm.norm,
                 .model_options = kVgg8,
                 .train = {.batch_size = batch, .sgd = {.lr = lr, .momentum = 0.9}, .seed = ctx.options.seed,
                           .limit = ctx.train_images(60000)},
                 .steps = steps,
                 .eval_every = every,
                 .test_images = test_images};
    if (arm.noisy) spec.prepare = [&](nn::Sequential& net) { add_noise_after_batch_norm(net, ctx.options.seed ^ 0x4e015eULL); };
    arm.curve = train_curve(ctx, spec);
  }

  report::Table csv({"network", "step", "train_loss", "test_accuracy"});
  report::Table summary({"network", "test acc at " + std::to_string(every) + " steps", "final test acc",
                         "final train loss"});
  for (const Arm& arm : arms) {
    for (const CurvePoint& p : arm.curve.points)
      csv.add({arm.label, std::to_string(p.step), report::cell("%.5f", p.train_loss), report::cell("%.4f", p.test_accuracy)});
    summary.add({arm.label, arm.curve.points.empty() ? "-" : report::cell("%.4f", arm.curve.points.front().test_accuracy),
                 arm.curve.diverged() ? "diverged at step " + std::to_string(arm.curve.diverged_at)
                                      : report::cell("%.4f", arm.curve.final_accuracy()),
                 arm.curve.points.empty() ? "-" : report::cell("%.4f", arm.curve.points.back().train_loss)});
  }
  csv.write_csv(ctx.path("noisy_bn.csv"));
  const auto final_of = [](const Curve& c) { return c.diverged() ? 0.0 : c.final_accuracy(); };
  const double standard = final_of(arms[0].curve), noisy = final_of(arms[1].curve), none = final_of(arms[2].curve);
  // The claim: noisy BN still trains better than no BN.
  const std::string agreement = s.claim("noise after BN is harmless: noisy BN still beats no BN (Santurkar et al.)", noisy - none) + (
      "noisy BN ends " + report::cell("%.1f", 100 * (standard - noisy)) + " points below standard BN and " +
                  report::cell("%+.1f", 100 * (noisy - none)) + " points against no BN (the paper: close to standard BN, "
                  "above no BN; the verdict is on the latter).") + "\n\n";
  const std::string file = ctx.report_file("noisy_bn.csv");
  std::string gp = report::png_preamble(ctx.report_file("noisy_bn.png"), 760, 450);
  gp += "set xlabel 'training steps'\nset ylabel 'test accuracy'\nset key bottom right\n"
        "set title 'standard, noisy and no BN (Santurkar et al. Fig. 2)'\nplot ";
  for (std::size_t a = 0; a < arms.size(); ++a)
    gp += std::string(a ? ", " : "") + mean_and_interval(file, csv.columns(), 2, 4, std::string("strcol(1) eq '") + arms[a].label + "'",
                                                         arms[a].label, static_cast<int>(a) + 1);
  gp += "\n";
  const std::string plot = s.plot("noisy-bn", "noisy_bn.png", ctx.report_file("noisy_bn.gp"), gp);

  const std::string recipe = "SGD lr " + report::cell("%g", lr) + " momentum 0.9, batch " + std::to_string(batch) +
                             ", " + std::to_string(steps) + " steps";
  s.printed = "noisy-bn: VGG-8, " + recipe + "\n" + summary.text() + agreement;
  s.markdown = "## noisy-bn: BN with non-stationary noise after it (Santurkar et al. 2018, Figure 2)\n\n" +
               std::string(kVgg8Text) + " with standard BN, with BN followed by noise that shifts the "
               "activations' distribution at every step (per step and layer mu ~ U(-0.5, 0.5), sigma ~ "
               "U(1, 1.25); per element m ~ U(mu - 0.1, mu + 0.1), s ~ N(sigma, 0.1); a <- s a + m in training, "
               "nothing in evaluation), and without BN; the same seed, " + recipe + "; test accuracy on " +
               std::to_string(test_images) + " test images every " + std::to_string(every) +
               " steps.\n\n" + summary.markdown() + "\n" +
               plot +
               "Published (VGG on CIFAR-10): the noisy-BN network's activations are visibly less stable than "
               "without BN, yet it trains almost as well as standard BN and better than the network without BN; "
               "so BN's gains do not come from reducing this internal covariate shift. Data: noisy_bn.csv.\n\n" + agreement;
  return s;
}

}  // namespace normkit::lab
