// The engine's layers against formulas in double: Linear, Conv2d, pooling,
// activations, softmax cross-entropy, Dropout and the residual block.
#include <cmath>
#include <limits>

#include "engine_util.hpp"
#include "normkit/nn/activation.hpp"
#include "normkit/nn/batch_norm.hpp"
#include "normkit/nn/conv2d.hpp"
#include "normkit/nn/dropout.hpp"
#include "normkit/nn/linear.hpp"
#include "normkit/nn/loss.hpp"
#include "normkit/nn/pooling.hpp"
#include "normkit/nn/residual.hpp"
#include "normkit/nn/sequential.hpp"

namespace normkit::test {
namespace {

using nn::Generator;

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

// Over a sequence of tokens per sample, (N, T, in): the (N * T, in) matrix's
// formulas, and the same bits on 1 and 2 threads over several sample blocks.
TEST(Linear, TakesTokenSequences) {
  Generator gen(2);
  nn::Linear layer(6, 4, gen);
  const std::int64_t N = 37, T = 3;
  Generator data(5);
  const Tensor x = nn::normal_tensor({N, T, 6}, 1.0, data), dy = nn::normal_tensor({N, T, 4}, 1.0, data);
  const int before = num_threads();
  std::vector<std::vector<float>> runs[2];
  for (const int threads : {1, 2}) {
    set_num_threads(threads);
    layer.weight.zero_grad();
    layer.bias.zero_grad();
    const Tensor y = layer.forward(x), dx = layer.backward(dy);
    EXPECT_EQ(y.shape(), (Shape{N, T, 4}));
    EXPECT_EQ(dx.shape(), x.shape());
    runs[threads - 1] = {values(y), values(dx), values(layer.weight.grad), values(layer.bias.grad)};
  }
  set_num_threads(before);
  for (std::size_t i = 0; i < runs[0].size(); ++i) EXPECT_TRUE(same_bits(runs[0][i], runs[1][i])) << "result " << i;
  const float* w = layer.weight.value.data<float>();
  for (std::int64_t r = 0; r < N * T; ++r)
    for (int o = 0; o < 4; ++o) {
      double ref = layer.bias.value.data<float>()[o];
      for (int k = 0; k < 6; ++k) ref += static_cast<double>(x.data<float>()[r * 6 + k]) * w[o * 6 + k];
      EXPECT_NEAR(runs[0][0][static_cast<std::size_t>(r * 4 + o)], ref, 1e-5 * (1 + std::fabs(ref)));
    }
  for (int o = 0; o < 4; ++o)
    for (int k = 0; k < 6; ++k) {
      double dw = 0;
      for (std::int64_t r = 0; r < N * T; ++r) dw += static_cast<double>(dy.data<float>()[r * 4 + o]) * x.data<float>()[r * 6 + k];
      EXPECT_NEAR(runs[0][2][static_cast<std::size_t>(o * 6 + k)], dw, 1e-4 * (1 + std::fabs(dw)));
    }
  EXPECT_THROW(layer.forward(nn::normal_tensor({2, 3, 5}, 1.0, data)), Error);
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
  // GELU: y = x * Phi(x) against double, and its backward against a
  // central difference of the forward in double.
  nn::GELU gelu;
  const Tensor ge = gelu.forward(x), dge = gelu.backward(dy);
  const auto gelu_of = [](double v) { return v * 0.5 * (1 + std::erf(v / std::sqrt(2.0))); };
  for (int i = 0; i < 12; ++i) {
    const double v = x.data<float>()[i], g = dy.data<float>()[i];
    EXPECT_NEAR(ge.data<float>()[i], gelu_of(v), 1e-6 * (1 + std::fabs(v)));
    const double slope = (gelu_of(v + 1e-6) - gelu_of(v - 1e-6)) / 2e-6;
    EXPECT_NEAR(dge.data<float>()[i], g * slope, 1e-5 * (1 + std::fabs(g)));
  }
  EXPECT_EQ(error_of([] { nn::GELU().backward(Tensor({2})); }), "GELU: backward before forward (a forward under nn::NoGrad keeps nothing)");
  nn::Flatten flatten;
  Generator gen(3);
  const Tensor images = nn::normal_tensor({2, 1, 3, 3}, 1.0, gen);
  const Tensor flat = flatten.forward(images);
  EXPECT_EQ(flat.shape(), (Shape{2, 9}));
  EXPECT_EQ(flat.data<float>()[13], images.data<float>()[13]);
  EXPECT_EQ(flatten.backward(flat).shape(), images.shape());
}

// ReLU over more elements than one thread takes, an odd count (vector loops
// and their tails), with NaN, infinities and signed zeros: the formula's
// bits on 1 and 2 threads. (NaN is not above 0: ReLU gives 0, as the
// comparison says; PyTorch's relu passes NaN through.)
TEST(Activations, ReLUOnManyElementsAndSpecialValues) {
  const std::int64_t n = 3 * 32768 + 5;
  Generator gen(7);
  Tensor x = nn::normal_tensor({n}, 1.0, gen), dy = nn::normal_tensor({n}, 1.0, gen);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), 0.0f, -0.0f};
  for (std::int64_t i = 0; i < 5; ++i) {
    x.data<float>()[i * 20011] = specials[i];
    dy.data<float>()[i * 20011 + 1] = specials[i];
    x.data<float>()[i * 20011 + 1] = 1.0f;  // passes dy's special value back
  }
  const int before = num_threads();
  std::vector<std::vector<float>> runs[2];
  for (const int threads : {1, 2}) {
    set_num_threads(threads);
    nn::ReLU relu;
    const Tensor y = relu.forward(x), dx = relu.backward(dy);
    runs[threads - 1] = {values(y), values(dx)};
  }
  set_num_threads(before);
  EXPECT_TRUE(same_bits(runs[0][0], runs[1][0]));
  EXPECT_TRUE(same_bits(runs[0][1], runs[1][1]));
  std::vector<float> y(static_cast<std::size_t>(n)), dx(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = x.data<float>()[i];
    y[i] = v > 0.0f ? v : 0.0f;
    dx[i] = v > 0.0f ? dy.data<float>()[i] : 0.0f;
  }
  EXPECT_TRUE(same_bits(runs[0][0], y));
  EXPECT_TRUE(same_bits(runs[0][1], dx));
  EXPECT_TRUE(std::isnan(runs[0][1][1]));  // dy's NaN where x > 0
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

// Every parameter gradient of residual blocks (both forms, with a strided
// projection shortcut and with the identity), by central differences.
// torch.nn.CrossEntropyLoss(label_smoothing=s): the target is
// (1 - s) onehot + s / K and a sample's loss -sum_j target_j log p_j; the
// gradient (p - target) / N. s = 0 gives the unsmoothed bits.
TEST(CrossEntropy, LabelSmoothingAsTorchDefinesIt) {
  const Tensor logits = matrix(3, 4, 8, 2.0);
  const Tensor labels = cyclic_labels(3, 3);
  const double s = 0.1;
  const nn::CrossEntropy ce = nn::softmax_cross_entropy(logits, labels, 0, s);
  double loss = 0;
  for (int i = 0; i < 3; ++i) {
    const float* z = logits.data<float>() + i * 4;
    double sum = 0;
    for (int j = 0; j < 4; ++j) sum += std::exp(static_cast<double>(z[j]));
    double sample = 0;
    for (int j = 0; j < 4; ++j) {
      const double p = std::exp(static_cast<double>(z[j])) / sum, target = (1 - s) * (j == i) + s / 4;
      sample -= target * std::log(p);
      EXPECT_NEAR(ce.grad.data<float>()[i * 4 + j], (p - target) / 3, 1e-7);
    }
    EXPECT_NEAR(ce.losses[static_cast<std::size_t>(i)], sample, 1e-9);
    loss += sample;
  }
  EXPECT_NEAR(ce.loss, loss / 3, 1e-9);
  const nn::CrossEntropy plain = nn::softmax_cross_entropy(logits, labels), zero = nn::softmax_cross_entropy(logits, labels, 0, 0.0);
  EXPECT_EQ(plain.loss, zero.loss);
  EXPECT_TRUE(same_bits(values(plain.grad), values(zero.grad)));
  EXPECT_EQ(error_of([&] { nn::softmax_cross_entropy(logits, labels, 0, 1.5); }),
            "softmax_cross_entropy: label_smoothing: expected 0 to 1, got 1.5");
}

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
