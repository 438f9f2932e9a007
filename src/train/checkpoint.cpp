#include "checkpoint.hpp"

#include <charconv>
#include <limits>
#include <map>
#include <set>

#include "normkit/error.hpp"
#include "normkit/io/safetensors.hpp"

namespace normkit::train {
namespace {

constexpr const char* kOrderKey = "trainer.shuffle_order";
const std::string kOptimizerPrefix = "optimizer.";  // + the parameter's key, "." and the buffer's name
const std::string kExtraStatePrefix = "normkit.extra_state.";  // + the module's key path

std::string metadata(const io::SafetensorsContents& c, const std::string& key, const std::string& path) {
  const auto it = c.metadata.find(key);
  NORMKIT_CHECK(it != c.metadata.end(), "resume: ", path, " is not a normkit checkpoint (no ", key, ")");
  return it->second;
}

// A metadata entry that must be a decimal integer in [low, high], all of it.
std::int64_t integer_metadata(const io::SafetensorsContents& c, const std::string& key, const std::string& path,
                              std::int64_t low, std::int64_t high) {
  const std::string text = metadata(c, key, path);
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  NORMKIT_CHECK(error == std::errc() && end == text.data() + text.size() && value >= low && value <= high,
                "resume: ", path, ": ", key, ": expected an integer from ", low, " to ", high, ", got '", text, "'");
  return value;
}

// Runs use(); an Error from it names the checkpoint and the entry.
template <typename Use>
void using_entry(const std::string& path, const std::string& entry, Use use) {
  try {
    use();
  } catch (const Error& e) {
    detail::throw_error("resume: ", path, ": ", entry, ": ", e.what());
  }
}

// The checkpoint's tensor under key: present, of this dtype and shape.
const Tensor& checkpoint_tensor(const std::map<std::string, const Tensor*>& tensors, const std::string& key,
                                DType dtype, const Shape& shape, const std::string& path) {
  const auto it = tensors.find(key);
  NORMKIT_CHECK(it != tensors.end(), "resume: ", path, ": tensor '", key, "' is missing");
  const Tensor& t = *it->second;
  NORMKIT_CHECK(t.dtype() == dtype && t.shape() == shape, "resume: ", path, ": tensor '", key, "': expected ",
                dtype_name(dtype), " of shape ", shape_string(shape), ", got ", dtype_name(t.dtype()), " of shape ",
                shape_string(t.shape()));
  return t;
}

}  // namespace

void save_checkpoint(const std::string& path, const RunIdentity& run, nn::Sequential& net,
                     const nn::Optimizer& optimizer, const TrainerState& state) {
  io::NamedTensors tensors = net.state_dict();
  const auto named = net.named_parameters();
  const std::vector<std::string> names = optimizer.buffer_names(optimizer.steps());
  const std::vector<std::vector<Tensor>> buffers = optimizer.buffers();
  for (std::size_t b = 0; b < names.size(); ++b)
    for (std::size_t k = 0; k < named.size(); ++k)
      tensors.emplace_back(kOptimizerPrefix + named[k].first + "." + names[b], buffers[b][k]);
  Tensor order({static_cast<std::int64_t>(state.order.size())}, DType::int64);
  std::copy(state.order.begin(), state.order.end(), order.data<std::int64_t>());
  tensors.emplace_back(kOrderKey, order);
  io::Metadata info{{"format", "pt"},
                    {"normkit.model", run.model_name},
                    {"normkit.norm", run.norm_name},
                    {"normkit.optimizer", optimizer.name()},
                    {"normkit.epochs_done", std::to_string(state.epochs_done)},
                    {"normkit.sgd_steps", std::to_string(optimizer.steps())},
                    {"normkit.batch_size", std::to_string(run.batch_size)},
                    {"normkit.shuffle_state", state.shuffle.state()}};
  for (const auto& [key, module] : net.modules_with_extra_state())
    info.emplace(kExtraStatePrefix + key, module->extra_state());
  io::save_safetensors(path, tensors, info);
}

void load_checkpoint(const std::string& path, const RunIdentity& run, std::int64_t steps_per_epoch,
                     nn::Sequential& net, nn::Optimizer& optimizer, TrainerState& state) {
  // Everything is checked before anything is used: each tensor's presence,
  // dtype and shape, each metadata value's type and range.
  const io::SafetensorsContents c = io::load_safetensors(path);
  NORMKIT_CHECK(metadata(c, "normkit.model", path) == run.model_name &&
                    metadata(c, "normkit.norm", path) == run.norm_name,
                "resume: ", path, " holds a ", metadata(c, "normkit.model", path), " with norm ",
                metadata(c, "normkit.norm", path), ", not a ", run.model_name, " with norm ", run.norm_name);
  const auto saved_optimizer = c.metadata.find("normkit.optimizer");
  const std::string trained_with = saved_optimizer != c.metadata.end() ? saved_optimizer->second : "sgd";
  NORMKIT_CHECK(trained_with == optimizer.name(), "resume: ", path, " was trained with ", trained_with, ", not ",
                optimizer.name());
  NORMKIT_CHECK(metadata(c, "normkit.batch_size", path) == std::to_string(run.batch_size), "resume: ", path,
                " was trained with batch size ", metadata(c, "normkit.batch_size", path), ", not ", run.batch_size);
  const std::int64_t epochs_done = integer_metadata(c, "normkit.epochs_done", path, 0,
                                                    std::numeric_limits<std::int64_t>::max() / steps_per_epoch);
  const std::int64_t steps_done = epochs_done * steps_per_epoch;
  // One optimizer step per trainer step.
  integer_metadata(c, "normkit.sgd_steps", path, steps_done, steps_done);

  std::map<std::string, const Tensor*> tensors;
  for (const auto& [key, t] : c.tensors) tensors.emplace(key, &t);
  const std::int64_t images = static_cast<std::int64_t>(state.order.size());
  const Tensor& order = checkpoint_tensor(tensors, kOrderKey, DType::int64, {images}, path);
  std::vector<bool> seen(state.order.size(), false);
  for (std::int64_t i = 0; i < images; ++i) {
    const std::int64_t index = order.data<std::int64_t>()[i];
    const bool fresh = index >= 0 && index < images && !seen[static_cast<std::size_t>(index)];
    NORMKIT_CHECK(fresh, "resume: ", path, ": tensor '", kOrderKey, "': expected an order of the ", images,
                  " images (each of 0 to ", images - 1, " once), got ", index, " at ", i);
    seen[static_cast<std::size_t>(index)] = true;
  }
  // The optimizer's buffers at this step (SGD's momentum after the first
  // step, when it has momentum; AdamW's moments after the first step), one
  // per parameter each.
  const auto named = net.named_parameters();
  const std::vector<std::string> names = optimizer.buffer_names(steps_done);
  std::vector<std::vector<Tensor>> buffers(names.size(), std::vector<Tensor>(named.size()));
  std::set<std::string> used{kOrderKey};
  for (std::size_t b = 0; b < names.size(); ++b)
    for (std::size_t k = 0; k < named.size(); ++k) {
      const std::string key = kOptimizerPrefix + named[k].first + "." + names[b];
      buffers[b][k] = checkpoint_tensor(tensors, key, DType::float32, named[k].second->value.shape(), path);
      used.insert(key);
    }
  nn::StateDict model;
  for (const auto& [key, t] : c.tensors) {
    if (used.contains(key)) continue;
    NORMKIT_CHECK(!key.starts_with(kOptimizerPrefix), "resume: ", path, ": tensor '", key, "': ",
                  names.empty() ? "an optimizer buffer, but this run's optimizer holds none at this step"
                                : "an optimizer buffer for no parameter of this model");
    model.emplace_back(key, t);
  }
  nn::Generator shuffle = state.shuffle;
  using_entry(path, "normkit.shuffle_state", [&] { shuffle.set_state(metadata(c, "normkit.shuffle_state", path)); });

  // The layers check what they are given before they change.
  for (const auto& keyed : net.modules_with_extra_state()) {  // (no structured binding: clang 14 cannot capture one)
    nn::Module* module = keyed.second;
    const std::string entry = kExtraStatePrefix + keyed.first;
    using_entry(path, entry, [&] { module->set_extra_state(metadata(c, entry, path)); });
  }
  using_entry(path, "the model's state", [&] { net.load_state_dict(model); });
  optimizer.load_state(steps_done, buffers);
  state.epochs_done = epochs_done;
  state.shuffle = shuffle;
  std::copy(order.data<std::int64_t>(), order.data<std::int64_t>() + images, state.order.begin());
}

}  // namespace normkit::train
