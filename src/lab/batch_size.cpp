// batch-size: Wu and He 2018 (Group Normalization, Figure 1 and Table 2) on
// Fashion-MNIST: test error against the number of samples a normalization
// group holds, 32 down to 2. Every step's batch is 64 samples, split into
// micro-batches of g samples as 64 / g workers would hold them: each
// micro-batch is normalized on its own (its own BatchNorm statistics and
// running-statistics update) and the gradients are accumulated before the
// step. Wu and He varied the batch per GPU, and the total batch and learning
// rate with it; here the optimization is the same for every g (the same
// batches, steps and learning rate), so only the statistics' group changes.
// Two networks: the CNN with a late stage on 7x7 maps (where a group's
// statistics average g x 49 values, as in ResNet-50's last stage), and the
// sigmoid MLP, whose BatchNorm1d averages g values per feature.
#include <cstdio>

#include "curves.hpp"
#include "seeds.hpp"
#include "report/gnuplot.hpp"
#include "report/table.hpp"

namespace normkit::lab {
namespace {

constexpr std::int64_t kBatch = 64;  // samples per step, in micro-batches of g

struct Arm {
  const char* label;
  const char* model;
  const char* norm;
  double lr, momentum;  // SGD's, the same for every g
};

}  // namespace

Section run_batch_size(const Context& ctx) {
  Section s;
  const bool quick = ctx.options.quick;
  const std::vector<std::int64_t> per_group{32, 16, 8, 4, 2};
  // Arms 0 (CNN BN), 1 (CNN GN) and 5 (MLP BN) carry the claims.
  // The CNN as in lr-sweep, the MLP as in convergence (plain SGD, lr 0.5).
  const std::vector<Arm> arms{{"CNN BN", "cnn", "bn", 0.05, 0.9},
                              {"CNN GN", "cnn", "gn", 0.05, 0.9},
                              {"CNN LN", "cnn", "ln", 0.05, 0.9},
                              {"CNN IN", "cnn", "in", 0.05, 0.9},
                              {"CNN Batch Renorm", "cnn", "renorm", 0.05, 0.9},
                              {"MLP BN", "mlp", "bn", 0.5, 0.0},
                              {"MLP LN", "mlp", "ln", 0.5, 0.0},
                              {"MLP Batch Renorm", "mlp", "renorm", 0.5, 0.0}};
  const std::int64_t images = ctx.train_images(quick ? 6144 : 30720);
  const std::int64_t test_images = ctx.test_images(quick ? 1000 : 10000);

  report::Table errors_csv({"norm", "per_group", "micro_batches", "lr", "steps", "test_error", "seconds"});
  std::vector<std::vector<double>> error(arms.size());
  for (std::size_t a = 0; a < arms.size(); ++a)
    for (const std::int64_t g : per_group) {
      const std::int64_t workers = kBatch / g, steps = images / kBatch;
      const double lr = arms[a].lr;
      train::ModelOptions model_options{.small_map_stage = arms[a].model == std::string("cnn")};
      // Ioffe's renorm schedule, scaled to the run: plain BN for the first 5%
      // of steps, rmax reaching 3 at 25% and dmax reaching 5 at 16%.
      model_options.renorm = {.rmax = 3.0, .dmax = 5.0, .warmup_steps = steps / 20, .rmax_steps = steps / 4,
                              .dmax_steps = steps / 6};
      // The renorm step counter counts micro-batches (each is a forward).
      model_options.renorm.warmup_steps *= workers;
      model_options.renorm.rmax_steps *= workers;
      model_options.renorm.dmax_steps *= workers;
      const Curve c = train_curve(ctx, {.label = std::string("batch-size, ") + arms[a].label + " " +
                                                 std::to_string(g) + " per group",
                                        .model = arms[a].model,
                                        .norm = arms[a].norm,
                                        .model_options = model_options,
                                        .train = {.batch_size = kBatch, .micro_batches = workers,
                                                  .sgd = {.lr = lr, .momentum = arms[a].momentum}, .seed = ctx.options.seed,
                                                  .limit = images},
                                        .steps = steps,
                                        .eval_every = steps,
                                        .test_images = test_images});
      const double e = c.diverged() ? 1.0 : 1.0 - c.final_accuracy();
      error[a].push_back(e);
      errors_csv.add({arms[a].label, std::to_string(g), std::to_string(workers), report::cell("%g", lr),
                      std::to_string(steps), report::cell("%.4f", e), report::cell("%.1f", c.seconds)});
    }
  errors_csv.write_csv(ctx.path("batch_size.csv"));

  std::vector<std::string> header{"test error % (samples per group)"};
  for (const std::int64_t g : per_group) header.push_back(std::to_string(g));
  report::Table table(header);
  for (std::size_t a = 0; a < arms.size(); ++a) {
    std::vector<std::string> row{arms[a].label};
    for (const double e : error[a]) row.push_back(report::cell("%.1f", 100.0 * e));
    table.add(row);
  }
  report::Table published({"Wu and He, ImageNet ResNet-50 (top-1 error %)", "32", "16", "8", "4", "2"});
  published.add({"BN", "23.6", "23.7", "24.8", "27.3", "34.7"});
  published.add({"GN", "24.1", "24.2", "24.0", "24.2", "24.1"});

  const std::string csv = ctx.report_file("batch_size.csv");
  std::string gp = report::png_preamble(ctx.report_file("batch_size.png"), 820, 450);
  gp += "set logscale x 2\nset xrange [36:1.8] reverse\nset xtics (32, 16, 8, 4, 2)\n"
        "set xlabel 'samples per normalization group (batch 64 in 64 / g groups)'\nset ylabel 'test error %'\n"
        "set key outside right top\nset title 'test error against batch size (Wu and He Fig. 1)'\nplot ";
  for (std::size_t a = 0; a < arms.size(); ++a)
    gp += std::string(a ? ", " : "") + mean_and_interval(csv, errors_csv.columns(), 2, 6, std::string("strcol(1) eq '") + arms[a].label + "'",
                                                         arms[a].label, static_cast<int>(a) + 1, 100.0);
  gp += "\n";
  const std::string plot = s.plot("batch-size", "batch_size.png", ctx.report_file("batch_size.gp"), gp);

  // The claims, groups from 32 down to 2: BN's error grows as its groups
  // shrink, and GN's grows less.
  const auto growth = [&](std::size_t arm) { return 100 * (error[arm].back() - error[arm].front()); };
  const std::string groups = " from " + std::to_string(per_group.front()) + " to " +
                             std::to_string(per_group.back()) + " samples per group";
  // One claim a statement: their order is the text's (operands of + are unsequenced).
  std::string agreement =
      s.claim("BN fails at small batches (Wu and He)", growth(0)) + "the CNN's BN test error changes by " +
      report::cell("%+.1f", growth(0)) + " points" + groups + " (the paper: +11.1 points on ImageNet).\n\n";
  agreement += s.claim("GroupNorm fixes BN's small-batch failure", growth(0) - growth(1)) + "the CNN's GN error changes by " +
      report::cell("%+.1f", growth(1)) + " points, " + report::cell("%+.1f", growth(0) - growth(1)) +
      " less than BN's (the paper: GN's error does not depend on the batch, 0.0 points).\n\n";
  agreement += s.claim("BatchNorm1d fails at small batches", growth(5)) + "the MLP's BN test error changes by " +
      report::cell("%+.1f", growth(5)) + " points" + groups + "; LN's by " + report::cell("%+.1f", growth(6)) +
      ".\n\n";
  s.printed = "batch-size: the CNN with a 7x7 stage and the sigmoid MLP, batch 64 in micro-batches of g, each normalized "
              "on its own, " + std::to_string(images) + " training images per run\n" + table.text() + "\n" +
              published.text() + agreement;
  s.markdown = "## batch-size: BatchNorm against GroupNorm at small batches (Wu and He 2018)\n\n"
               "The CNN with a third block of 64 channels on the 7x7 maps, and the sigmoid MLP, with each norm; "
               "every step's batch is 64 samples in micro-batches of g = 32 to 2, each normalized "
               "on its own (as 64 / g workers each with its own BN statistics and running-statistics update) with "
               "the gradients accumulated; SGD at lr 0.05 with momentum 0.9 (CNN) or lr 0.5 without (MLP) for every g, one "
               "pass over " + std::to_string(images) + " training images, test error on " +
               std::to_string(test_images) + " test images in eval mode. Batch Renorm's limits follow Ioffe's "
               "schedule scaled to the run.\n\n" + table.markdown() + "\nPublished, beside it:\n\n" +
               published.markdown() + "\n" + agreement +
               "\nWhat a micro-batch's statistics average: BatchNorm2d pools a channel over samples and pixels, so "
               "g samples give g x 784 values per channel in the first layer (28 x 28) and g x 196 in the second "
               "(14 x 14): at g = 2, 1568 and 392; the third block's 7 x 7 maps give g x 49, 98 at g = 2, as the last "
               "stage of Wu and He's ResNet-50. The MLP's BatchNorm1d averages g values per feature: 2 at g = 2. "
               "Every run takes the same steps on the same batches: unlike Wu and He, who scaled the batch and "
               "learning rate with the samples per GPU, only the group the statistics come from changes.\n\n" +
               plot +
               "Data: batch_size.csv.\n\n";
  return s;
}

}  // namespace normkit::lab
