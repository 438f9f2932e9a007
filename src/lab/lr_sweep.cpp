// lr-sweep: how large a learning rate each network tolerates, and how fast it
// reaches a target accuracy. The CNN with no normalization, with BN, and with
// BN and a linear warm-up, over a log-spaced grid of learning rates; the same
// seed (initial weights, batches) for every run. A run diverges when a
// step's loss is not finite or exceeds kDivergedLoss; it is stable when it
// did not diverge and ends above chance-level learning (test accuracy 0.5).
#include <cmath>
#include <cstdio>

#include "curves.hpp"
#include "report/gnuplot.hpp"
#include "report/table.hpp"

namespace normkit::lab {
namespace {

struct Arm {
  const char* label;
  const char* norm;
  bool warmup;
};

}  // namespace

Section run_lr_sweep(const Context& ctx) {
  Section s;
  const bool quick = ctx.options.quick;
  const std::vector<double> grid = quick ? std::vector<double>{0.01, 0.1, 1.0}
                                         : std::vector<double>{0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0};
  const std::int64_t steps = quick ? 100 : 600, eval_every = quick ? 10 : 25, batch = 64;
  const std::int64_t warmup = steps / 5;
  const double target = quick ? 0.75 : 0.85;
  const std::vector<Arm> arms{{"no norm", "none", false}, {"BN", "bn", false}, {"BN + warm-up", "bn", true}};

  report::Table runs({"network", "lr", "final test acc", "diverged at step", "steps to target", "stable"});
  report::Table curves_csv({"network", "lr", "step", "train_loss", "test_accuracy"});
  struct Best {
    double largest_stable_lr = 0, best_accuracy = 0, best_lr = 0;
    std::int64_t fastest = -1;  // fewest steps to the target over the grid
    double fastest_lr = 0;
  };
  std::vector<Best> best(arms.size());
  for (std::size_t a = 0; a < arms.size(); ++a)
    for (const double lr : grid) {
      train::TrainOptions options{.batch_size = batch, .sgd = {.lr = lr, .momentum = 0.9}, .seed = ctx.options.seed,
                                  .limit = ctx.train_images(60000)};
      options.schedule.warmup_steps = arms[a].warmup ? warmup : 0;
      const Curve c = train_curve(ctx, {.label = std::string("lr-sweep, cnn ") + arms[a].label + " lr=" + report::cell("%g", lr),
                                        .model = "cnn",
                                        .norm = arms[a].norm,
                                        .train = options,
                                        .steps = steps,
                                        .eval_every = eval_every,
                                        .test_images = ctx.test_images(quick ? 1000 : 2000)});
      const bool stable = c.stable();
      const std::int64_t to_target = c.diverged() ? -1 : c.steps_to(target);
      runs.add({arms[a].label, report::cell("%g", lr), c.diverged() ? "-" : report::cell("%.4f", c.final_accuracy()),
                c.diverged() ? std::to_string(c.diverged_at) : "-", to_target < 0 ? "not reached" : std::to_string(to_target),
                stable ? "yes" : "no"});
      for (const CurvePoint& p : c.points)
        curves_csv.add({arms[a].label, report::cell("%g", lr), std::to_string(p.step), report::cell("%.5f", p.train_loss),
                        report::cell("%.4f", p.test_accuracy)});
      Best& b = best[a];
      if (stable) b.largest_stable_lr = std::max(b.largest_stable_lr, lr);
      if (!c.diverged() && c.final_accuracy() > b.best_accuracy) b.best_accuracy = c.final_accuracy(), b.best_lr = lr;
      if (to_target >= 0 && (b.fastest < 0 || to_target < b.fastest)) b.fastest = to_target, b.fastest_lr = lr;
    }
  runs.write_csv(ctx.path("lr_sweep.csv"));
  curves_csv.write_csv(ctx.path("lr_sweep_curves.csv"));

  const std::string target_text = report::cell("%.2f", target);
  report::Table summary({"network", "largest stable lr", "best final acc (lr)", "fewest steps to " + target_text + " (lr)",
                         "speed-up vs no norm"});
  for (std::size_t a = 0; a < arms.size(); ++a) {
    const Best& b = best[a];
    std::string speedup = "-";
    if (a > 0 && b.fastest > 0 && best[0].fastest > 0)
      speedup = report::cell("%.1fx", static_cast<double>(best[0].fastest) / static_cast<double>(b.fastest));
    else if (a > 0 && b.fastest > 0)
      speedup = "no-norm never reached it";
    summary.add({arms[a].label, b.largest_stable_lr > 0 ? report::cell("%g", b.largest_stable_lr) : "none",
                 report::cell("%.4f", b.best_accuracy) + " (" + report::cell("%g", b.best_lr) + ")",
                 b.fastest < 0 ? "not reached" : std::to_string(b.fastest) + " (" + report::cell("%g", b.fastest_lr) + ")",
                 speedup});
  }

  const std::string csv = ctx.report_file("lr_sweep.csv");
  std::string gp = report::png_preamble(ctx.report_file("lr_sweep.png"), 1100, 420);
  gp += "set multiplot layout 1,2\nset logscale x 10\nset xlabel 'learning rate'\nset key bottom left\n"
        "set title 'final test accuracy (diverged runs at 0)'\nset yrange [0:1]\nplot ";
  for (std::size_t a = 0; a < arms.size(); ++a)
    gp += std::string(a ? ", " : "") + "'" + csv + "' using (strcol(1) eq '" + arms[a].label +
          "' ? $2 : 1/0):(strcol(3) eq '-' ? 0 : $3) with linespoints lw 2 title '" + arms[a].label + "'";
  gp += "\nset title 'steps to test accuracy " + target_text + "'\nset yrange [0:*]\nset key top right\nplot ";
  for (std::size_t a = 0; a < arms.size(); ++a)
    gp += std::string(a ? ", " : "") + "'" + csv + "' using (strcol(1) eq '" + arms[a].label +
          "' ? $2 : 1/0):(strcol(5) eq 'not reached' ? 1/0 : $5) with linespoints lw 2 title '" + arms[a].label + "'";
  gp += "\nunset multiplot\n";
  const std::string plot = s.plot("lr-sweep", "lr_sweep.png", ctx.report_file("lr_sweep.gp"), gp);

  const std::string claim =
      "The seeds' claim: the largest stable learning rate is about 0.01 without normalization, 0.1 with BN and "
      "0.3 with BN and warm-up, and BN reaches a given accuracy 5 to 14 times sooner (Ioffe and Szegedy: 14 times "
      "fewer steps for Inception).";
  // Measured: arms 0 no norm, 1 BN, 2 BN + warm-up.
  const auto lr_text = [](double lr) { return lr > 0 ? report::cell("%g", lr) : std::string("none"); };
  // One claim a statement: their order is the text's (operands of + are unsequenced).
  std::string agreement =
      s.claim("BN allows higher learning rates", best[1].largest_stable_lr - best[0].largest_stable_lr) + "the largest stable learning rate is " +
      lr_text(best[1].largest_stable_lr) + " with BN against " + lr_text(best[0].largest_stable_lr) +
      " without normalization (the claim: BN allows higher learning rates).\n\n";
  agreement += s.claim("warm-up allows higher learning rates still", best[2].largest_stable_lr - best[1].largest_stable_lr) + "with warm-up BN's is " +
      lr_text(best[2].largest_stable_lr) + " (the claim: warm-up allows higher still).\n\n";
  s.printed = "lr-sweep: CNN, batch " + std::to_string(batch) + ", momentum 0.9, " + std::to_string(steps) +
              " steps per run\n" + runs.text() + "\n" + summary.text() + claim + "\n" + agreement;
  s.markdown = "## lr-sweep: BatchNorm and the learning rate\n\n"
               "The CNN (two 3x3 conv blocks of 16 and 32 channels, 128 hidden units) without normalization, with "
               "BN, and with BN and a linear warm-up over the first " + std::to_string(warmup) + " steps; SGD with "
               "momentum 0.9, batch " + std::to_string(batch) + ", " + std::to_string(steps) + " steps per run, the "
               "same seed for every run; test accuracy on " + std::to_string(ctx.test_images(quick ? 1000 : 2000)) +
               " test images every " + std::to_string(eval_every) + " steps. A run diverges when a step's loss is "
               "not finite or above " + report::cell("%g", kDivergedLoss) + "; it is stable when it does not diverge "
               "and ends above " + report::cell("%.1f", kStableAccuracy) + " test accuracy.\n\n" + summary.markdown() +
               "\n" + claim + "\n\n" + agreement + "Every run:\n\n" + runs.markdown() + "\n" +
               plot +
               "Data: lr_sweep.csv, lr_sweep_curves.csv.\n\n";
  return s;
}

}  // namespace normkit::lab
