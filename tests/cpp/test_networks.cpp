// Networks: Sequential's PyTorch-style state dict, gradients of a whole
// network by finite differences, the lab's models by name, and a network
// that learns Fashion-MNIST.
#include <cstring>

#include "engine_util.hpp"
#include "normkit/io/fashion_mnist.hpp"
#include "normkit/nn/activation.hpp"
#include "normkit/nn/batch_norm.hpp"
#include "normkit/nn/linear.hpp"
#include "normkit/nn/loss.hpp"
#include "normkit/nn/residual.hpp"
#include "normkit/nn/sequential.hpp"
#include "normkit/nn/sgd.hpp"
#include "normkit/train/models.hpp"

namespace normkit::test {
namespace {

using nn::Generator;

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

TEST(Models, RefuseWhatTheyDoNotTake) {
  Generator gen(1);
  EXPECT_THROW(train::make_model("mlp", "in", gen), Error);  // a feature vector has no spatial extent
  EXPECT_THROW(train::make_model("alexnet", "bn", gen), Error);
  EXPECT_THROW(train::make_model("vgg", "bn", gen, {.depth = 17}), Error);
  EXPECT_THROW(train::make_model("vgg", "bn", gen, {.depth = 1}), Error);
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
  for (const char* model : {"cnn", "vgg", "resnet"})
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

// The VGG's stages: depth 4 is 32, 32, pool, 64, 64, pool, 3136-128-10 (as
// PyTorch's 4-conv Fashion-MNIST network); depth 11 is 4, 4 and 3
// convolutions of 32, 64 and 128 channels, the last stage at 7x7.
TEST(Models, VggStages) {
  Generator gen(2);
  const auto channels_of = [](nn::Sequential& net) {
    std::vector<std::int64_t> out;
    for (const auto& [key, value] : net.state_dict())
      if (key.ends_with(".weight") && value.shape().size() == 4) out.push_back(value.shape()[0]);
    return out;
  };
  const auto four = train::make_model("vgg", "bn", gen, {.depth = 4});
  EXPECT_EQ(channels_of(*four), (std::vector<std::int64_t>{32, 32, 64, 64}));
  const Tensor* hidden = four->find_tensor("15.weight");  // after 4 x (conv, BN, ReLU), 2 pools, flatten
  ASSERT_NE(hidden, nullptr);
  EXPECT_EQ(hidden->shape(), (Shape{128, 3136}));
  const auto eleven = train::make_model("vgg", "none", gen, {.depth = 11, .width = 2});
  EXPECT_EQ(channels_of(*eleven),
            (std::vector<std::int64_t>{64, 64, 64, 64, 128, 128, 128, 128, 256, 256, 256}));
  EXPECT_NE(eleven->find_tensor("0.bias"), nullptr);  // no norm after it: the convolution keeps its bias
  EXPECT_EQ(four->find_tensor("0.bias"), nullptr);    // BN subtracts the mean: no bias
}

}  // namespace
}  // namespace normkit::test
