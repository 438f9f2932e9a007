// The training engine's first layers: Linear against double-precision
// formulas, activations, Sequential's PyTorch-style state dict, softmax
// cross-entropy, SGD against torch.optim.SGD's update rule, gradients of a
// whole network by finite differences, the seeded generator, and a network
// that learns Fashion-MNIST.
#include <unistd.h>

#include <cmath>
#include <limits>
#include <cstring>
#include <filesystem>
#include <set>
#include <tuple>

#include "normkit/io/fashion_mnist.hpp"
#include "normkit/io/safetensors.hpp"
#include "normkit/nn/activation.hpp"
#include "normkit/nn/batch_norm.hpp"
#include "normkit/nn/conv2d.hpp"
#include "normkit/nn/dropout.hpp"
#include "normkit/nn/pooling.hpp"
#include "normkit/nn/residual.hpp"
#include "normkit/nn/linear.hpp"
#include "normkit/nn/loss.hpp"
#include "normkit/nn/sequential.hpp"
#include "normkit/nn/sgd.hpp"
#include "normkit/train/augment.hpp"
#include "normkit/train/models.hpp"
#include "normkit/train/schedule.hpp"
#include "normkit/train/trainer.hpp"
#include "module_util.hpp"

namespace normkit::test {
namespace {

using nn::Generator;
namespace fs = std::filesystem;

Tensor matrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed, double scale = 1.0) {
  Generator gen(seed);
  return nn::normal_tensor({rows, cols}, scale, gen);
}

// Labels 0, 1, 2, 0, 1, ... for n samples.
Tensor cyclic_labels(std::int64_t n, std::int64_t classes) {
  Tensor labels({n}, DType::int64);
  for (std::int64_t i = 0; i < n; ++i) labels.data<std::int64_t>()[i] = i % classes;
  return labels;
}

// Every `every`-th element of every parameter of net: the gradient of the
// cross-entropy of net(x) that backward accumulates against a central
// difference (float, step 1e-3), within abs + rel * |numeric|.
void expect_gradients_match_central_differences(nn::Sequential& net, const Tensor& x, const Tensor& labels,
                                                std::int64_t every, double abs, double rel) {
  auto loss = [&] { return nn::softmax_cross_entropy(net.forward(x), labels).loss; };
  net.zero_grad();
  net.backward(nn::softmax_cross_entropy(net.forward(x), labels).grad);
  for (const auto& [name, p] : net.named_parameters()) {
    const Tensor analytic = Tensor::copy_of(p->grad);
    for (std::int64_t i = 0; i < p->value.numel(); i += every) {
      const double numeric = central_difference(p->value.data<float>()[i], 1e-3f, loss);
      EXPECT_NEAR(analytic.data<float>()[i], numeric, abs + rel * std::fabs(numeric)) << name << "[" << i << "]";
    }
  }
}

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

TEST(Linear, MatchesTheFormulasInDouble) {
  Generator gen(1);
  nn::Linear layer(7, 5, gen);
  const Tensor x = matrix(4, 7, 2), dy = matrix(4, 5, 3);
  const Tensor y = layer.forward(x);
  const Tensor dx = layer.backward(dy);
  const float* w = layer.weight.value.data<float>();
  const float* b = layer.bias.value.data<float>();
  for (int i = 0; i < 4; ++i)
    for (int o = 0; o < 5; ++o) {
      double ref = b[o];
      for (int k = 0; k < 7; ++k) ref += static_cast<double>(x.data<float>()[i * 7 + k]) * w[o * 7 + k];
      EXPECT_NEAR(y.data<float>()[i * 5 + o], ref, 1e-5 * (1 + std::fabs(ref)));
    }
  for (int i = 0; i < 4; ++i)
    for (int k = 0; k < 7; ++k) {
      double ref = 0;
      for (int o = 0; o < 5; ++o) ref += static_cast<double>(dy.data<float>()[i * 5 + o]) * w[o * 7 + k];
      EXPECT_NEAR(dx.data<float>()[i * 7 + k], ref, 1e-5 * (1 + std::fabs(ref)));
    }
  for (int o = 0; o < 5; ++o) {
    double db = 0;
    for (int i = 0; i < 4; ++i) db += dy.data<float>()[i * 5 + o];
    EXPECT_NEAR(layer.bias.grad.data<float>()[o], db, 1e-5 * (1 + std::fabs(db)));
    for (int k = 0; k < 7; ++k) {
      double dw = 0;
      for (int i = 0; i < 4; ++i) dw += static_cast<double>(dy.data<float>()[i * 5 + o]) * x.data<float>()[i * 7 + k];
      EXPECT_NEAR(layer.weight.grad.data<float>()[o * 7 + k], dw, 1e-5 * (1 + std::fabs(dw)));
    }
  }
  // Gradients accumulate, as PyTorch's.
  layer.forward(x);
  layer.backward(dy);
  EXPECT_NEAR(layer.bias.grad.data<float>()[0], 2 * (dy.data<float>()[0] + dy.data<float>()[5] + dy.data<float>()[10] + dy.data<float>()[15]), 1e-5);
}

TEST(Linear, RefusesWrongShapes) {
  Generator gen(1);
  nn::Linear layer(3, 2, gen);
  EXPECT_THROW(layer.backward(matrix(1, 2, 1)), Error);  // before forward
  EXPECT_THROW(layer.forward(matrix(2, 4, 1)), Error);
  layer.forward(matrix(2, 3, 1));
  EXPECT_THROW(layer.backward(matrix(3, 2, 1)), Error);
}

// Conv2d against a direct convolution in double: forward, dx, dweight, dbias,
// with stride, padding and groups.
TEST(Conv2d, MatchesADirectConvolutionInDouble) {
  struct Case { std::int64_t n, c, h, w, o, k, stride, pad, groups; };
  // The last two take oneDNN's blocked layouts (8+ channels in and out) and
  // span a full block of 16 samples and a tail block.
  for (const Case t : {Case{2, 4, 7, 6, 6, 3, 2, 1, 2}, Case{3, 3, 5, 5, 2, 3, 1, 0, 1}, Case{1, 2, 4, 4, 4, 1, 1, 0, 2},
                       Case{18, 8, 7, 7, 16, 3, 1, 1, 1}, Case{17, 16, 6, 5, 8, 3, 2, 1, 1}}) {
    SCOPED_TRACE("k=" + std::to_string(t.k) + " stride=" + std::to_string(t.stride) + " groups=" + std::to_string(t.groups));
    Generator gen(21);
    nn::Conv2d conv(t.c, t.o, t.k, gen, {.stride = t.stride, .padding = t.pad, .groups = t.groups});
    const Tensor x = nn::normal_tensor({t.n, t.c, t.h, t.w}, 1.0, gen);
    const Tensor y = conv.forward(x);
    const std::int64_t ho = (t.h + 2 * t.pad - t.k) / t.stride + 1, wo = (t.w + 2 * t.pad - t.k) / t.stride + 1;
    ASSERT_EQ(y.shape(), (Shape{t.n, t.o, ho, wo}));
    const Tensor dy = nn::normal_tensor(y.shape(), 1.0, gen);
    const Tensor dx = conv.backward(dy);
    const std::int64_t cg = t.c / t.groups, og = t.o / t.groups;
    const float* W = conv.weight.value.data<float>();
    std::vector<double> ref_dx(static_cast<std::size_t>(x.numel()), 0.0), ref_dw(static_cast<std::size_t>(conv.weight.value.numel()), 0.0), ref_db(t.o, 0.0);
    auto xi = [&](std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) { return ((n * t.c + c) * t.h + i) * t.w + j; };
    for (std::int64_t n = 0; n < t.n; ++n)
      for (std::int64_t o = 0; o < t.o; ++o)
        for (std::int64_t i = 0; i < ho; ++i)
          for (std::int64_t j = 0; j < wo; ++j) {
            const std::int64_t yi = ((n * t.o + o) * ho + i) * wo + j;
            double acc = conv.bias.value.data<float>()[o];
            const double g = dy.data<float>()[yi];
            ref_db[o] += g;
            for (std::int64_t ci = 0; ci < cg; ++ci)
              for (std::int64_t a = 0; a < t.k; ++a)
                for (std::int64_t b = 0; b < t.k; ++b) {
                  const std::int64_t r = i * t.stride - t.pad + a, q = j * t.stride - t.pad + b;
                  if (r < 0 || r >= t.h || q < 0 || q >= t.w) continue;
                  const std::int64_t c = (o / og) * cg + ci, wi = ((o * cg + ci) * t.k + a) * t.k + b;
                  acc += static_cast<double>(x.data<float>()[xi(n, c, r, q)]) * W[wi];
                  ref_dx[xi(n, c, r, q)] += g * W[wi];
                  ref_dw[wi] += g * x.data<float>()[xi(n, c, r, q)];
                }
            EXPECT_NEAR(y.data<float>()[yi], acc, 1e-5 * (1 + std::fabs(acc)));
          }
    for (std::int64_t i = 0; i < x.numel(); ++i) EXPECT_NEAR(dx.data<float>()[i], ref_dx[i], 1e-5 * (1 + std::fabs(ref_dx[i])));
    for (std::int64_t i = 0; i < conv.weight.value.numel(); ++i)
      EXPECT_NEAR(conv.weight.grad.data<float>()[i], ref_dw[i], 1e-4 * (1 + std::fabs(ref_dw[i])));
    for (std::int64_t o = 0; o < t.o; ++o) EXPECT_NEAR(conv.bias.grad.data<float>()[o], ref_db[o], 1e-4 * (1 + std::fabs(ref_db[o])));
  }
  Generator gen(1);
  nn::Conv2d conv(3, 4, 3, gen);
  EXPECT_THROW(conv.forward(matrix(2, 3, 1)), Error);
  EXPECT_THROW(nn::Conv2d(3, 4, 3, gen, {.groups = 2}), Error);
}

TEST(Pooling, MaxAndGlobalAverage) {
  Generator gen(5);
  const Tensor x = nn::normal_tensor({2, 3, 6, 5}, 1.0, gen);  // 6x5: the last column is left out by 2x2 windows
  nn::MaxPool2d pool(2);
  const Tensor y = pool.forward(x);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 3, 2}));
  const Tensor dy = nn::normal_tensor(y.shape(), 1.0, gen);
  const Tensor dx = pool.backward(dy);
  std::vector<float> ref_dx(static_cast<std::size_t>(x.numel()), 0.0f);
  for (std::int64_t nc = 0; nc < 6; ++nc)
    for (std::int64_t i = 0; i < 3; ++i)
      for (std::int64_t j = 0; j < 2; ++j) {
        std::int64_t best = -1;
        for (std::int64_t a = 0; a < 2; ++a)
          for (std::int64_t b = 0; b < 2; ++b) {
            const std::int64_t at = (nc * 6 + 2 * i + a) * 5 + 2 * j + b;
            if (best < 0 || x.data<float>()[at] > x.data<float>()[best]) best = at;
          }
        EXPECT_EQ(y.data<float>()[(nc * 3 + i) * 2 + j], x.data<float>()[best]);
        ref_dx[static_cast<std::size_t>(best)] += dy.data<float>()[(nc * 3 + i) * 2 + j];
      }
  for (std::int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(dx.data<float>()[i], ref_dx[i]) << i;
  nn::GlobalAvgPool2d gap;
  const Tensor m = gap.forward(x);
  ASSERT_EQ(m.shape(), (Shape{2, 3}));
  double sum = 0;
  for (int i = 0; i < 30; ++i) sum += x.data<float>()[30 + i];  // (0, 1)
  EXPECT_NEAR(m.data<float>()[1], sum / 30, 1e-6);
  const Tensor g = nn::normal_tensor({2, 3}, 1.0, gen);
  const Tensor back = gap.backward(g);
  EXPECT_FLOAT_EQ(back.data<float>()[30 + 7], g.data<float>()[1] / 30);
  EXPECT_EQ(back.shape(), x.shape());
  EXPECT_THROW(pool.forward(matrix(2, 3, 1)), Error);
}

// Ties go to the first element of the window in scan order and NaN wins over
// numbers (the first NaN), as PyTorch; for 2x2 windows (the vectorized path)
// and 3x3 windows at stride 1 (the general one), gradients routed alike.
TEST(Pooling, MaxTiesAndNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x({1, 1, 2, 4});
  const float values[] = {1, 1, nan, 2, 1, 1, 3, nan};
  std::copy(values, values + 8, x.data<float>());
  nn::MaxPool2d pool(2);
  const Tensor y = pool.forward(x);
  EXPECT_EQ(y.data<float>()[0], 1.0f);
  EXPECT_TRUE(std::isnan(y.data<float>()[1]));
  Tensor dy({1, 1, 1, 2});
  dy.data<float>()[0] = 5, dy.data<float>()[1] = 7;
  const Tensor dx = pool.backward(dy);
  const float expected[] = {5, 0, 7, 0, 0, 0, 0, 0};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(dx.data<float>()[i], expected[i]) << i;
  Tensor square({1, 1, 3, 4});
  const float grid[] = {0, 2, 2, 0, 1, nan, 1, 9, 2, 2, 0, 0};
  std::copy(grid, grid + 12, square.data<float>());
  nn::MaxPool2d wide(3, 1);
  const Tensor z = wide.forward(square);
  ASSERT_EQ(z.shape(), (Shape{1, 1, 1, 2}));
  EXPECT_TRUE(std::isnan(z.data<float>()[0]));
  EXPECT_TRUE(std::isnan(z.data<float>()[1]));
}

TEST(Activations, ForwardAndBackward) {
  const Tensor x = matrix(3, 4, 5, 2.0), dy = matrix(3, 4, 6);
  nn::ReLU relu;
  nn::Sigmoid sigmoid;
  const Tensor r = relu.forward(x), dr = relu.backward(dy);
  const Tensor s = sigmoid.forward(x), ds = sigmoid.backward(dy);
  for (int i = 0; i < 12; ++i) {
    const float v = x.data<float>()[i], g = dy.data<float>()[i];
    EXPECT_EQ(r.data<float>()[i], v > 0 ? v : 0.0f);
    EXPECT_EQ(dr.data<float>()[i], v > 0 ? g : 0.0f);
    const double sv = 1 / (1 + std::exp(-static_cast<double>(v)));
    EXPECT_NEAR(s.data<float>()[i], sv, 1e-6);
    EXPECT_NEAR(ds.data<float>()[i], g * sv * (1 - sv), 1e-6);
  }
  nn::Flatten flatten;
  Generator gen(3);
  const Tensor images = nn::normal_tensor({2, 1, 3, 3}, 1.0, gen);
  const Tensor flat = flatten.forward(images);
  EXPECT_EQ(flat.shape(), (Shape{2, 9}));
  EXPECT_EQ(flat.data<float>()[13], images.data<float>()[13]);
  EXPECT_EQ(flatten.backward(flat).shape(), images.shape());
}

TEST(CrossEntropy, ValueGradientAndAccuracy) {
  const Tensor logits = matrix(3, 4, 8, 2.0);
  const Tensor labels = cyclic_labels(3, 3);  // 0, 1, 2
  const nn::CrossEntropy ce = nn::softmax_cross_entropy(logits, labels);
  double loss = 0;
  std::int64_t correct = 0;
  for (int i = 0; i < 3; ++i) {
    const float* z = logits.data<float>() + i * 4;
    double sum = 0;
    for (int j = 0; j < 4; ++j) sum += std::exp(static_cast<double>(z[j]));
    loss += std::log(sum) - z[i];
    double grad_sum = 0;
    int arg = 0;
    for (int j = 0; j < 4; ++j) {
      const double p = std::exp(static_cast<double>(z[j])) / sum;
      EXPECT_NEAR(ce.grad.data<float>()[i * 4 + j], (p - (j == i)) / 3, 1e-7);
      grad_sum += ce.grad.data<float>()[i * 4 + j];
      if (z[j] > z[arg]) arg = j;
    }
    EXPECT_NEAR(grad_sum, 0.0, 1e-7);
    correct += arg == i;
  }
  EXPECT_NEAR(ce.loss, loss / 3, 1e-9);
  EXPECT_EQ(ce.correct, correct);
  labels.data<std::int64_t>()[1] = 4;
  EXPECT_THROW(nn::softmax_cross_entropy(logits, labels), Error);
}

TEST(SGD, FollowsTorchOptimSgdUpdateRule) {
  for (const bool nesterov : {false, true}) {
    nn::Parameter p(vector_tensor({1.0f, -2.0f}));
    nn::SGD opt({&p}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = nesterov});
    double w[2] = {1.0, -2.0}, b[2] = {0, 0};
    const float grads[3][2] = {{0.5f, -1.0f}, {0.25f, 0.5f}, {-1.0f, 2.0f}};
    for (int step = 0; step < 3; ++step) {
      p.zero_grad();
      p.grad.data<float>()[0] = grads[step][0], p.grad.data<float>()[1] = grads[step][1];
      opt.step();
      for (int i = 0; i < 2; ++i) {
        const double g = grads[step][i] + 0.01 * w[i];
        b[i] = step == 0 ? g : 0.9 * b[i] + g;
        w[i] -= 0.1 * (nesterov ? g + 0.9 * b[i] : b[i]);
        EXPECT_NEAR(p.value.data<float>()[i], w[i], 1e-6) << "step " << step << (nesterov ? " nesterov" : "");
      }
    }
  }
}

TEST(Sequential, StateDictKeysAreTorchSequentials) {
  Generator gen(4);
  nn::Sequential net;
  net.add(std::make_unique<nn::Flatten>());
  net.add(std::make_unique<nn::Linear>(9, 4, gen));
  net.add(std::make_unique<nn::BatchNorm1d>(4));
  net.add(std::make_unique<nn::ReLU>());
  net.add(std::make_unique<nn::Linear>(4, 3, gen, nn::LinearOptions{.bias = false}));
  std::vector<std::string> keys;
  for (const auto& [key, _] : net.state_dict()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"1.weight", "1.bias", "2.weight", "2.bias", "2.running_mean",
                                            "2.running_var", "2.num_batches_tracked", "4.weight"}));
  EXPECT_EQ(net.parameters().size(), 5u);
  net.eval();
  EXPECT_FALSE(net[2].is_training());
  net.train();
  EXPECT_TRUE(net[2].is_training());
  // A state dict loads into a second network of the same layers.
  nn::Sequential other;
  Generator gen2(99);
  other.add(std::make_unique<nn::Flatten>());
  other.add(std::make_unique<nn::Linear>(9, 4, gen2));
  other.add(std::make_unique<nn::BatchNorm1d>(4));
  other.add(std::make_unique<nn::ReLU>());
  other.add(std::make_unique<nn::Linear>(4, 3, gen2, nn::LinearOptions{.bias = false}));
  other.load_state_dict(net.state_dict());
  EXPECT_EQ(other.find_tensor("4.weight")->data<float>()[5], net.find_tensor("4.weight")->data<float>()[5]);
}

// Every parameter gradient of a small network, by central differences of the
// cross-entropy loss.
TEST(Sequential, GradientsMatchFiniteDifferences) {
  Generator gen(11);
  nn::Sequential net;
  net.add(std::make_unique<nn::Linear>(6, 5, gen));
  net.add(std::make_unique<nn::Sigmoid>());
  net.add(std::make_unique<nn::Linear>(5, 4, gen));
  net.add(std::make_unique<nn::BatchNorm1d>(4));
  net.add(std::make_unique<nn::ReLU>());
  net.add(std::make_unique<nn::Linear>(4, 3, gen));
  expect_gradients_match_central_differences(net, matrix(8, 6, 12), cyclic_labels(8, 3), 3, 2e-3, 2e-2);
}

// A ReLU network learns Fashion-MNIST: five short epochs on 6000 images
// (0.81 on the first 2000 test images; chance is 0.10).
TEST(Sequential, LearnsFashionMnist) {
  const io::FashionMnist data = io::load_fashion_mnist();
  Generator gen(2024);
  nn::Sequential net;
  net.add(std::make_unique<nn::Flatten>());
  net.add(std::make_unique<nn::Linear>(784, 100, gen, nn::LinearOptions{.init = nn::Init::kaiming_normal}));
  net.add(std::make_unique<nn::ReLU>());
  net.add(std::make_unique<nn::Linear>(100, 10, gen));
  nn::SGD opt(net.parameters(), {.lr = 0.1, .momentum = 0.9});
  const std::int64_t train_n = 6000, batch = 64, pixels = 784;
  std::vector<std::int64_t> order(train_n);
  for (std::int64_t i = 0; i < train_n; ++i) order[i] = i;
  for (int epoch = 0; epoch < 5; ++epoch) {
    for (std::int64_t i = train_n - 1; i > 0; --i) std::swap(order[i], order[gen.below(static_cast<std::uint64_t>(i + 1))]);
    for (std::int64_t b0 = 0; b0 + batch <= train_n; b0 += batch) {
      Tensor x({batch, 1, 28, 28}), y({batch}, DType::int64);
      for (std::int64_t j = 0; j < batch; ++j) {
        std::memcpy(x.data<float>() + j * pixels, data.train.images.data<float>() + order[b0 + j] * pixels, pixels * sizeof(float));
        y.data<std::int64_t>()[j] = data.train.labels.data<std::int64_t>()[order[b0 + j]];
      }
      opt.zero_grad();
      net.backward(nn::softmax_cross_entropy(net.forward(x), y).grad);
      opt.step();
    }
  }
  net.eval();
  const std::int64_t test_n = 2000;
  const Tensor x = Tensor::copy_of(TensorView(data.test.images.data<float>(), {test_n, 1, 28, 28}, {784, 784, 28, 1}, DType::float32));
  const Tensor y = Tensor::copy_of(TensorView(data.test.labels.data<std::int64_t>(), {test_n}, {1}, DType::int64));
  const double accuracy = static_cast<double>(nn::softmax_cross_entropy(net.forward(x), y).correct) / test_n;
  EXPECT_GT(accuracy, 0.75) << "test accuracy " << accuracy;
  RecordProperty("test_accuracy", std::to_string(accuracy));
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

// Every parameter gradient of residual blocks (both forms, with a strided
// projection shortcut and with the identity), by central differences.
TEST(ResidualBlock, GradientsMatchFiniteDifferences) {
  for (const nn::ResidualForm form : {nn::ResidualForm::post_activation, nn::ResidualForm::pre_activation}) {
    SCOPED_TRACE(form == nn::ResidualForm::pre_activation ? "pre-activation" : "post-activation");
    Generator gen(31);
    const nn::MapNormFactory bn = [](std::int64_t c, std::int64_t, std::int64_t) -> std::unique_ptr<nn::Layer> {
      return std::make_unique<nn::BatchNorm2d>(c);
    };
    nn::Sequential net;
    net.add(std::make_unique<nn::ResidualBlock>(3, 4, 2, 6, bn, form, gen));
    net.add(std::make_unique<nn::ResidualBlock>(4, 4, 1, 3, bn, form, gen));
    net.add(std::make_unique<nn::GlobalAvgPool2d>());
    net.add(std::make_unique<nn::Linear>(4, 3, gen));
    expect_gradients_match_central_differences(net, nn::normal_tensor({4, 3, 6, 6}, 1.0, gen), cyclic_labels(4, 3), 5,
                                               3e-3, 3e-2);
  }
}

TEST(Models, ResNetKeysFollowTorchvision) {
  Generator gen(2);
  const auto net = train::make_model("resnet", "bn", gen, {.depth = 8});
  std::vector<std::string> keys;
  for (const auto& [key, _] : net->state_dict()) keys.push_back(key);
  for (const char* key : {"0.weight", "1.running_mean", "3.conv1.weight", "3.bn2.num_batches_tracked",
                          "4.downsample.0.weight", "4.downsample.1.running_var", "7.weight", "7.bias"})
    EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end()) << key;
  EXPECT_THROW(train::make_model("resnet", "bn", gen, {.depth = 10}), Error);
  const auto pre = train::make_model("resnet", "gn", gen, {.depth = 8, .form = nn::ResidualForm::pre_activation});
  EXPECT_EQ(pre->forward(nn::normal_tensor({2, 1, 28, 28}, 1.0, gen)).shape(), (Shape{2, 10}));
}

TEST(Schedule, StepCosineAndWarmUpAsPyTorch) {
  using train::LrSchedule;
  const LrSchedule step{.kind = LrSchedule::Kind::step, .step_epochs = 2, .gamma = 0.5};
  EXPECT_DOUBLE_EQ(step.at(0, 10, 100, 0.4), 0.4);
  EXPECT_DOUBLE_EQ(step.at(19, 10, 100, 0.4), 0.4);   // epoch 1
  EXPECT_DOUBLE_EQ(step.at(20, 10, 100, 0.4), 0.2);   // epoch 2
  EXPECT_DOUBLE_EQ(step.at(45, 10, 100, 0.4), 0.1);   // epoch 4
  const LrSchedule cosine{.kind = LrSchedule::Kind::cosine, .eta_min = 0.01, .warmup_steps = 10};
  EXPECT_DOUBLE_EQ(cosine.at(0, 10, 110, 1.0), 0.1);  // warm-up: (t + 1) / 10
  EXPECT_DOUBLE_EQ(cosine.at(9, 10, 110, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(cosine.at(10, 10, 110, 1.0), 1.0);  // the cosine starts at the base rate
  EXPECT_NEAR(cosine.at(60, 10, 110, 1.0), 0.505, 1e-12);  // half way: (1 + 0.01) / 2
  EXPECT_NEAR(cosine.at(110, 10, 110, 1.0), 0.01, 1e-12);
  EXPECT_THROW(train::schedule_kind("linear"), Error);
}

TEST(Models, RefuseWhatTheyDoNotTake) {
  Generator gen(1);
  EXPECT_THROW(train::make_model("mlp", "in", gen), Error);  // a feature vector has no spatial extent
  EXPECT_THROW(train::make_model("vgg", "bn", gen), Error);
  EXPECT_THROW(train::make_model("cnn", "batchnorm", gen), Error);
  EXPECT_THROW(train::make_model("cnn", "bn", gen, {.dropout = 1.0}), Error);
}

// Every norm of the family in every model it fits, forward and backward,
// with the norm's layer in place (its own state-dict entries).
TEST(Models, TakeEveryNormByName) {
  Generator gen(1);
  for (const char* norm : {"none", "bn", "gn", "ln", "rms", "ghost", "renorm"}) {
    const auto net = train::make_model("mlp", norm, gen, {.dropout = 0.2});
    const Tensor logits = net->forward(matrix(32, 784, 3));
    EXPECT_EQ(logits.shape(), (Shape{32, 10})) << norm;
    EXPECT_EQ(net->backward(logits).shape(), (Shape{32, 784})) << norm;
  }
  for (const char* model : {"cnn", "resnet"})
    for (const char* norm : {"none", "bn", "gn", "ln", "in", "rms", "ghost", "renorm"}) {
      SCOPED_TRACE(std::string(model) + " " + norm);
      const auto net = train::make_model(model, norm, gen, {.depth = 8, .dropout = 0.1, .ghost_batch = 2});
      const Tensor logits = net->forward(nn::normal_tensor({4, 1, 28, 28}, 1.0, gen));
      EXPECT_EQ(logits.shape(), (Shape{4, 10}));
      EXPECT_EQ(net->backward(logits).shape(), (Shape{4, 1, 28, 28}));
      // BN-like norms keep running statistics (InstanceNorm, as PyTorch's
      // default, does not); RMSNorm on maps has a (C, H, W) weight.
      const nn::StateDict state = net->state_dict();
      const auto has = [&](auto predicate) { return std::any_of(state.begin(), state.end(), predicate); };
      const std::string name = norm;
      EXPECT_EQ(has([](const auto& e) { return e.first.ends_with("running_mean"); }),
                name == "bn" || name == "ghost" || name == "renorm");
      EXPECT_EQ(has([](const auto& e) { return e.second.shape().size() == 3; }), name == "rms");
    }
}

// Dropout: the kept fraction is 1 - p, kept elements are scaled by
// 1 / (1 - p), backward applies the same mask, eval is the identity, and a
// layer set to another's extra state draws the same next mask.
TEST(Dropout, MaskScaleEvalAndResumableStream) {
  Generator gen(4);
  nn::Dropout drop(0.25, gen);
  Tensor x({200, 50});
  for (std::int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = 1.0f;
  const Tensor y = drop.forward(x);
  std::int64_t kept = 0;
  for (std::int64_t i = 0; i < y.numel(); ++i) {
    const float v = y.data<float>()[i];
    EXPECT_TRUE(v == 0.0f || v == static_cast<float>(1.0 / 0.75)) << v;
    kept += v != 0.0f;
  }
  EXPECT_NEAR(static_cast<double>(kept) / static_cast<double>(x.numel()), 0.75, 0.02);
  const Tensor dx = drop.backward(x);
  for (std::int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(dx.data<float>()[i], y.data<float>()[i]);
  // The next mask differs; a layer of another seed set to the state after
  // one forward draws it too.
  Generator other_seed(5);
  nn::Dropout copy(0.25, other_seed);
  copy.set_extra_state(drop.extra_state());
  const Tensor next = drop.forward(x), next_copy = copy.forward(x);
  EXPECT_TRUE(same_bits(values(next), values(next_copy)));
  EXPECT_FALSE(same_bits(values(next), values(y)));
  drop.eval();
  EXPECT_TRUE(same_bits(values(drop.forward(x)), values(x)));
  EXPECT_THROW(nn::Dropout(1.0, gen), Error);
  EXPECT_THROW(copy.set_extra_state("seven"), Error);
}

}  // namespace
}  // namespace normkit::test

namespace normkit::test {
namespace {

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

// A first layer told that its input needs no gradient skips it, with the
// same parameter gradients.
TEST(Conv2d, SkipsTheInputGradientWhenNotNeeded) {
  Generator gen(5);
  const Tensor x = nn::normal_tensor({20, 3, 6, 6}, 1.0, gen), dy = nn::normal_tensor({20, 4, 6, 6}, 1.0, gen);
  std::vector<std::vector<float>> grads;
  for (const bool needed : {true, false}) {
    Generator same(6);
    nn::Conv2d conv(3, 4, 3, same, {.padding = 1});
    conv.set_input_gradient(needed);
    conv.forward(x);
    EXPECT_EQ(conv.backward(dy).defined(), needed);
    grads.push_back(values(conv.weight.grad));
  }
  EXPECT_TRUE(same_bits(grads[0], grads[1]));
}

}  // namespace
}  // namespace normkit::test

namespace normkit::test {
namespace {

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

}  // namespace
}  // namespace normkit::test
