#include "normkit/train/trainer.hpp"

#include <chrono>
#include <cstring>
#include <map>
#include <numeric>

#include "normkit/error.hpp"
#include "normkit/io/safetensors.hpp"
#include "normkit/nn/init.hpp"
#include "normkit/nn/loss.hpp"

namespace normkit::train {
namespace {

// The rows `indices` of images (N, ...) and labels (N), as one batch.
std::pair<Tensor, Tensor> gather(const io::LabelledImages& data, const std::int64_t* indices, std::int64_t count) {
  Shape shape = data.images.shape();
  const std::int64_t per_image = data.images.numel() / shape[0];
  shape[0] = count;
  Tensor x(shape), y({count}, DType::int64);
  for (std::int64_t j = 0; j < count; ++j) {
    std::memcpy(x.data<float>() + j * per_image, data.images.data<float>() + indices[j] * per_image,
                static_cast<std::size_t>(per_image) * sizeof(float));
    y.data<std::int64_t>()[j] = data.labels.data<std::int64_t>()[indices[j]];
  }
  return {std::move(x), std::move(y)};
}

constexpr const char* kOrderKey = "trainer.shuffle_order";
const std::string kMomentumPrefix = "optimizer.";
const std::string kMomentumSuffix = ".momentum_buffer";
const std::string kExtraStatePrefix = "normkit.extra_state.";  // + the module's key path

void save_checkpoint(const TrainOptions& o, nn::Sequential& net, const nn::SGD& sgd, const nn::Generator& shuffle,
                     const std::vector<std::int64_t>& order, std::int64_t epochs_done) {
  io::NamedTensors tensors = net.state_dict();
  const auto named = net.named_parameters();
  for (std::size_t k = 0; k < named.size(); ++k)
    if (sgd.momentum_buffers()[k].defined())
      tensors.emplace_back(kMomentumPrefix + named[k].first + kMomentumSuffix, sgd.momentum_buffers()[k]);
  Tensor order_tensor({static_cast<std::int64_t>(order.size())}, DType::int64);
  std::copy(order.begin(), order.end(), order_tensor.data<std::int64_t>());
  tensors.emplace_back(kOrderKey, order_tensor);
  std::map<std::string, std::string> metadata{{"format", "pt"},
                                              {"normkit.model", o.model_name},
                                              {"normkit.norm", o.norm_name},
                                              {"normkit.epochs_done", std::to_string(epochs_done)},
                                              {"normkit.sgd_steps", std::to_string(sgd.steps())},
                                              {"normkit.batch_size", std::to_string(o.batch_size)},
                                              {"normkit.shuffle_state", shuffle.state()}};
  for (const auto& [path, module] : net.modules_with_extra_state())
    metadata.emplace(kExtraStatePrefix + path, module->extra_state());
  io::save_safetensors(o.checkpoint, tensors, metadata);
}

std::string metadata(const io::SafetensorsContents& c, const std::string& key, const std::string& path) {
  const auto it = c.metadata.find(key);
  NORMKIT_CHECK(it != c.metadata.end(), "--resume: ", path, " is not a normkit checkpoint (no ", key, ")");
  return it->second;
}

// Restores what save_checkpoint wrote; returns the epochs already done.
std::int64_t load_checkpoint(const TrainOptions& o, nn::Sequential& net, nn::SGD& sgd, nn::Generator& shuffle,
                             std::vector<std::int64_t>& order) {
  const io::SafetensorsContents c = io::load_safetensors(o.resume);
  NORMKIT_CHECK(metadata(c, "normkit.model", o.resume) == o.model_name &&
                    metadata(c, "normkit.norm", o.resume) == o.norm_name,
                "--resume: ", o.resume, " holds a ", metadata(c, "normkit.model", o.resume), " with norm ",
                metadata(c, "normkit.norm", o.resume), ", not a ", o.model_name, " with norm ", o.norm_name);
  NORMKIT_CHECK(metadata(c, "normkit.batch_size", o.resume) == std::to_string(o.batch_size), "--resume: ", o.resume,
                " was trained with batch size ", metadata(c, "normkit.batch_size", o.resume), ", not ", o.batch_size);
  nn::StateDict model;
  const auto named = net.named_parameters();
  std::vector<Tensor> momentum(named.size());
  for (const auto& [key, t] : c.tensors) {
    if (key == kOrderKey) {
      NORMKIT_CHECK(t.numel() == static_cast<std::int64_t>(order.size()), "--resume: ", o.resume, " shuffles ",
                    t.numel(), " images, this run ", order.size(), " (a different --limit?)");
      std::copy(t.data<std::int64_t>(), t.data<std::int64_t>() + t.numel(), order.begin());
    } else if (key.starts_with(kMomentumPrefix)) {
      const std::string name = key.substr(kMomentumPrefix.size(), key.size() - kMomentumPrefix.size() - kMomentumSuffix.size());
      bool found = false;
      for (std::size_t k = 0; k < named.size(); ++k)
        if (named[k].first == name) momentum[k] = t, found = true;
      NORMKIT_CHECK(found, "--resume: ", o.resume, ": momentum for unknown parameter '", name, "'");
    } else {
      model.emplace_back(key, t);
    }
  }
  net.load_state_dict(model);
  for (const auto& [path, module] : net.modules_with_extra_state())
    module->set_extra_state(metadata(c, kExtraStatePrefix + path, o.resume));
  sgd.load_state(std::stoll(metadata(c, "normkit.sgd_steps", o.resume)), momentum);
  shuffle.set_state(metadata(c, "normkit.shuffle_state", o.resume));
  return std::stoll(metadata(c, "normkit.epochs_done", o.resume));
}

}  // namespace

Evaluation evaluate(nn::Sequential& net, const io::LabelledImages& data, std::int64_t batch_size) {
  const bool was_training = net.is_training();
  net.eval();
  const std::int64_t n = data.labels.numel();
  std::vector<std::int64_t> all(static_cast<std::size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  double loss = 0;
  std::int64_t correct = 0;
  for (std::int64_t b0 = 0; b0 < n; b0 += batch_size) {
    const std::int64_t count = std::min(batch_size, n - b0);
    const auto [x, y] = gather(data, all.data() + b0, count);
    const nn::CrossEntropy ce = nn::softmax_cross_entropy(net.forward(x), y);
    loss += ce.loss * static_cast<double>(count);
    correct += ce.correct;
  }
  net.train(was_training);
  return {n > 0 ? loss / static_cast<double>(n) : 0.0, n > 0 ? static_cast<double>(correct) / static_cast<double>(n) : 0.0};
}

std::vector<EpochReport> fit(nn::Sequential& net, const io::FashionMnist& data, const TrainOptions& options,
                             const std::function<void(const StepReport&)>& on_step,
                             const std::function<void(const EpochReport&)>& on_epoch) {
  NORMKIT_CHECK(options.epochs >= 1, "--epochs: expected >= 1, got ", options.epochs);
  NORMKIT_CHECK(options.batch_size >= 2, "--batch-size: expected >= 2 (BatchNorm needs two samples), got ",
                options.batch_size);
  NORMKIT_CHECK(options.sgd.lr > 0, "--lr: expected > 0, got ", options.sgd.lr);
  const std::int64_t available = data.train.labels.numel();
  const std::int64_t n = options.limit > 0 ? std::min(options.limit, available) : available;
  NORMKIT_CHECK(n >= options.batch_size, "--batch-size: expected at most the ", n, " training images, got ",
                options.batch_size);
  nn::Generator shuffle(options.seed ^ 0x5eedULL);
  nn::SGD sgd(net.parameters(), options.sgd);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  const std::int64_t steps = n / options.batch_size;  // the last partial batch is dropped
  const std::int64_t done = options.resume.empty() ? 0 : load_checkpoint(options, net, sgd, shuffle, order);
  std::vector<EpochReport> reports;
  net.train();
  for (std::int64_t epoch = done + 1; epoch <= options.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    for (std::int64_t i = n - 1; i > 0; --i)  // Fisher-Yates with the seeded generator
      std::swap(order[static_cast<std::size_t>(i)], order[shuffle.below(static_cast<std::uint64_t>(i + 1))]);
    double loss_sum = 0;
    std::int64_t correct = 0;
    for (std::int64_t step = 0; step < steps; ++step) {
      const auto [x, y] = gather(data.train, order.data() + step * options.batch_size, options.batch_size);
      sgd.set_lr(options.schedule.at((epoch - 1) * steps + step, steps, options.epochs * steps, options.sgd.lr));
      sgd.zero_grad();
      const nn::CrossEntropy ce = nn::softmax_cross_entropy(net.forward(x), y);
      net.backward(ce.grad);
      sgd.step();
      loss_sum += ce.loss;
      correct += ce.correct;
      if (on_step) on_step({epoch, step + 1, steps, ce.loss});
    }
    const Evaluation test = evaluate(net, data.test);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    reports.push_back({epoch, loss_sum / static_cast<double>(steps),
                       static_cast<double>(correct) / static_cast<double>(steps * options.batch_size), test.accuracy,
                       seconds});
    if (!options.checkpoint.empty()) save_checkpoint(options, net, sgd, shuffle, order, epoch);
    if (on_epoch) on_epoch(reports.back());
  }
  return reports;
}

}  // namespace normkit::train
