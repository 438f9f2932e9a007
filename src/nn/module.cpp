#include "normkit/nn/module.hpp"

#include "normkit/error.hpp"

namespace normkit::nn {

void Module::register_parameter(std::string key, Parameter* parameter) {
  parameters_.emplace_back(std::move(key), parameter);
}

void Module::register_buffer(std::string key, Tensor* buffer) {
  buffers_.emplace_back(std::move(key), buffer);
}

void Module::register_module(std::string key, Module* child) { children_.emplace_back(std::move(key), child); }

void Module::replace_module(const std::string& key, Module* child) {
  for (auto& [name, registered] : children_)
    if (name == key) {
      registered = child;
      return;
    }
  detail::throw_error(name_, ": no child module '", key, "' to replace");
}

void Module::train(bool on) {
  training_ = on;
  for (const auto& [_, child] : children_) child->train(on);
}

void Module::collect_state(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) const {
  for (const auto& [key, p] : parameters_)
    if (p->value.defined()) out.emplace_back(prefix + key, &p->value);
  for (const auto& [key, t] : buffers_)
    if (t->defined()) out.emplace_back(prefix + key, t);
  for (const auto& [key, child] : children_) child->collect_state(prefix + key + ".", out);
}

void Module::collect_parameters(const std::string& prefix,
                                std::vector<std::pair<std::string, Parameter*>>& out) const {
  for (const auto& [key, p] : parameters_)
    if (p->value.defined()) out.emplace_back(prefix + key, p);
  for (const auto& [key, child] : children_) child->collect_parameters(prefix + key + ".", out);
}

void Module::collect_extra_state(const std::string& path, std::vector<std::pair<std::string, Module*>>& out) {
  if (!extra_state().empty()) out.emplace_back(path, this);
  for (const auto& [key, child] : children_) child->collect_extra_state(path.empty() ? key : path + "." + key, out);
}

std::vector<std::pair<std::string, Module*>> Module::modules_with_extra_state() {
  std::vector<std::pair<std::string, Module*>> out;
  collect_extra_state("", out);
  return out;
}

std::vector<std::pair<std::string, Tensor*>> Module::state_tensors() const {
  std::vector<std::pair<std::string, Tensor*>> out;
  collect_state("", out);
  return out;
}

StateDict Module::state_dict() const {
  StateDict state;
  for (const auto& [key, t] : state_tensors()) state.emplace_back(key, Tensor::copy_of(*t));
  return state;
}

void Module::load_state_dict(const StateDict& state) {
  const auto mine = state_tensors();
  for (const auto& [key, _] : state) {
    bool known = false;
    for (const auto& [name, t] : mine) known = known || name == key;
    NORMKIT_CHECK(known, name_, ": load_state_dict: unexpected key '", key, "'");
  }
  for (const auto& [key, t] : mine) {
    const Tensor& given = state_dict_get(state, key);
    NORMKIT_CHECK(given.shape() == t->shape() && given.dtype() == t->dtype(), name_,
                  ": load_state_dict: '", key, "': expected ", dtype_name(t->dtype()),
                  " of shape ", shape_string(t->shape()), ", got ", dtype_name(given.dtype()),
                  " of shape ", shape_string(given.shape()));
    // The int64 entries are counts (num_batches_tracked): a negative one
    // would make a later forward's momentum 1 / 0.
    if (given.dtype() != DType::int64) continue;
    const std::int64_t* counts = given.data<std::int64_t>();
    for (std::int64_t i = 0; i < given.numel(); ++i)
      NORMKIT_CHECK(counts[i] >= 0, name_, ": load_state_dict: '", key, "': expected a count >= 0, got ", counts[i]);
  }
  for (const auto& [key, t] : mine) copy_into(state_dict_get(state, key), *t);
}

void Module::zero_grad() {
  for (Parameter* p : parameters()) p->zero_grad();
}

std::vector<std::pair<std::string, Parameter*>> Module::named_parameters() {
  std::vector<std::pair<std::string, Parameter*>> named;
  collect_parameters("", named);
  return named;
}

std::vector<Parameter*> Module::parameters() {
  std::vector<std::pair<std::string, Parameter*>> named;
  collect_parameters("", named);
  std::vector<Parameter*> out;
  for (const auto& [_, p] : named) out.push_back(p);
  return out;
}

Parameter* Module::find_parameter(const std::string& key) {
  std::vector<std::pair<std::string, Parameter*>> named;
  collect_parameters("", named);
  for (const auto& [name, p] : named)
    if (name == key) return p;
  return nullptr;
}

Tensor* Module::find_tensor(const std::string& key) {
  for (const auto& [name, t] : state_tensors())
    if (name == key) return t;
  return nullptr;
}

}  // namespace normkit::nn
