// libFuzzer harness for --resume (Trainer::load_checkpoint): a checkpoint
// that a real run of a small network wrote, edited as the input says
// (metadata values replaced by any text or by numbers at the edges of their
// ranges, tensors removed, replaced by others of any dtype and shape, one
// value changed, tensors added), saved, and resumed. Then:
// - a bad file must be refused with normkit::Error;
// - a file that is accepted must train on: one more step of the trainer runs
//   without any exception (its shuffle order indexes the data, its buffers fit
//   the parameters).
// Anything else (a crash, an AddressSanitizer or UBSan report, another
// exception) is a finding; std::abort marks a step that failed after a load.
#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>

#include "normkit/io/safetensors.hpp"
#include "normkit/nn/activation.hpp"
#include "normkit/nn/batch_norm.hpp"
#include "normkit/nn/dropout.hpp"
#include "normkit/nn/linear.hpp"
#include "normkit/nn/sequential.hpp"
#include "normkit/threading.hpp"
#include "normkit/train/trainer.hpp"

namespace normkit {
namespace {

constexpr std::int64_t kImages = 16;

// Flatten, Linear(4, 3), BatchNorm1d(3), Dropout (extra state), Linear(3, 2):
// every kind of entry a checkpoint holds, in a few hundred bytes.
std::unique_ptr<nn::Sequential> small_network() {
  nn::Generator gen(7);
  auto net = std::make_unique<nn::Sequential>();
  net->add(std::make_unique<nn::Flatten>());
  net->add(std::make_unique<nn::Linear>(4, 3, gen));
  net->add(std::make_unique<nn::BatchNorm1d>(3));
  net->add(std::make_unique<nn::Dropout>(0.25, gen));
  net->add(std::make_unique<nn::Linear>(3, 2, gen));
  return net;
}

struct Fixture {
  io::LabelledImages data{Tensor({kImages, 1, 2, 2}), Tensor({kImages}, DType::int64)};
  train::TrainOptions options{.epochs = 3, .batch_size = 4, .sgd = {.lr = 0.1, .momentum = 0.9}, .seed = 1,
                              .model_name = "small", .norm_name = "bn"};
  io::SafetensorsContents written;  // after one epoch
  std::string path = "/tmp/normkit-checkpoint-fuzz-" + std::to_string(::getpid()) + ".safetensors";

  Fixture() {
    for (std::int64_t i = 0; i < kImages * 4; ++i) data.images.data<float>()[i] = static_cast<float>(i % 7) / 7.0f;
    for (std::int64_t i = 0; i < kImages; ++i) data.labels.data<std::int64_t>()[i] = i % 2;
    const auto net = small_network();
    train::Trainer trainer(*net, data, options);
    for (std::int64_t s = 0; s < trainer.steps_per_epoch(); ++s) trainer.step();
    trainer.save_checkpoint(path);
    written = io::load_safetensors(path);
  }
  ~Fixture() { std::remove(path.c_str()); }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;
};

// Text for a metadata value: numbers at the edges of what the entries take,
// or any short string.
std::string metadata_value(FuzzedDataProvider& in) {
  static const char* const kEdges[] = {"-1", "0", "1", "4", "5", "4611686018427387904", "9223372036854775807",
                                       "9223372036854775808", "1 ", " 1", "0x1", "1e3", "", "7:3", "1:x"};
  if (in.ConsumeBool()) return kEdges[in.ConsumeIntegralInRange<std::size_t>(0, std::size(kEdges) - 1)];
  return in.ConsumeRandomLengthString(48);
}

Tensor any_tensor(FuzzedDataProvider& in, const Tensor* like) {
  Shape shape;
  if (like != nullptr && in.ConsumeBool()) {
    shape = like->shape();
  } else {
    const int rank = in.ConsumeIntegralInRange(0, 3);
    for (int d = 0; d < rank; ++d) shape.push_back(in.ConsumeIntegralInRange<std::int64_t>(0, 20));
  }
  const DType dtype = in.ConsumeBool() ? DType::float32 : DType::int64;
  Tensor t(shape, dtype);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    if (dtype == DType::int64)
      t.data<std::int64_t>()[i] = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::int64_t>(-2, kImages + 1)
                                                   : in.ConsumeIntegral<std::int64_t>();
    else
      t.data<float>()[i] = in.ConsumeFloatingPoint<float>();
  }
  return t;
}

void edit(FuzzedDataProvider& in, io::SafetensorsContents& c) {
  auto& tensors = c.tensors;
  const auto pick = [&](std::size_t n) { return in.ConsumeIntegralInRange<std::size_t>(0, n - 1); };
  switch (in.ConsumeIntegralInRange(0, 5)) {
    case 0: {  // a metadata value
      auto it = c.metadata.begin();
      std::advance(it, static_cast<std::ptrdiff_t>(pick(c.metadata.size())));
      it->second = metadata_value(in);
      break;
    }
    case 1:  // a metadata entry removed
      c.metadata.erase(std::next(c.metadata.begin(), static_cast<std::ptrdiff_t>(pick(c.metadata.size()))));
      break;
    case 2:  // a tensor removed
      if (!tensors.empty()) tensors.erase(tensors.begin() + static_cast<std::ptrdiff_t>(pick(tensors.size())));
      break;
    case 3:  // a tensor replaced by another of any dtype and shape
      if (!tensors.empty()) {
        Tensor& t = tensors[pick(tensors.size())].second;
        t = any_tensor(in, &t);
      }
      break;
    case 4:  // one value changed
      if (!tensors.empty()) {
        Tensor& t = tensors[pick(tensors.size())].second;
        if (t.numel() == 0) break;
        const auto at = in.ConsumeIntegralInRange<std::int64_t>(0, t.numel() - 1);
        if (t.dtype() == DType::int64)
          t.data<std::int64_t>()[at] = in.ConsumeIntegral<std::int64_t>();
        else
          t.data<float>()[at] = in.ConsumeFloatingPoint<float>();
      }
      break;
    default: {  // a tensor added, under a name like the checkpoint's own
      static const char* const kPrefixes[] = {"optimizer.", "trainer.", "1.", "2.", ""};
      std::string name = kPrefixes[in.ConsumeIntegralInRange<std::size_t>(0, std::size(kPrefixes) - 1)];
      name += in.ConsumeRandomLengthString(24);
      tensors.emplace_back(name, any_tensor(in, nullptr));
    }
  }
}

}  // namespace
}  // namespace normkit

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace normkit;
  static const bool one_thread = (set_num_threads(1), true);
  (void)one_thread;
  static Fixture fixture;
  FuzzedDataProvider in(data, size);
  io::SafetensorsContents c = fixture.written;
  const int edits = in.ConsumeIntegralInRange(0, 4);
  for (int k = 0; k < edits && !c.metadata.empty(); ++k) edit(in, c);
  try {
    io::save_safetensors(fixture.path, c.tensors, c.metadata);
  } catch (const Error&) {
    return 0;  // a name twice or reserved: not a file the loader can see
  }
  const auto net = small_network();
  train::Trainer trainer(*net, fixture.data, fixture.options);
  try {
    trainer.load_checkpoint(fixture.path);
  } catch (const Error&) {
    return 0;
  }
  try {
    trainer.step();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "checkpoint_fuzzer: a step after an accepted checkpoint failed: %s\n", e.what());
    std::abort();
  }
  return 0;
}
