// nn::NoGrad: forwards without what backward needs give the same bits, a
// backward after one is refused rather than run on an older forward's state,
// and the mode is scoped and per thread.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <thread>

#include "engine_util.hpp"
#include "normkit/error.hpp"
#include "normkit/nn/adain.hpp"
#include "normkit/nn/add_norm.hpp"
#include "normkit/nn/attention.hpp"
#include "normkit/nn/grad_mode.hpp"
#include "normkit/train/models.hpp"

namespace normkit::test {
namespace {

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.view().raw(), b.view().raw(), static_cast<std::size_t>(a.numel()) * sizeof(float)) == 0;
}

// Every layer kind the models are built from: convolutions, linears, pooling,
// ReLU and sigmoid, GELU and attention, and each norm.
struct ModelCase {
  const char* model;
  const char* norm;
  train::ModelOptions options;
};

std::vector<ModelCase> every_layer_kind() {
  train::ModelOptions vgg{.depth = 4, .dropout = 0.3};
  train::ModelOptions resnet{.depth = 8};
  train::ModelOptions vit;
  vit.vit = {.depth = 2, .dim = 16, .heads = 2, .patch = 7, .qk_norm = true};
  vit.dropout = 0.1;
  return {{"mlp", "bn", {}},       {"mlp", "ln", {}},      {"cnn", "gn", {}},    {"cnn", "in", {}},
          {"vgg", "bn", vgg},      {"vgg", "rms", vgg},    {"resnet", "bn", resnet},
          {"vit", "ln", vit},      {"vit", "dyt", vit},    {"vit", "bn", vit}};
}

TEST(NoGrad, ForwardsGiveTheSameBitsInBothModes) {
  nn::Generator data(7);
  const Tensor images = nn::normal_tensor({5, 1, 28, 28}, 1.0, data);
  for (const ModelCase& c : every_layer_kind())
    for (const bool training : {true, false}) {
      // Two copies of the network from one seed: training-mode forwards move
      // running statistics and Dropout's stream, so each mode gets its own.
      nn::Generator g1(3), g2(3);
      const auto with = train::make_model(c.model, c.norm, g1, c.options);
      const auto without = train::make_model(c.model, c.norm, g2, c.options);
      with->train(training);
      without->train(training);
      const Tensor want = with->forward(images);
      Tensor got;
      {
        const nn::NoGrad no_grad;
        got = without->forward(images);
      }
      EXPECT_TRUE(same_bits(want, got)) << c.model << " " << c.norm << (training ? " training" : " eval");
      EXPECT_EQ(float_state(*with), float_state(*without)) << c.model << " " << c.norm << ": running statistics";
    }
}

// The backward of `layer` after a forward with gradients and then one
// without: refused, naming NoGrad; then a forward with gradients again
// makes backward run.
template <typename Forward, typename Backward>
void expect_refused_after_no_grad(const std::string& what, Forward forward, Backward backward) {
  forward();  // its state must not serve the backward of the later forward
  {
    const nn::NoGrad no_grad;
    forward();
  }
  try {
    backward();
    ADD_FAILURE() << what << ": backward ran";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nn::NoGrad"), std::string::npos) << what << ": " << e.what();
  }
  forward();
  EXPECT_NO_THROW(backward()) << what;
}

TEST(NoGrad, EveryLayerRefusesBackwardAfterAForwardWithoutGradients) {
  nn::Generator data(8);
  const Tensor images = nn::normal_tensor({4, 1, 28, 28}, 1.0, data);
  for (const ModelCase& c : every_layer_kind()) {
    nn::Generator gen(5);
    const auto net = train::make_model(c.model, c.norm, gen, c.options);
    // Layer by layer, each on the input the network gives it.
    Tensor x = images;
    for (std::size_t i = 0; i < net->size(); ++i) {
      nn::Layer& layer = (*net)[i];
      const Tensor y = layer.forward(x);
      expect_refused_after_no_grad(std::string(c.model) + " " + c.norm + " layer " + std::to_string(i) + " (" +
                                       layer.name() + ")",
                                   [&] { layer.forward(x); },
                                   [&] { layer.backward(Tensor::full(y.shape(), 1.0f)); });
      x = y;
    }
  }
}

// The layers the models hold only inside blocks, and the two-input modules.
TEST(NoGrad, InnerLayersAndTwoInputModulesRefuseToo) {
  nn::Generator gen(9);
  const Tensor rows = nn::normal_tensor({3, 2, 12}, 1.0, gen);
  nn::GELU gelu;
  expect_refused_after_no_grad("GELU", [&] { gelu.forward(rows); },
                               [&] { gelu.backward(Tensor::full({3, 2, 12}, 1.0f)); });
  nn::Attention attention(2);
  expect_refused_after_no_grad("Attention", [&] { attention.forward(rows); },
                               [&] { attention.backward(Tensor::full({3, 2, 4}, 1.0f)); });
  nn::AddLayerNorm add_ln({12});
  expect_refused_after_no_grad("AddLayerNorm", [&] { add_ln.forward(rows, rows); },
                               [&] { add_ln.backward(Tensor::full({3, 2, 12}, 1.0f)); });
  nn::AddRMSNorm add_rms({12});
  expect_refused_after_no_grad("AddRMSNorm", [&] { add_rms.forward(rows, rows); },
                               [&] { add_rms.backward(Tensor::full({3, 2, 12}, 1.0f)); });
  const Tensor maps = nn::normal_tensor({2, 3, 4, 4}, 1.0, gen);
  nn::AdaIN adain;
  expect_refused_after_no_grad("AdaIN", [&] { adain.forward(maps, maps); },
                               [&] { adain.backward(Tensor::full({2, 3, 4, 4}, 1.0f)); });
}

TEST(NoGrad, IsScopedNestedAndPerThread) {
  EXPECT_TRUE(nn::grad_enabled());
  {
    const nn::NoGrad outer;
    EXPECT_FALSE(nn::grad_enabled());
    {
      const nn::NoGrad inner;
      EXPECT_FALSE(nn::grad_enabled());
    }
    EXPECT_FALSE(nn::grad_enabled());  // the inner one restores the outer's state
    bool other_thread = false;
    std::thread([&] { other_thread = nn::grad_enabled(); }).join();
    EXPECT_TRUE(other_thread);
  }
  EXPECT_TRUE(nn::grad_enabled());
}

}  // namespace
}  // namespace normkit::test
