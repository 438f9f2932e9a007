// batch-size: Wu and He 2018 (Group Normalization, Figure 1 and Table 2) on
// Fashion-MNIST. Each step's batch is 8 micro-batches of 32, 16, 8, 4 or 2
// samples, as 8 workers: every micro-batch is normalized on its own (its own
// BatchNorm statistics, and its own running-statistics update) and the
// gradients are accumulated before the step. The learning rate follows the
// batch linearly (Goyal et al. 2017), so every run sees the same images.
#include <cstdio>

#include "curves.hpp"
#include "seeds.hpp"
#include "report/gnuplot.hpp"
#include "report/table.hpp"

namespace normkit::lab {
namespace {

constexpr std::int64_t kWorkers = 8;

struct Arm {
  const char* label;
  const char* norm;
};

}  // namespace

Section run_batch_size(const Context& ctx) {
  Section s;
  const bool quick = ctx.options.quick;
  const std::vector<std::int64_t> per_group{32, 16, 8, 4, 2};
  const std::vector<Arm> arms{{"BN", "bn"}, {"GN", "gn"}, {"LN", "ln"}, {"IN", "in"}, {"Batch Renorm", "renorm"}};
  const std::int64_t images = ctx.train_images(quick ? 3072 : 24576);
  const std::int64_t test_images = ctx.test_images(quick ? 1000 : 10000);

  report::Table errors_csv({"norm", "per_group", "batch", "lr", "steps", "test_error", "seconds"});
  std::vector<std::vector<double>> error(arms.size());
  for (std::size_t a = 0; a < arms.size(); ++a)
    for (const std::int64_t g : per_group) {
      const std::int64_t batch = kWorkers * g, steps = images / batch;
      const double lr = 0.1 * static_cast<double>(batch) / 256.0;
      train::ModelOptions model_options;
      // Ioffe's renorm schedule, scaled to the run: plain BN for the first 5%
      // of steps, rmax reaching 3 at 25% and dmax reaching 5 at 16%.
      model_options.renorm = {.rmax = 3.0, .dmax = 5.0, .warmup_steps = steps / 20, .rmax_steps = steps / 4,
                              .dmax_steps = steps / 6};
      // The renorm step counter counts micro-batches (each is a forward).
      model_options.renorm.warmup_steps *= kWorkers;
      model_options.renorm.rmax_steps *= kWorkers;
      model_options.renorm.dmax_steps *= kWorkers;
      const Curve c = train_curve(ctx, {.label = std::string("batch-size, cnn ") + arms[a].label + " " +
                                                 std::to_string(g) + " per group",
                                        .model = "cnn",
                                        .norm = arms[a].norm,
                                        .model_options = model_options,
                                        .train = {.batch_size = batch, .micro_batches = kWorkers,
                                                  .sgd = {.lr = lr, .momentum = 0.9}, .seed = ctx.options.seed,
                                                  .limit = images},
                                        .steps = steps,
                                        .eval_every = steps,
                                        .test_images = test_images});
      const double e = c.diverged() ? 1.0 : 1.0 - c.final_accuracy();
      error[a].push_back(e);
      errors_csv.add({arms[a].label, std::to_string(g), std::to_string(batch), report::cell("%g", lr),
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
        "set xlabel 'samples per normalization group (8 groups per step)'\nset ylabel 'test error %'\n"
        "set key outside right top\nset title 'test error against batch size (Wu and He Fig. 1)'\nplot ";
  for (std::size_t a = 0; a < arms.size(); ++a)
    gp += std::string(a ? ", " : "") + mean_and_interval(csv, errors_csv.columns(), 2, 6, std::string("strcol(1) eq '") + arms[a].label + "'",
                                                         arms[a].label, static_cast<int>(a) + 1, 100.0);
  gp += "\n";
  const std::string plot = s.plot("batch-size", "batch_size.png", ctx.report_file("batch_size.gp"), gp);

  // The claims (arms 0 BN, 1 GN; groups from 32 down to 2): BN's error grows
  // as its groups shrink, and GN's grows less.
  const double bn_growth = 100 * (error[0].back() - error[0].front()), gn_growth = 100 * (error[1].back() - error[1].front());
  const std::string agreement =
      s.claim("BN fails at small batches (Wu and He)", bn_growth) + "BN's test error changes by " + report::cell("%+.1f", bn_growth) + " points from " +
      std::to_string(per_group.front()) + " to " + std::to_string(per_group.back()) + " samples per group (the paper: " +
      "+11.1 points on ImageNet).\n\n" + s.claim("GroupNorm fixes BN's small-batch failure", bn_growth - gn_growth) + "GN's changes by " +
      report::cell("%+.1f", gn_growth) + " points, " + report::cell("%+.1f", bn_growth - gn_growth) +
      " less than BN's (the paper: GN's error does not depend on the batch, 0.0 points).\n\n";
  s.printed = "batch-size: CNN, 8 micro-batches per step, each normalized on its own, " + std::to_string(images) +
              " training images per run\n" + table.text() + "\n" + published.text() + agreement;
  s.markdown = "## batch-size: BatchNorm against GroupNorm at small batches (Wu and He 2018)\n\n"
               "The CNN with each norm; every step's batch is 8 micro-batches of 32 to 2 samples, each normalized "
               "on its own (as 8 workers each with its own BN statistics and running-statistics update) with the "
               "gradients accumulated; the learning rate is 0.1 x batch / 256 (linear scaling), momentum 0.9, one "
               "pass over " + std::to_string(images) + " training images, test error on " +
               std::to_string(test_images) + " test images in eval mode. Batch Renorm's limits follow Ioffe's "
               "schedule scaled to the run.\n\n" + table.markdown() + "\nPublished, beside it:\n\n" +
               published.markdown() + "\n" + agreement +
               "\nWhat a micro-batch's statistics average: BatchNorm2d pools a channel over samples and pixels, so "
               "g samples give g x 784 values per channel in the first layer (28 x 28) and g x 196 in the second "
               "(14 x 14): at g = 2, 1568 and 392. The last stage of Wu and He's ResNet-50 has 7 x 7 maps: 98 values "
               "at g = 2. The runs see the same images, so smaller groups take more (smaller) steps; in a pass this "
               "short that can outweigh the noise of the statistics.\n\n" +
               plot +
               "Data: batch_size.csv.\n\n";
  return s;
}

}  // namespace normkit::lab
