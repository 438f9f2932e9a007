// The lab's probes of a network (lab/probes.hpp) and the properties of BN
// that the why-BN-works experiments report: the loss and gradient on a batch
// leave the network as it was and agree with finite differences; a layer
// before BN is scale-invariant with a 1/c gradient; a bias before BN gets no
// gradient.
#include <cmath>

#include "lab/probes.hpp"
#include "normkit/nn/activation.hpp"
#include "normkit/nn/batch_norm.hpp"
#include "normkit/nn/conv2d.hpp"
#include "normkit/train/models.hpp"
#include "module_util.hpp"

namespace normkit::test {
namespace {

struct Batch {
  Tensor x, y;
};

Batch synthetic_batch(std::int64_t n, std::uint64_t seed) {
  nn::Generator gen(seed);
  Batch b{nn::normal_tensor({n, 1, 28, 28}, 1.0, gen), Tensor({n}, DType::int64)};
  for (std::int64_t i = 0; i < n; ++i) b.y.data<std::int64_t>()[i] = i % 10;
  return b;
}

TEST(Probes, FlatVectorsRoundTripAndMeasure) {
  nn::Generator gen(3);
  const auto net = train::make_model("mlp", "bn", gen);
  const lab::Flat w = lab::parameter_values(*net);
  std::size_t total = 0;
  for (const nn::Parameter* p : net->parameters()) total += static_cast<std::size_t>(p->value.numel());
  ASSERT_EQ(w.size(), total);
  lab::set_parameter_values(*net, lab::axpy(w, 1.0, w));
  EXPECT_FLOAT_EQ(lab::parameter_values(*net)[5], 2 * w[5]);
  EXPECT_THROW(lab::set_parameter_values(*net, lab::Flat(3)), Error);
  const auto [begin, end] = lab::parameter_range(*net, "1.weight");  // the first Linear: 100 x 784
  EXPECT_EQ(begin, 0u);
  EXPECT_EQ(end, 78400u);
  EXPECT_THROW(lab::parameter_range(*net, "no.such"), Error);
  const lab::Flat a{3, 4, 0}, b{0, 4, 3};
  EXPECT_DOUBLE_EQ(lab::l2_norm(a), 5.0);
  EXPECT_DOUBLE_EQ(lab::l2_distance(a, b), std::sqrt(18.0));
  EXPECT_DOUBLE_EQ(lab::cosine(a, b), 16.0 / 25.0);
  EXPECT_DOUBLE_EQ(lab::l2_norm(a, 1, 2), 4.0);
}

// The probe changes nothing (parameters, running statistics, mode), and its
// gradient's directional derivative matches central differences of its loss.
TEST(Probes, LossAndGradientLeaveTheNetworkAndMatchDifferences) {
  nn::Generator gen(5);
  const auto net = train::make_model("cnn", "bn", gen);
  const Batch batch = synthetic_batch(16, 9);
  net->eval();
  const std::vector<float> before = float_state(*net);
  const lab::LossAndGradient at = lab::loss_and_gradient(*net, batch.x, batch.y);
  EXPECT_TRUE(same_bits(float_state(*net), before));
  EXPECT_FALSE(net->is_training());
  lab::training_mode_output(*net, batch.x);  // the same for a training-mode forward alone
  EXPECT_TRUE(same_bits(float_state(*net), before));
  EXPECT_FALSE(net->is_training());
  const lab::Flat w = lab::parameter_values(*net);
  const double g = lab::l2_norm(at.gradient), h = 1e-2;
  const auto loss_at = [&](double t) {
    lab::set_parameter_values(*net, lab::axpy(w, t / g, at.gradient));
    return lab::loss_and_gradient(*net, batch.x, batch.y).loss;
  };
  const double slope = (loss_at(h) - loss_at(-h)) / (2 * h);  // along g / ||g||: ||g||
  lab::set_parameter_values(*net, w);
  EXPECT_NEAR(slope, g, 0.02 * g);
}

// BN(c W x) = BN(W x): logits in training mode do not move when every
// convolution is scaled by 10, and the first one's gradient shrinks by 10;
// without BN the logits move.
TEST(Probes, ConvolutionsBeforeBatchNormAreScaleInvariant) {
  const Batch batch = synthetic_batch(16, 4);
  for (const char* norm : {"bn", "none"}) {
    nn::Generator gen(6);
    const auto net = train::make_model("cnn", norm, gen);
    const std::vector<float> logits = values(lab::training_mode_output(*net, batch.x));
    lab::loss_and_gradient(*net, batch.x, batch.y);
    const std::vector<float> grad = values(lab::layers_of<nn::Conv2d>(*net)[0]->weight.grad);
    for (nn::Conv2d* c : lab::layers_of<nn::Conv2d>(*net))
      for (std::int64_t i = 0; i < c->weight.value.numel(); ++i) c->weight.value.data<float>()[i] *= 10.0f;
    const std::vector<float> scaled = values(lab::training_mode_output(*net, batch.x));
    lab::loss_and_gradient(*net, batch.x, batch.y);
    const std::vector<float> scaled_grad = values(lab::layers_of<nn::Conv2d>(*net)[0]->weight.grad);
    if (norm == std::string("bn")) {
      EXPECT_TRUE(all_close(scaled, logits, 1e-4, 1e-4));
      std::vector<float> tenfold(scaled_grad.size());
      for (std::size_t i = 0; i < tenfold.size(); ++i) tenfold[i] = 10.0f * scaled_grad[i];
      EXPECT_TRUE(all_close(tenfold, grad, 1e-3, 1e-6));
    } else {
      EXPECT_FALSE(all_close(scaled, logits, 1e-2, 1e-2));
    }
  }
}

// A convolution's bias before BN gets a zero gradient (up to rounding), and
// norm_after_activation puts BN after the ReLU.
TEST(Probes, BiasBeforeBatchNormGetsNoGradient) {
  nn::Generator gen(7);
  const auto net = train::make_model("cnn", "bn", gen, {.bias_before_norm = true});
  const Batch batch = synthetic_batch(16, 8);
  lab::loss_and_gradient(*net, batch.x, batch.y);
  for (nn::Conv2d* c : lab::layers_of<nn::Conv2d>(*net)) {
    ASSERT_TRUE(c->bias.grad.defined());
    EXPECT_LT(lab::max_abs(c->bias.grad), 1e-5 * lab::max_abs(c->weight.grad));
  }
  nn::Generator again(7);
  const auto after = train::make_model("cnn", "bn", again, {.norm_after_activation = true});
  EXPECT_NE(dynamic_cast<nn::ReLU*>(&(*after)[1]), nullptr);
  EXPECT_NE(dynamic_cast<nn::BatchNorm*>(&(*after)[2]), nullptr);
  EXPECT_TRUE(lab::layers_of<nn::Conv2d>(*after)[0]->bias.value.defined());  // BN after ReLU does not cancel the bias
}

}  // namespace
}  // namespace normkit::test
