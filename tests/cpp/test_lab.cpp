// The lab's building blocks: tables, training curves with divergence
// detection, micro-batch gradient accumulation, and layer replacement.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lab/budget.hpp"
#include "lab/curves.hpp"
#include "lab/seeds.hpp"
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

// Seeds' texts merge by number: a number that differs becomes its mean and
// 95% interval at the first seed's precision, numbers inside words stay
// text, equal numbers stay as they are, and a cell that is not a number in
// every seed lists the seeds' cells.
TEST(Seeds, TextsMergeByNumber) {
  // 0.5 and 0.7: mean 0.6, half-width 12.706 * 0.1414 / sqrt(2) = 1.27.
  EXPECT_EQ(lab::merge_texts({"L2 784-100 at 3: 0.5 (x2)\n", "L2 784-100 at 3: 0.7 (x2)\n"}, false),
            "L2 784-100 at 3: 0.6 ± 1.3 (x2)\n");
  EXPECT_EQ(lab::merge_texts({"-0.25 1e-3", "-0.75 3e-3"}, false), "-0.50 ± 3.18 2.00e-03 ± 1.27e-02");
  // Signed differences keep their sign; a factor's x is text.
  EXPECT_EQ(lab::merge_texts({"+1.0 points, x1.5 (3x3)", "-3.0 points, x2.5 (3x3)"}, false),
            "-1.0 ± 25.4 points, x2.0 ± 6.4 (3x3)");
  EXPECT_EQ(lab::merge_texts({"-0.5", "+1.5"}, false), "+0.5 ± 12.7");
  // The most decimals any seed printed (0.09 ± 0.04, not 0.1 ± 0.0), and
  // enough for the half-width's first digit.
  EXPECT_EQ(lab::merge_texts({"lr 0.1", "lr 0.1", "lr 0.1", "lr 0.03", "lr 0.1"}, false), "lr 0.09 ± 0.04");
  std::vector<std::string> twenty(19, "2.00");
  twenty.push_back("2.01");  // half-width 0.00105: one more decimal shows it
  EXPECT_EQ(lab::merge_texts(twenty, false), "2.000 ± 0.001");
  const std::string a = "| arm | acc |\n|---|---:|\n| BN | 0.9000 |\n| GN | 0.8000 |\n";
  const std::string b = "| arm | acc |\n|---|---:|\n| BN | 0.9200 |\n| GN | diverged |\n";
  EXPECT_EQ(lab::merge_texts({a, b}, false),
            "| arm | acc |\n|---|---:|\n| BN | 0.9100 ± 0.1271 |\n| GN | 0.8000 / diverged |\n");
  // Printed tables are realigned after the merge.
  EXPECT_EQ(lab::merge_texts({"title\nrun  acc\nBN    0.9\n", "title\nrun  acc\nBN    0.7\n"}, true),
            "title\nrun        acc\nBN   0.8 ± 1.3\n");
  // A row whose last cells are empty keeps its columns.
  EXPECT_EQ(lab::merge_texts({"run  a  b\nx    1  2\ny    3\n", "run  a  b\nx    1  4\ny    5\n"}, true),
            "run       a       b\nx         1  3 ± 13\ny    4 ± 13\n");
  // Texts of different shapes: each seed's, said so.
  EXPECT_NE(lab::merge_texts({"a\n", "a\nb\n"}, false).find("differ in shape"), std::string::npos);
  EXPECT_EQ(lab::merge_texts({"only 0.123\n"}, false), "only 0.123\n");
}

// A claim's verdict comes from the interval of its per-seed values; a
// yes/no claim agrees only when every seed says yes.
TEST(Seeds, ClaimsAreJudgedOverSeeds) {
  const auto verdict_of = [](const std::vector<double>& values) {
    std::vector<lab::Section> runs;
    for (const double v : values) {
      lab::Section s;
      s.markdown = s.claim("c", v) + "x\n\n";
      s.printed = "p\n";
      runs.push_back(s);
    }
    return lab::merge_sections(runs).markdown;
  };
  EXPECT_EQ(verdict_of({0.02, 0.021, 0.019}), "Measured here: agrees with the paper: x\n\n");
  EXPECT_EQ(verdict_of({-0.02, -0.021, -0.019}), "Measured here: DISAGREES with the paper: x\n\n");
  EXPECT_EQ(verdict_of({0.02, -0.01, 0.03}), "Measured here: inconclusive (3 seeds): x\n\n");
  EXPECT_EQ(verdict_of({0.5}), "Measured here: inconclusive (1 seed): x\n\n");
  EXPECT_EQ(verdict_of({0.5, std::nan("")}), "Measured here: inconclusive (2 seeds): x\n\n");
  lab::Section yes;
  yes.markdown = yes.claim_holds("c", true);
  lab::Section no = yes;
  no.claims[0].value = -1;
  EXPECT_EQ(lab::merge_sections({yes, yes, yes}).markdown, "Measured here: agrees with the paper: ");
  // The merged claim keeps its title, verdict, mean and what was measured.
  lab::Section measured;
  measured.markdown = "text\n\n" + measured.claim("BN helps", 0.5) + "0.5 better\n\nmore\n";
  measured.printed = "p\n";
  lab::Section other_seed;
  other_seed.markdown = "text\n\n" + other_seed.claim("BN helps", 0.7) + "0.7 better\n\nmore\n";
  other_seed.printed = "p\n";
  const lab::Section both = lab::merge_sections({measured, other_seed});
  ASSERT_EQ(both.claims.size(), 1u);
  EXPECT_EQ(both.claims[0].title, "BN helps");
  EXPECT_EQ(both.claims[0].verdict, "inconclusive");
  EXPECT_DOUBLE_EQ(both.claims[0].value, 0.6);
  EXPECT_EQ(both.claims[0].measured, "0.6 ± 1.3 better");
  EXPECT_EQ(lab::merge_sections({yes, yes, no}).markdown, "Measured here: inconclusive (3 seeds): ");
  lab::Section other;
  EXPECT_THROW(lab::merge_sections({yes, other}), Error);  // the runs made different claims

  // A child process hands its section over as JSON; NaN survives as null.
  lab::Section s;
  s.markdown = "m " + s.claim("n", std::nan("")) + s.plot("p", "p.png", "/x/p.gp", "plot 1");
  s.printed = "q";
  s.claim("q", 0.25);
  const lab::Section back = lab::section_from_json(lab::section_to_json(s));
  EXPECT_EQ(back.markdown, s.markdown);
  EXPECT_EQ(back.printed, "q");
  ASSERT_EQ(back.claims.size(), 2u);
  EXPECT_TRUE(std::isnan(back.claims[0].value));
  EXPECT_EQ(back.claims[1].value, 0.25);
  EXPECT_EQ(back.claims[1].title, "q");
  ASSERT_EQ(back.plots.size(), 1u);
  EXPECT_EQ(back.plots[0].script_path, "/x/p.gp");
  EXPECT_EQ(back.plots[0].script, "plot 1");
}

// CSV files merge row by row into means with each column's interval beside
// them, and every seed's rows are kept; runs of different lengths (one
// diverged) are matched by their first and non-numeric cells.
TEST(Seeds, CsvFilesMerge) {
  const std::string root = ::testing::TempDir() + "normkit_seeds_" + std::to_string(::getpid());
  std::filesystem::create_directories(root + "/1");
  std::filesystem::create_directories(root + "/2");
  std::ofstream(root + "/1/curve.csv") << "step,arm,acc\n10,bn,0.5\n20,bn,0.7\n10,\"a,b\",0.1\n";
  std::ofstream(root + "/2/curve.csv") << "step,arm,acc\n10,bn,0.7\n20,bn,0.7\n10,\"a,b\",0.3\n";
  std::ofstream(root + "/1/short.csv") << "step,arm,acc\n10,x,0.5\n20,x,0.6\n";
  std::ofstream(root + "/2/short.csv") << "step,arm,acc\n10,x,0.7\n";
  lab::merge_csv_files({root + "/1", root + "/2"}, {1, 2}, root);
  const auto read = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  // 0.5 and 0.7: mean 0.6 ± 1.2706; 0.1 and 0.3: 0.2 ± 1.2706.
  EXPECT_EQ(read(root + "/curve.csv"),
            "step,arm,acc,step_low,step_high,arm_low,arm_high,acc_low,acc_high\n"
            "10,bn,0.6,10,10,,,-0.6706,1.8706\n"
            "20,bn,0.7,20,20,,,0.7,0.7\n"
            "10,\"a,b\",0.2,10,10,,,-1.0706,1.4706\n");
  EXPECT_EQ(read(root + "/curve_seeds.csv"),
            "seed,step,arm,acc\n1,10,bn,0.5\n1,20,bn,0.7\n1,10,\"a,b\",0.1\n2,10,bn,0.7\n2,20,bn,0.7\n2,10,\"a,b\",0.3\n");
  EXPECT_EQ(read(root + "/short.csv"),
            "step,arm,acc,step_low,step_high,arm_low,arm_high,acc_low,acc_high\n"
            "10,x,0.6,10,10,,,-0.6706,1.8706\n"
            "20,x,0.6,20,20,,,0.6,0.6\n");
  EXPECT_EQ(lab::interval_columns(3, 3), "8:9");
  std::ofstream(root + "/2/curve.csv") << "step,arm\n10,bn\n";
  EXPECT_THROW(lab::merge_csv_files({root + "/1", root + "/2"}, {1, 2}, root), Error);  // headers differ
  std::filesystem::remove_all(root);
}

// --budget: every experiment quick, then full where the extra time fits,
// cheapest first; seeds side by side in processes of one thread each take
// kOneThreadSlowdown longer per seed; a last seed alone runs with all threads.
TEST(Budget, PlansQuickOrFullToFit) {
  lab::Experiment a{"a", "", nullptr, 0, 10, 100}, b{"b", "", nullptr, 0, 20, 50};
  EXPECT_DOUBLE_EQ(lab::expected_seconds(a, true, 3, 1), 30);
  EXPECT_DOUBLE_EQ(lab::expected_seconds(a, true, 3, 2), 10 * lab::kOneThreadSlowdown + 10);
  EXPECT_DOUBLE_EQ(lab::expected_seconds(a, false, 5, 2), 2 * 100 * lab::kOneThreadSlowdown + 100);
  EXPECT_DOUBLE_EQ(lab::expected_seconds(a, false, 4, 2), 2 * 100 * lab::kOneThreadSlowdown);
  EXPECT_DOUBLE_EQ(lab::expected_seconds(a, false, 5, 3), 2 * 100 * lab::kOneThreadSlowdown);  // 3 then 2 side by side
  EXPECT_TRUE(lab::LabOptions::last_seed_alone(5, 2));
  EXPECT_FALSE(lab::LabOptions::last_seed_alone(5, 1) || lab::LabOptions::last_seed_alone(1, 2) ||
               lab::LabOptions::last_seed_alone(4, 2));
  lab::LabOptions one_job;
  one_job.jobs = 1;
  // Quick: 3 seeds each, 30 + 60 s; full: 5 seeds, 500 and 250 s.
  lab::Plan plan = lab::plan_for_budget({a, b}, one_job, 2, 400);
  ASSERT_EQ(plan.runs.size(), 2u);
  EXPECT_TRUE(plan.runs[0].quick);
  EXPECT_EQ(plan.runs[0].seeds, 3);
  EXPECT_FALSE(plan.runs[1].quick);
  EXPECT_EQ(plan.runs[1].seeds, 5);
  EXPECT_DOUBLE_EQ(plan.seconds, 280);
  EXPECT_TRUE(plan.fits);
  plan = lab::plan_for_budget({a, b}, one_job, 2, 800);
  EXPECT_FALSE(plan.runs[0].quick || plan.runs[1].quick);
  plan = lab::plan_for_budget({a, b}, one_job, 2, 50);  // not even quick fits: quick, said so
  EXPECT_TRUE(plan.runs[0].quick && plan.runs[1].quick);
  EXPECT_FALSE(plan.fits);
  EXPECT_NE(plan.text().find("more than the budget"), std::string::npos);
  EXPECT_THROW(lab::plan_for_budget({a}, one_job, 2, 0), Error);
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

// Learning rates compare by the log of their ratio, each grid step alike;
// no stable rate counts as one step below the grid.
TEST(Curve, LearningRatesCompareByLogRatio) {
  const std::vector<double> grid{0.003, 0.01, 0.03, 0.1, 0.3, 1.0};
  EXPECT_NEAR(lab::lr_log_ratio(0.3, 0.03, grid), 1.0, 1e-12);
  EXPECT_NEAR(lab::lr_log_ratio(0.03, 0.3, grid), -1.0, 1e-12);
  EXPECT_NEAR(lab::lr_log_ratio(0.1, 0.1, grid), 0.0, 1e-12);
  // 0.3 against 0.1 weighs about as much as 0.1 against 0.03 (a grid step
  // each, x3 and x3.3); their plain differences are 0.2 and 0.07.
  EXPECT_NEAR(lab::lr_log_ratio(0.3, 0.1, grid), lab::lr_log_ratio(0.1, 0.03, grid), 0.05);
  // None stable: one step (0.01 / 0.003) below 0.003.
  EXPECT_NEAR(lab::lr_log_ratio(0.003, 0.0, grid), std::log10(0.01 / 0.003), 1e-12);
  EXPECT_NEAR(lab::lr_log_ratio(0.0, 0.0, grid), 0.0, 1e-12);
  EXPECT_THROW(lab::lr_log_ratio(0.1, 0.1, {}), Error);
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
