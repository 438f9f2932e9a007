// The lab's building blocks: tables, training curves with divergence
// detection, micro-batch gradient accumulation, and layer replacement.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lab/curves.hpp"
#include "lab/statistics.hpp"
#include "normkit/io/fashion_mnist.hpp"
#include "normkit/nn/activation.hpp"
#include "normkit/nn/frozen_batch_norm.hpp"
#include "normkit/nn/linear.hpp"
#include "normkit/train/models.hpp"
#include "normkit/train/trainer.hpp"
#include "report/table.hpp"
#include "module_util.hpp"

namespace normkit::test {
namespace {

namespace fs = std::filesystem;

TEST(Table, TextMarkdownAndQuotedCsv) {
  report::Table t({"name", "value"});
  t.add({"a", "1.5"});
  t.add({"long, quoted \"x\"", "22"});
  EXPECT_THROW(t.add({"only one"}), Error);
  // The first column padded on the right to 16 characters, the others on the left.
  EXPECT_EQ(t.text(), "name              value\na                   1.5\nlong, quoted \"x\"     22\n");
  EXPECT_EQ(t.markdown(), "| name | value |\n|---|---:|\n| a | 1.5 |\n| long, quoted \"x\" | 22 |\n");
  const fs::path path = fs::temp_directory_path() / ("normkit-table-" + std::to_string(::getpid()) + ".csv");
  t.write_csv(path.string());
  std::stringstream read;
  read << std::ifstream(path).rdbuf();
  EXPECT_EQ(read.str(), "name,value\na,1.5\n\"long, quoted \"\"x\"\"\",22\n");
  fs::remove(path);
  EXPECT_THROW(t.write_csv("/nonexistent-dir/x.csv"), Error);
  report::Table norms({"||w||"});
  norms.add({"a|b"});
  EXPECT_EQ(norms.markdown(), "| \\|\\|w\\|\\| |\n|---|\n| a\\|b |\n");  // pipes escaped in cells
}

TEST(Statistics, TIntervalAndVerdicts) {
  EXPECT_DOUBLE_EQ(lab::t_quantile_975(1), 12.706);
  EXPECT_DOUBLE_EQ(lab::t_quantile_975(4), 2.776);
  // Past the table: exact values 2.0211 (40), 2.0003 (60), 1.9799 (120).
  EXPECT_NEAR(lab::t_quantile_975(40), 2.0211, 5e-4);
  EXPECT_NEAR(lab::t_quantile_975(60), 2.0003, 5e-4);
  EXPECT_NEAR(lab::t_quantile_975(120), 1.9799, 5e-4);
  EXPECT_THROW(lab::t_quantile_975(0), Error);

  // 1..5: mean 3, sd sqrt(2.5), half-width 2.776 sd / sqrt(5).
  const lab::Interval i = lab::t_interval({1, 2, 3, 4, 5});
  EXPECT_DOUBLE_EQ(i.mean, 3);
  EXPECT_NEAR(i.half_width, 2.776 * std::sqrt(2.5) / std::sqrt(5.0), 1e-12);
  EXPECT_EQ(i.n, 5);
  EXPECT_EQ(i.text("%.2f"), "3.00 ± 1.96");
  const lab::Interval one = lab::t_interval({0.9});
  EXPECT_EQ(one.text("%.2f"), "0.90");
  EXPECT_THROW(lab::t_interval({}), Error);

  // Paired by seed: b is a plus 0.019 to 0.021, an interval well below zero;
  // differences of -0.01 to -0.03 over 3 seeds would hold zero (t = 4.303).
  const std::vector<double> a{0.80, 0.82, 0.81}, b{0.82, 0.841, 0.829};
  const lab::Interval d = lab::t_interval(lab::paired_differences(a, b));
  EXPECT_LT(d.high(), 0);
  EXPECT_EQ(lab::judge(d, false), lab::Finding::agrees);
  EXPECT_EQ(lab::judge(d, true), lab::Finding::disagrees);
  EXPECT_EQ(lab::judge(lab::t_interval({-0.01, -0.02, -0.03}), false), lab::Finding::inconclusive);
  EXPECT_EQ(lab::judge(one, true), lab::Finding::inconclusive);  // one seed cannot tell
  EXPECT_THROW(lab::paired_differences(a, {0.1}), Error);
  EXPECT_EQ(lab::verdict(lab::Finding::inconclusive, 3, "x"), "Measured here: inconclusive (3 seeds): x\n\n");
  EXPECT_EQ(lab::verdict(lab::Finding::disagrees, 3, "x"), "Measured here: DISAGREES with the paper: x\n\n");
}

TEST(Curve, StepsToTarget) {
  lab::Curve c;
  c.points = {{10, 1.0, 0.5}, {20, 0.8, 0.7}, {30, 0.6, 0.65}, {40, 0.5, 0.8}};
  EXPECT_EQ(c.steps_to(0.7), 20);
  EXPECT_EQ(c.steps_to(0.75), 40);
  EXPECT_EQ(c.steps_to(0.9), -1);
  EXPECT_DOUBLE_EQ(c.final_accuracy(), 0.8);
  EXPECT_TRUE(c.stable());
  c.points.back().test_accuracy = 0.49;  // below kStableAccuracy
  EXPECT_FALSE(c.stable());
  c.points.back().test_accuracy = 0.8;
  c.diverged_at = 45;
  EXPECT_FALSE(c.stable());
}

// A run is evaluated where asked, is the same for the same seed, and a
// learning rate far too large is caught as divergence, which stops the run.
TEST(TrainCurve, EvaluatesRepeatsAndDetectsDivergence) {
  const io::FashionMnist data = io::load_fashion_mnist();
  const lab::Context ctx{data, {.quick = true, .limit = 600, .test_limit = 200}, {}};
  lab::RunSpec spec{.label = "test", .model = "mlp", .norm = "bn",
                    .train = {.batch_size = 30, .sgd = {.lr = 0.5, .momentum = 0.0}, .seed = 2, .limit = 600},
                    .steps = 25, .eval_every = 10, .test_images = 200};
  const lab::Curve a = lab::train_curve(ctx, spec), b = lab::train_curve(ctx, spec);
  ASSERT_EQ(a.points.size(), 3u);  // steps 10, 20 and the last, 25
  EXPECT_EQ(a.points.back().step, 25);
  EXPECT_FALSE(a.diverged());
  EXPECT_GT(a.final_accuracy(), 0.3);
  for (std::size_t i = 0; i < a.points.size(); ++i) {
    EXPECT_EQ(a.points[i].train_loss, b.points[i].train_loss);
    EXPECT_EQ(a.points[i].test_accuracy, b.points[i].test_accuracy);
  }
  spec.model = "cnn";
  spec.norm = "none";
  spec.train.sgd = {.lr = 1e4, .momentum = 0.9};
  const lab::Curve blown = lab::train_curve(ctx, spec);
  EXPECT_TRUE(blown.diverged());
  EXPECT_LT(blown.diverged_at, 25);
}

// Without a norm that looks across samples, a step over 4 micro-batches of 8
// takes the same step as one batch of 32 (up to the order of the sums);
// with BatchNorm it does not (each micro-batch has its own statistics).
TEST(Trainer, MicroBatchesAccumulateTheBatchGradient) {
  const io::FashionMnist data = io::load_fashion_mnist();
  auto one_step = [&](const char* norm, std::int64_t micro) {
    nn::Generator gen(9);
    auto net = train::make_model("mlp", norm, gen);
    train::Trainer t(*net, data.train, {.batch_size = 32, .micro_batches = micro, .sgd = {.lr = 0.5}, .seed = 4, .limit = 64});
    t.step();
    return float_state(*net);
  };
  EXPECT_TRUE(all_close(one_step("none", 4), one_step("none", 1), 1e-6, 1e-5));
  const std::vector<float> whole = one_step("bn", 1), split = one_step("bn", 4);
  double largest = 0;
  for (std::size_t i = 0; i < whole.size(); ++i) largest = std::max(largest, std::abs(double(whole[i]) - split[i]));
  EXPECT_GT(largest, 1e-4);
  nn::Generator gen(1);
  auto net = train::make_model("mlp", "none", gen);
  EXPECT_THROW(train::Trainer(*net, data.train, {.batch_size = 30, .micro_batches = 4}), Error);  // not a multiple
  EXPECT_THROW(train::Trainer(*net, data.train, {.batch_size = 4, .micro_batches = 4}), Error);   // 1 per micro-batch
}

// replace() swaps a layer in place under the same key; forward_prefix runs
// the first layers only.
TEST(Sequential, ReplaceAndForwardPrefix) {
  nn::Generator gen(3);
  nn::Sequential net;
  net.add(std::make_unique<nn::Linear>(4, 3, gen));
  net.add(std::make_unique<nn::BatchNorm1d>(3));
  net.add(std::make_unique<nn::ReLU>());
  const Tensor x = nn::normal_tensor({5, 4}, 1.0, gen);
  const Tensor h = net.forward_prefix(x, 1);
  EXPECT_EQ(h.shape(), (Shape{5, 3}));
  EXPECT_TRUE(same_bits(values(h), values(net[0].forward(x))));
  EXPECT_THROW(net.forward_prefix(x, 4), Error);
  net.eval();
  auto old = net.replace(2, std::make_unique<nn::Sigmoid>());
  EXPECT_NE(dynamic_cast<nn::ReLU*>(old.get()), nullptr);
  EXPECT_FALSE(net[2].is_training());  // the new layer takes the container's mode
  EXPECT_EQ(net.state_dict().size(), 7u);  // 0.weight, 0.bias, 1.weight, 1.bias, 1.running_*, 1.num_batches_tracked
  auto frozen = nn::FrozenBatchNorm2d::from(dynamic_cast<const nn::BatchNorm&>(net[1]));
  EXPECT_THROW(net.replace(3, std::make_unique<nn::ReLU>()), Error);
  EXPECT_THROW(net.replace(0, nullptr), Error);
  EXPECT_EQ(net.parameters().size(), 4u);
  net.replace(1, std::move(frozen));
  EXPECT_EQ(net.parameters().size(), 2u);  // the frozen copy holds buffers only
}

}  // namespace
}  // namespace normkit::test
