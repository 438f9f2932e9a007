#include "normkit/nn/module.hpp"

namespace normkit::nn {

void Module::register_parameter(std::string key, Parameter* parameter) {
  parameters_.emplace_back(std::move(key), parameter);
}

void Module::register_buffer(std::string key, Tensor* buffer) {
  buffers_.emplace_back(std::move(key), buffer);
}

std::vector<std::pair<std::string, Tensor*>> Module::state_tensors() const {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (const auto& [key, p] : parameters_)
    if (p->value.defined()) out.emplace_back(key, &p->value);
  for (const auto& [key, t] : buffers_)
    if (t->defined()) out.emplace_back(key, t);
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
  }
  for (const auto& [key, t] : mine) copy_into(state_dict_get(state, key), *t);
}

void Module::zero_grad() {
  for (const auto& [_, p] : parameters_) p->zero_grad();
}

std::vector<Parameter*> Module::parameters() {
  std::vector<Parameter*> out;
  for (const auto& [_, p] : parameters_)
    if (p->value.defined()) out.push_back(p);
  return out;
}

Parameter* Module::find_parameter(const std::string& key) {
  for (const auto& [name, p] : parameters_)
    if (name == key && p->value.defined()) return p;
  return nullptr;
}

Tensor* Module::find_tensor(const std::string& key) {
  if (Parameter* p = find_parameter(key)) return &p->value;
  for (const auto& [name, t] : buffers_)
    if (name == key && t->defined()) return t;
  return nullptr;
}

}  // namespace normkit::nn
