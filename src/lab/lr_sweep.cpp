// lr-sweep: how large a learning rate each network tolerates, and how fast it
// reaches a target accuracy. Two networks over log-spaced grids of learning
// rates: the CNN with no normalization, with BN, and with BN and a linear
// warm-up; and VGG-8, the deep plain network, with and without BN. The same
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

// One network's sweep: its arms (the first without normalization, the
// baseline of the speed-up), its grid and its run length.
struct Sweep {
  const char* name;
  const char* model;
  train::ModelOptions model_options;
  std::vector<Arm> arms;
  std::vector<double> grid;
  std::int64_t steps, eval_every, test_images;
  double target;  // the accuracy whose steps are counted
};

struct Best {
  double largest_stable_lr = 0, best_accuracy = 0, best_lr = 0;
  std::int64_t fastest = -1;  // fewest steps to the target over the grid
  double fastest_lr = 0;
};

}  // namespace

Section run_lr_sweep(const Context& ctx) {
  Section s;
  const bool quick = ctx.options.quick;
  const std::int64_t batch = 64;
  const std::vector<Sweep> sweeps{
      {"CNN",
       "cnn",
       {},
       {{"no norm", "none", false}, {"BN", "bn", false}, {"BN + warm-up", "bn", true}},
       quick ? std::vector<double>{0.01, 0.1, 1.0} : std::vector<double>{0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0},
       quick ? 100 : 600,
       quick ? 10 : 25,
       ctx.test_images(quick ? 1000 : 2000),
       quick ? 0.75 : 0.85},
      // VGG-8 does about 20 times the CNN's work a step: a shorter run,
      // which still separates the rates it trains at from those it does not.
      {"VGG-8",
       "vgg",
       kVgg8,
       {{"VGG-8 no norm", "none", false}, {"VGG-8 BN", "bn", false}},
       quick ? std::vector<double>{0.03, 0.3} : std::vector<double>{0.003, 0.01, 0.03, 0.1, 0.3, 1.0},
       quick ? 20 : 150,
       quick ? 10 : 25,
       ctx.test_images(quick ? 300 : 1000),
       quick ? 0.5 : 0.7},
  };

  report::Table runs({"network", "lr", "final test acc", "diverged at step", "steps to target", "stable"});
  report::Table curves_csv({"network", "lr", "step", "train_loss", "test_accuracy"});
  std::vector<std::vector<Best>> best;
  for (const Sweep& sweep : sweeps) {
    best.emplace_back(sweep.arms.size());
    for (std::size_t a = 0; a < sweep.arms.size(); ++a)
      for (const double lr : sweep.grid) {
        const Arm& arm = sweep.arms[a];
        train::TrainOptions options{.batch_size = batch, .sgd = {.lr = lr, .momentum = 0.9}, .seed = ctx.options.seed,
                                    .limit = ctx.train_images(60000)};
        options.schedule.warmup_steps = arm.warmup ? sweep.steps / 5 : 0;
        const Curve c = train_curve(ctx, {.label = std::string("lr-sweep, ") + arm.label + " lr=" + report::cell("%g", lr),
                                          .model = sweep.model,
                                          .norm = arm.norm,
                                          .model_options = sweep.model_options,
                                          .train = options,
                                          .steps = sweep.steps,
                                          .eval_every = sweep.eval_every,
                                          .test_images = sweep.test_images});
        const bool stable = c.stable();
        const std::int64_t to_target = c.diverged() ? -1 : c.steps_to(sweep.target);
        runs.add({arm.label, report::cell("%g", lr), c.diverged() ? "-" : report::cell("%.4f", c.final_accuracy()),
                  c.diverged() ? std::to_string(c.diverged_at) : "-", to_target < 0 ? "not reached" : std::to_string(to_target),
                  stable ? "yes" : "no"});
        for (const CurvePoint& p : c.points)
          curves_csv.add({arm.label, report::cell("%g", lr), std::to_string(p.step), report::cell("%.5f", p.train_loss),
                          report::cell("%.4f", p.test_accuracy)});
        Best& b = best.back()[a];
        if (stable) b.largest_stable_lr = std::max(b.largest_stable_lr, lr);
        if (!c.diverged() && c.final_accuracy() > b.best_accuracy) b.best_accuracy = c.final_accuracy(), b.best_lr = lr;
        if (to_target >= 0 && (b.fastest < 0 || to_target < b.fastest)) b.fastest = to_target, b.fastest_lr = lr;
      }
  }
  runs.write_csv(ctx.path("lr_sweep.csv"));
  curves_csv.write_csv(ctx.path("lr_sweep_curves.csv"));

  report::Table summary({"network", "largest stable lr", "best final acc (lr)", "target acc", "fewest steps to it (lr)",
                         "speed-up vs no norm"});
  std::vector<std::string> labels;  // every arm's, in plotting order
  for (std::size_t n = 0; n < sweeps.size(); ++n)
    for (std::size_t a = 0; a < sweeps[n].arms.size(); ++a) {
      const Best &b = best[n][a], &none = best[n][0];
      std::string speedup = "-";
      if (a > 0 && b.fastest > 0 && none.fastest > 0)
        speedup = report::cell("%.1fx", static_cast<double>(none.fastest) / static_cast<double>(b.fastest));
      else if (a > 0 && b.fastest > 0)
        speedup = "no-norm never reached it";
      summary.add({sweeps[n].arms[a].label, b.largest_stable_lr > 0 ? report::cell("%g", b.largest_stable_lr) : "none",
                   report::cell("%.4f", b.best_accuracy) + " (" + report::cell("%g", b.best_lr) + ")",
                   report::cell("%.2f", sweeps[n].target),
                   b.fastest < 0 ? "not reached" : std::to_string(b.fastest) + " (" + report::cell("%g", b.fastest_lr) + ")",
                   speedup});
      labels.push_back(sweeps[n].arms[a].label);
    }

  const std::string csv = ctx.report_file("lr_sweep.csv");
  std::string gp = report::png_preamble(ctx.report_file("lr_sweep.png"), 1100, 420);
  gp += "set multiplot layout 1,2\nset logscale x 10\nset xlabel 'learning rate'\nset key bottom left\n"
        "set title 'final test accuracy (diverged runs at 0)'\nset yrange [0:1]\nplot ";
  for (std::size_t a = 0; a < labels.size(); ++a)
    gp += std::string(a ? ", " : "") + "'" + csv + "' using (strcol(1) eq '" + labels[a] +
          "' ? $2 : 1/0):(strcol(3) eq '-' ? 0 : $3) with linespoints lw 2 title '" + labels[a] + "'";
  gp += "\nset title \"steps to the network's target accuracy\"\nset yrange [0:*]\nset key top right\nplot ";
  for (std::size_t a = 0; a < labels.size(); ++a)
    gp += std::string(a ? ", " : "") + "'" + csv + "' using (strcol(1) eq '" + labels[a] +
          "' ? $2 : 1/0):(strcol(5) eq 'not reached' ? 1/0 : $5) with linespoints lw 2 title '" + labels[a] + "'";
  gp += "\nunset multiplot\n";
  const std::string plot = s.plot("lr-sweep", "lr_sweep.png", ctx.report_file("lr_sweep.gp"), gp);

  const std::string claim =
      "The seeds' claim: the largest stable learning rate is about 0.01 without normalization, 0.1 with BN and "
      "0.3 with BN and warm-up, and BN reaches a given accuracy 5 to 14 times sooner (Ioffe and Szegedy: 14 times "
      "fewer steps for Inception).";
  // Measured: the CNN's arms are 0 no norm, 1 BN, 2 BN + warm-up; VGG-8's 0
  // no norm, 1 BN.
  // Judged on the log of their ratio (lr_log_ratio: each grid step alike).
  const std::vector<Best>&cnn = best[0], &vgg = best[1];
  const std::vector<double>& cnn_grid = sweeps[0].grid;
  const auto lr_text = [](double lr) { return lr > 0 ? report::cell("%g", lr) : std::string("none"); };
  const double bn_ratio = lr_log_ratio(cnn[1].largest_stable_lr, cnn[0].largest_stable_lr, cnn_grid);
  const double warmup_ratio = lr_log_ratio(cnn[2].largest_stable_lr, cnn[1].largest_stable_lr, cnn_grid);
  const double vgg_ratio = lr_log_ratio(vgg[1].largest_stable_lr, vgg[0].largest_stable_lr, sweeps[1].grid);
  // One claim a statement: their order is the text's (operands of + are unsequenced).
  std::string agreement = s.claim("BN allows higher learning rates", bn_ratio) +
                          "the CNN's largest stable learning rate is " + lr_text(cnn[1].largest_stable_lr) +
                          " with BN against " + lr_text(cnn[0].largest_stable_lr) +
                          " without normalization, log10 of their ratio " + report::cell("%+.2f", bn_ratio) +
                          " (the claim: BN allows higher learning rates).\n\n";
  agreement += s.claim("warm-up allows higher learning rates still", warmup_ratio) + "with warm-up BN's is " +
               lr_text(cnn[2].largest_stable_lr) + ", log10 of the ratio " + report::cell("%+.2f", warmup_ratio) +
               " (the claim: warm-up allows higher still).\n\n";
  agreement += s.claim("BN allows higher learning rates in a deep plain network", vgg_ratio) +
               "VGG-8's largest stable learning rate is " + lr_text(vgg[1].largest_stable_lr) + " with BN against " +
               lr_text(vgg[0].largest_stable_lr) + " without, log10 of their ratio " +
               report::cell("%+.2f", vgg_ratio) + ".\n\n";

  std::string setup;
  for (const Sweep& sweep : sweeps)
    setup += std::string(setup.empty() ? "" : "; ") + sweep.name + ": " + std::to_string(sweep.steps) +
             " steps a run, test accuracy on " + std::to_string(sweep.test_images) + " test images every " +
             std::to_string(sweep.eval_every) + " steps";
  s.printed = "lr-sweep: batch " + std::to_string(batch) + ", momentum 0.9; " + setup + "\n" + runs.text() + "\n" +
              summary.text() + claim + "\n" + agreement;
  s.markdown = "## lr-sweep: BatchNorm and the learning rate\n\n"
               "The CNN (two 3x3 conv blocks of 16 and 32 channels, 128 hidden units) without normalization, with "
               "BN, and with BN and a linear warm-up over the first fifth of the run; and the deep plain network, " +
               std::string(kVgg8Text) + ", without normalization and with BN. SGD with momentum 0.9, batch " +
               std::to_string(batch) + ", the same seed for every run; " + setup + ". A run diverges when a step's "
               "loss is not finite or above " + report::cell("%g", kDivergedLoss) + "; it is stable when it does not "
               "diverge and ends above " + report::cell("%.1f", kStableAccuracy) + " test accuracy.\n\n" +
               summary.markdown() + "\n" + claim + "\n\n" + agreement + "Every run:\n\n" + runs.markdown() + "\n" +
               plot + "Data: lr_sweep.csv, lr_sweep_curves.csv.\n\n";
  return s;
}

}  // namespace normkit::lab
