// --resume trusts nothing in the file (issue 17): every tensor's presence,
// dtype and shape and every metadata value's type and range is checked before
// anything is used, and a bad file is an Error naming the file and the entry.
// Each case edits one entry of a real checkpoint.
#include <gmock/gmock.h>

#include <functional>
#include <string>

#include "normkit/io/fashion_mnist.hpp"
#include "normkit/io/safetensors.hpp"
#include "normkit/train/models.hpp"
#include "normkit/train/trainer.hpp"
#include "module_util.hpp"

namespace normkit::test {
namespace {

using ::testing::HasSubstr;

const train::TrainOptions kRun{.epochs = 2, .batch_size = 50, .sgd = {.lr = 0.1, .momentum = 0.9}, .seed = 4,
                               .limit = 200, .model_name = "mlp", .norm_name = "bn"};
const train::ModelOptions kDropout{.dropout = 0.1};  // a layer with extra state

class CheckpointChecks : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { data_ = new io::FashionMnist(io::load_fashion_mnist()); }
  static void TearDownTestSuite() { delete data_; }

  void SetUp() override {
    good_ = (dir_.path / "good.safetensors").string();
    train::TrainOptions first = kRun;
    first.epochs = 1;
    first.checkpoint = good_;
    nn::Generator gen(kRun.seed);
    train::fit(*train::make_model("mlp", "bn", gen, kDropout), *data_, first, {}, {});
    contents_ = io::load_safetensors(good_);
  }

  // The checkpoint with edit() applied, saved; the error of resuming from it.
  std::string resume_error(const std::function<void(io::SafetensorsContents&)>& edit) {
    io::SafetensorsContents c = contents_;
    edit(c);
    const std::string path = (dir_.path / "edited.safetensors").string();
    io::save_safetensors(path, c.tensors, c.metadata);
    train::TrainOptions second = kRun;
    second.resume = path;
    nn::Generator gen(kRun.seed);
    const auto net = train::make_model("mlp", "bn", gen, kDropout);
    return error_of([&] { train::fit(*net, *data_, second, {}, {}); });
  }

  static Tensor& tensor(io::SafetensorsContents& c, const std::string& key) {
    for (auto& [name, t] : c.tensors)
      if (name == key) return t;
    throw std::runtime_error("no tensor " + key);
  }
  static void remove(io::SafetensorsContents& c, const std::string& key) {
    std::erase_if(c.tensors, [&](const auto& entry) { return entry.first == key; });
  }

  static io::FashionMnist* data_;
  TempDir dir_;
  std::string good_;
  io::SafetensorsContents contents_;
};

io::FashionMnist* CheckpointChecks::data_ = nullptr;

TEST_F(CheckpointChecks, TheUneditedFileResumes) {
  EXPECT_EQ(resume_error([](io::SafetensorsContents&) {}), "(no error)");
}

TEST_F(CheckpointChecks, EpochsDoneMustBeAnIntegerInRange) {
  for (const std::string bad : {"-1", "4611686018427387904", "x", "1 ", "0x1", ""}) {
    SCOPED_TRACE(bad);
    const std::string e = resume_error([&](io::SafetensorsContents& c) { c.metadata["normkit.epochs_done"] = bad; });
    EXPECT_THAT(e, HasSubstr("edited.safetensors: normkit.epochs_done: expected an integer from 0 to "));
    EXPECT_THAT(e, HasSubstr("got '" + bad + "'"));
  }
}

TEST_F(CheckpointChecks, SgdStepsMustMatchTheEpochs) {
  EXPECT_THAT(resume_error([](io::SafetensorsContents& c) { c.metadata["normkit.sgd_steps"] = "5"; }),
              HasSubstr("normkit.sgd_steps: expected an integer from 4 to 4, got '5'"));
  EXPECT_THAT(resume_error([](io::SafetensorsContents& c) { c.metadata["normkit.sgd_steps"] = "four"; }),
              HasSubstr("normkit.sgd_steps: expected an integer"));
}

TEST_F(CheckpointChecks, TheShuffleOrderMustBeAPermutationOfInt64) {
  EXPECT_THAT(resume_error([](io::SafetensorsContents& c) {
                tensor(c, "trainer.shuffle_order") = Tensor::zeros({200}, DType::float32);
              }),
              HasSubstr("tensor 'trainer.shuffle_order': expected int64 of shape (200,), got float32 of shape (200,)"));
  EXPECT_THAT(resume_error([](io::SafetensorsContents& c) { remove(c, "trainer.shuffle_order"); }),
              HasSubstr("tensor 'trainer.shuffle_order' is missing"));
  EXPECT_THAT(resume_error([](io::SafetensorsContents& c) {
                tensor(c, "trainer.shuffle_order").data<std::int64_t>()[7] = -3;
              }),
              HasSubstr("expected an order of the 200 images (each of 0 to 199 once), got -3 at 7"));
  EXPECT_THAT(resume_error([](io::SafetensorsContents& c) {
                std::int64_t* order = tensor(c, "trainer.shuffle_order").data<std::int64_t>();
                order[1] = order[0];
              }),
              HasSubstr("expected an order of the 200 images"));
}

TEST_F(CheckpointChecks, EveryMomentumBufferIsPresentAndFloat32OfItsParameterShape) {
  const std::string key = "optimizer.1.weight.momentum_buffer";
  EXPECT_THAT(resume_error([&](io::SafetensorsContents& c) { remove(c, key); }),
              HasSubstr("tensor '" + key + "' is missing"));
  EXPECT_THAT(resume_error([&](io::SafetensorsContents& c) {
                tensor(c, key) = Tensor::zeros(tensor(c, key).shape(), DType::int64);
              }),
              HasSubstr("tensor '" + key + "': expected float32 of shape (100, 784), got int64"));
  EXPECT_THAT(resume_error([&](io::SafetensorsContents& c) { tensor(c, key) = Tensor::zeros({784, 100}); }),
              HasSubstr("expected float32 of shape (100, 784), got float32 of shape (784, 100)"));
  EXPECT_THAT(resume_error([&](io::SafetensorsContents& c) {
                c.tensors.emplace_back("optimizer.99.weight.momentum_buffer", Tensor::zeros({3}));
              }),
              HasSubstr("tensor 'optimizer.99.weight.momentum_buffer': an optimizer buffer for no parameter"));
}

TEST_F(CheckpointChecks, TheModelsTensorsAreCheckedByName) {
  EXPECT_THAT(resume_error([](io::SafetensorsContents& c) { tensor(c, "1.weight") = Tensor::zeros({3, 3}); }),
              HasSubstr("edited.safetensors: the model's state: Sequential: load_state_dict: '1.weight'"));
  EXPECT_THAT(resume_error([](io::SafetensorsContents& c) { remove(c, "2.running_mean"); }),
              HasSubstr("the model's state"));
}

TEST_F(CheckpointChecks, TextStateIsParsedWhole) {
  EXPECT_THAT(resume_error([](io::SafetensorsContents& c) { c.metadata["normkit.shuffle_state"] += " junk"; }),
              HasSubstr("edited.safetensors: normkit.shuffle_state: Generator::set_state: not a generator state"));
  std::string dropout_key;
  for (const auto& [key, value] : contents_.metadata)
    if (key.starts_with("normkit.extra_state.")) dropout_key = key;
  ASSERT_FALSE(dropout_key.empty());
  EXPECT_THAT(resume_error([&](io::SafetensorsContents& c) { c.metadata[dropout_key] = "1:x"; }),
              HasSubstr(dropout_key + ": Dropout: extra state: expected 'seed:forwards'"));
  EXPECT_THAT(resume_error([&](io::SafetensorsContents& c) { c.metadata.erase(dropout_key); }),
              HasSubstr("is not a normkit checkpoint (no " + dropout_key + ")"));
}

// The other refusals of a training run come before its first step.
TEST_F(CheckpointChecks, AnUnwritableCheckpointIsFoundBeforeTraining) {
  train::TrainOptions run = kRun;
  run.checkpoint = (dir_.path / "no-such-dir" / "ck.safetensors").string();
  nn::Generator gen(1);
  const auto net = train::make_model("mlp", "bn", gen);
  int steps = 0;
  const std::string e = error_of([&] { train::fit(*net, *data_, run, [&](const train::StepReport&) { ++steps; }, {}); });
  // The library names the option's field; the CLI names its flag.
  EXPECT_THAT(e, ::testing::StartsWith("checkpoint: " + run.checkpoint + ": directory "));
  EXPECT_THAT(e, ::testing::Not(HasSubstr(".tmp-")));
  EXPECT_EQ(steps, 0);
}

TEST_F(CheckpointChecks, AnEmptyTestSetIsAnError) {
  io::LabelledImages empty{Tensor({0, 1, 28, 28}), Tensor({0}, DType::int64)};
  nn::Generator gen(1);
  const auto net = train::make_model("mlp", "bn", gen);
  EXPECT_THAT(error_of([&] { train::evaluate(*net, empty); }),
              HasSubstr("evaluate: data: expected at least one image, got an empty set"));
}

}  // namespace
}  // namespace normkit::test
