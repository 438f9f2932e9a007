// The training loop: the seeded generator, the trainer's determinism (seeds,
// thread counts, checkpoints) and augmentation.
#include <cmath>
#include <filesystem>
#include <set>
#include <tuple>
#include <unistd.h>

#include "engine_util.hpp"
#include "normkit/io/fashion_mnist.hpp"
#include "normkit/io/safetensors.hpp"
#include "normkit/nn/dropout.hpp"
#include "normkit/train/augment.hpp"
#include "normkit/train/models.hpp"
#include "normkit/train/trainer.hpp"

namespace normkit::test {
namespace {

using nn::Generator;
namespace fs = std::filesystem;

TEST(Generator, IsTheStandardMersenneTwisterAndDeterministic) {
  // The C++ standard fixes the 10000th output of a default-seeded mt19937_64.
  Generator standard(5489u);
  std::uint64_t v = 0;
  for (int i = 0; i < 10000; ++i) v = standard.next();
  EXPECT_EQ(v, 9981545732273789042ull);
  Generator a(7), b(7);
  double sum = 0, sum_sq = 0;
  for (int i = 0; i < 100000; ++i) {
    const double x = a.normal();
    EXPECT_EQ(x, b.normal());
    sum += x, sum_sq += x * x;
  }
  EXPECT_NEAR(sum / 1e5, 0.0, 0.01);
  EXPECT_NEAR(sum_sq / 1e5, 1.0, 0.02);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(a.below(10), 10u);
}

// A seed fixes everything: initial weights, shuffling, and so the trained
// weights, bit for bit; another seed gives other weights.
TEST(Trainer, SameSeedSameWeights) {
  const io::FashionMnist data = io::load_fashion_mnist();
  auto train_with = [&](std::uint64_t seed) {
    Generator gen(seed);
    auto net = train::make_model("mlp", "bn", gen);
    train::fit(*net, data, {.epochs = 1, .batch_size = 50, .sgd = {.lr = 0.1, .momentum = 0.9}, .seed = seed, .limit = 1000},
               {}, {});
    return float_state(*net);
  };
  const std::vector<float> a = train_with(5), b = train_with(5), c = train_with(6);
  EXPECT_TRUE(same_bits(a, b));
  EXPECT_FALSE(same_bits(a, c));
}

// --checkpoint then --resume: the same bits as a run never interrupted.
TEST(Trainer, ResumeContinuesBitIdentically) {
  const io::FashionMnist data = io::load_fashion_mnist();
  const fs::path dir = fs::temp_directory_path() / ("normkit-resume-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const train::TrainOptions base{.epochs = 2, .batch_size = 50, .sgd = {.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-4},
                                 .seed = 3, .limit = 1000, .model_name = "mlp", .norm_name = "bn"};
  // Dropout's masks continue where they were (its stream position is in the checkpoint).
  const train::ModelOptions with_dropout{.dropout = 0.1};
  Generator g1(3);
  auto whole = train::make_model("mlp", "bn", g1, with_dropout);
  const auto straight = train::fit(*whole, data, base, {}, {});
  train::TrainOptions first = base;
  first.epochs = 1;
  first.checkpoint = (dir / "after1.safetensors").string();
  Generator g2(3);
  auto part = train::make_model("mlp", "bn", g2, with_dropout);
  train::fit(*part, data, first, {}, {});
  train::TrainOptions second = base;
  second.resume = first.checkpoint;
  Generator g3(77);  // other initial weights: the checkpoint replaces them
  auto resumed = train::make_model("mlp", "bn", g3, with_dropout);
  const auto rest = train::fit(*resumed, data, second, {}, {});
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].epoch, 2);
  EXPECT_EQ(rest[0].test_accuracy, straight.back().test_accuracy);
  EXPECT_TRUE(same_bits(float_state(*resumed), float_state(*whole)));
  // The checkpoint holds the model under PyTorch's keys, plus the optimizer's.
  const io::SafetensorsContents c = io::load_safetensors(first.checkpoint);
  EXPECT_EQ(c.metadata.at("normkit.epochs_done"), "1");
  EXPECT_TRUE(c.metadata.at("normkit.extra_state.4").ends_with(":20"));  // 1000 / 50 training forwards
  EXPECT_EQ(c.tensors.at(0).first, "1.weight");
  // A checkpoint of another model is refused.
  train::TrainOptions wrong = second;
  wrong.norm_name = "ln";
  Generator g4(1);
  auto other = train::make_model("mlp", "ln", g4);
  EXPECT_THROW(train::fit(*other, data, wrong, {}, {}), Error);
  fs::remove_all(dir);
}

// The same with AdamW on a small ViT (pre-norm, DyT, QK-norm): the moments
// are in the checkpoint, which a run with SGD refuses.
TEST(Trainer, AdamWViTResumesBitIdentically) {
  const io::FashionMnist data = io::load_fashion_mnist();
  const fs::path dir = fs::temp_directory_path() / ("normkit-resume-vit-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  train::TrainOptions base{.epochs = 2, .batch_size = 20, .seed = 4, .limit = 120, .model_name = "vit", .norm_name = "dyt"};
  base.optimizer = "adamw";
  base.adamw.lr = 2e-3;
  base.decay_all = false;
  train::ModelOptions small;
  small.vit = {.depth = 2, .dim = 16, .heads = 2, .patch = 7, .qk_norm = true};
  small.dropout = 0.1;  // four Dropouts a block, one inside the attention: their streams resume too
  const auto make = [&](std::uint64_t seed) {
    Generator gen(seed);
    return train::make_model("vit", "dyt", gen, small);
  };
  auto whole = make(4);
  const auto straight = train::fit(*whole, data, base, {}, {});
  train::TrainOptions first = base;
  first.epochs = 1;
  first.checkpoint = (dir / "after1.safetensors").string();
  auto part = make(4);
  train::fit(*part, data, first, {}, {});
  train::TrainOptions second = base;
  second.resume = first.checkpoint;
  auto resumed = make(9);
  train::fit(*resumed, data, second, {}, {});
  EXPECT_TRUE(same_bits(float_state(*resumed), float_state(*whole)));
  const io::SafetensorsContents c = io::load_safetensors(first.checkpoint);
  EXPECT_EQ(c.metadata.at("normkit.optimizer"), "adamw");
  std::set<std::string> keys;
  for (const auto& [key, t] : c.tensors) keys.insert(key);
  EXPECT_TRUE(keys.contains("optimizer.1.self_attn.in_proj_weight.exp_avg_sq"));
  train::TrainOptions with_sgd = second;
  with_sgd.optimizer = "sgd";
  auto other = make(9);
  EXPECT_NE(error_of([&] { train::fit(*other, data, with_sgd, {}, {}); }).find("was trained with adamw, not sgd"), std::string::npos);
  fs::remove_all(dir);
}

// Training steps give the same bits on 1 and 2 threads: convolutions and
// matrix products run on fixed blocks of samples (nn/fixed_blocks.hpp), the
// norms on fixed reduction trees. (A thread count the machine lacks still
// changes the OpenMP team, which is what is tested.)
TEST(Trainer, SameBitsOnOneAndTwoThreads) {
  const io::FashionMnist data = io::load_fashion_mnist();
  const int saved = num_threads();
  for (const char* model : {"mlp", "cnn", "resnet"}) {
    SCOPED_TRACE(model);
    std::vector<std::vector<float>> states;
    for (const int threads : {1, 2}) {
      set_num_threads(threads);
      Generator gen(3);
      auto net = train::make_model(model, "bn", gen, {.depth = 8, .dropout = 0.1});
      train::Trainer trainer(*net, data.train,
                             {.batch_size = 40, .sgd = {.lr = 0.05, .momentum = 0.9}, .seed = 1, .limit = 400});
      for (int s = 0; s < 3; ++s) trainer.step();
      states.push_back(float_state(*net));
    }
    EXPECT_TRUE(same_bits(states[0], states[1]));
  }
  set_num_threads(saved);
}

// Augmentation: every output image is its input shifted by at most 2 pixels
// (zeros shifted in) and maybe mirrored; the same (seed, step, sample) draws
// the same transform, and over many samples all five shifts and both
// flips occur.
TEST(Augment, ShiftsAndFlipsAsDrawnAndRepeats) {
  const std::int64_t n = 64, side = 6;
  Tensor images({n, 1, side, side});
  for (std::int64_t i = 0; i < images.numel(); ++i) images.data<float>()[i] = static_cast<float>(i % (side * side) + 1);
  Tensor a = Tensor::copy_of(images), b = Tensor::copy_of(images), other = Tensor::copy_of(images);
  train::augment_images(a, 7, 3, 0);
  train::augment_images(b, 7, 3, 0);
  train::augment_images(other, 7, 4, 0);
  EXPECT_TRUE(same_bits(values(a), values(b)));
  EXPECT_FALSE(same_bits(values(a), values(other)));
  std::set<std::tuple<int, int, bool>> seen;
  for (std::int64_t j = 0; j < n; ++j) {
    const float* out = a.data<float>() + j * side * side;
    // Find the transform that explains the output.
    bool explained = false;
    for (int dy = -2; dy <= 2 && !explained; ++dy)
      for (int dx = -2; dx <= 2 && !explained; ++dx)
        for (const bool flip : {false, true}) {
          bool match = true;
          for (int r = 0; r < side && match; ++r)
            for (int q = 0; q < side && match; ++q) {
              const int sr = r + dy, sq = (flip ? side - 1 - q : q) + dx;
              const float expected = sr >= 0 && sr < side && sq >= 0 && sq < side ? static_cast<float>(sr * side + sq + 1) : 0.0f;
              match = out[r * side + q] == expected;
            }
          if (match) {
            explained = true;
            seen.insert({dy, dx, flip});
            break;
          }
        }
    EXPECT_TRUE(explained) << "sample " << j;
  }
  EXPECT_GT(seen.size(), 20u);  // of the 50 transforms, many are drawn
  // With no shift, each image is itself or its mirror image, and both occur.
  Tensor flips = Tensor::copy_of(images);
  train::augment_images(flips, 7, 3, 0, {.shift = 0});
  int mirrored = 0;
  for (std::int64_t j = 0; j < n; ++j) {
    const float* out = flips.data<float>() + j * side * side;
    const bool same = out[0] == 1.0f, mirror = out[0] == static_cast<float>(side);
    EXPECT_TRUE(same || mirror) << "sample " << j;
    for (int r = 0; r < side; ++r)
      for (int q = 0; q < side; ++q)
        EXPECT_EQ(out[r * side + q], static_cast<float>(r * side + (mirror ? side - 1 - q : q) + 1));
    mirrored += mirror;
  }
  EXPECT_GT(mirrored, 16);
  EXPECT_LT(mirrored, 48);
  Tensor wrong({4, 36});
  EXPECT_THROW(train::augment_images(wrong, 1, 0, 0), Error);
  EXPECT_THROW(train::augment_images(images, 1, 0, 0, {.shift = -1}), Error);
  EXPECT_THROW(train::augment_images(images, 1, 0, 0, {.erase = 1.5}), Error);
}

// Random erasing: on constant images (which flips leave alone) the erased
// pixels, noise in [0, 1), form one rectangle of 2% to 40% of the image with
// aspect ratio in [0.3, 3.3]; about the asked share of images is erased.
TEST(Augment, ErasesOneRectangleWithTheAskedProbability) {
  const std::int64_t n = 400, side = 28;
  Tensor images({n, 1, side, side});
  std::fill_n(images.data<float>(), images.numel(), 2.0f);
  train::augment_images(images, 11, 5, 0, {.shift = 0, .erase = 0.5});
  int erased = 0;
  for (std::int64_t j = 0; j < n; ++j) {
    const float* out = images.data<float>() + j * side * side;
    int top = side, bottom = -1, left = side, right = -1, count = 0;
    for (int r = 0; r < side; ++r)
      for (int q = 0; q < side; ++q)
        if (out[r * side + q] != 2.0f) {
          EXPECT_GE(out[r * side + q], 0.0f);
          EXPECT_LT(out[r * side + q], 1.0f);
          top = std::min(top, r), bottom = std::max(bottom, r), left = std::min(left, q), right = std::max(right, q);
          ++count;
        }
    if (count == 0) continue;
    ++erased;
    const int height = bottom - top + 1, width = right - left + 1;
    EXPECT_EQ(count, height * width) << "sample " << j << ": not one rectangle";
    EXPECT_GE(count, 0.02 * side * side * 0.7);
    EXPECT_LE(count, 0.4 * side * side * 1.3);
    EXPECT_GE(static_cast<double>(height) / width, 0.3 * 0.7);
    EXPECT_LE(static_cast<double>(height) / width, 3.4 / 0.7);
  }
  EXPECT_GT(erased, 160);
  EXPECT_LT(erased, 240);
}

// --eval-every: the test set is evaluated every N epochs and after the last;
// the epochs between report NaN; the weights are those of evaluating always.
TEST(Trainer, EvaluatesEveryNEpochsAndAfterTheLast) {
  const io::FashionMnist data = io::load_fashion_mnist();
  auto run = [&](std::int64_t every, std::vector<float>* weights) {
    Generator gen(4);
    auto net = train::make_model("mlp", "bn", gen);
    const auto reports = train::fit(
        *net, data,
        {.epochs = 3, .batch_size = 50, .sgd = {.lr = 0.1, .momentum = 0.9}, .seed = 4, .eval_every = every, .limit = 500},
        {}, {});
    if (weights != nullptr) *weights = float_state(*net);
    std::vector<bool> tested;
    for (const auto& r : reports) tested.push_back(!std::isnan(r.test_accuracy));
    return tested;
  };
  std::vector<float> always, sometimes;
  EXPECT_EQ(run(1, &always), (std::vector<bool>{true, true, true}));
  EXPECT_EQ(run(2, &sometimes), (std::vector<bool>{false, true, true}));
  EXPECT_EQ(run(0, nullptr), (std::vector<bool>{false, false, true}));
  EXPECT_TRUE(same_bits(always, sometimes));
  EXPECT_THROW(run(-1, nullptr), Error);
}

// The mirror reverses each image row; twice is the identity; bad input is refused.
TEST(Augment, MirroredImagesReverseEveryRow) {
  Tensor images({2, 3, 4, 5});
  for (std::int64_t i = 0; i < images.numel(); ++i) images.data<float>()[i] = static_cast<float>(i);
  const Tensor m = train::mirrored_images(images);
  for (std::int64_t row = 0; row < 2 * 3 * 4; ++row)
    for (std::int64_t q = 0; q < 5; ++q)
      EXPECT_EQ(m.data<float>()[row * 5 + q], images.data<float>()[row * 5 + 4 - q]);
  const Tensor back = train::mirrored_images(m);
  EXPECT_TRUE(std::equal(back.data<float>(), back.data<float>() + back.numel(), images.data<float>()));
  EXPECT_THROW(train::mirrored_images(Tensor({3, 4})), Error);
}

// Evaluation with flip averaging scores the mean of the logits on each image
// and on its mirror: the same as computing that mean by hand.
TEST(Trainer, FlipAveragedEvaluationScoresTheMeanLogits) {
  const io::FashionMnist data = io::load_fashion_mnist();
  io::LabelledImages test;
  const std::int64_t n = 300;
  test.images = Tensor({n, 1, 28, 28});
  test.labels = Tensor({n}, DType::int64);
  std::copy_n(data.test.images.data<float>(), test.images.numel(), test.images.data<float>());
  std::copy_n(data.test.labels.data<std::int64_t>(), n, test.labels.data<std::int64_t>());
  Generator gen(3);
  auto net = train::make_model("cnn", "bn", gen);
  train::fit(*net, data, {.epochs = 1, .batch_size = 50, .sgd = {.lr = 0.05, .momentum = 0.9}, .seed = 3, .limit = 2000},
             {}, {});
  // One batch of all n, as the forward below.
  const train::Evaluation plain = train::evaluate(*net, test, n), averaged = train::evaluate(*net, test, n, nullptr, true);
  net->eval();
  Tensor logits = net->forward(test.images);
  const Tensor mirrored = net->forward(train::mirrored_images(test.images));
  for (std::int64_t i = 0; i < logits.numel(); ++i)
    logits.data<float>()[i] = (logits.data<float>()[i] + mirrored.data<float>()[i]) * 0.5f;
  std::int64_t correct = 0;
  for (std::int64_t j = 0; j < n; ++j) {
    const float* row = logits.data<float>() + j * 10;
    correct += std::max_element(row, row + 10) - row == test.labels.data<std::int64_t>()[j];
  }
  EXPECT_DOUBLE_EQ(averaged.accuracy, static_cast<double>(correct) / n);
  EXPECT_NE(averaged.loss, plain.loss);  // the mirrors changed the scores
}

}  // namespace
}  // namespace normkit::test
