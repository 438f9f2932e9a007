// The base of every nn module: train()/eval(), named parameters (with
// gradients) and buffers in registration order, and state dicts built from
// them, with PyTorch's order (parameters, then buffers) and key names.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "normkit/nn/parameter.hpp"

namespace normkit::nn {

class Module {
 public:
  virtual ~Module() = default;
  // Modules register pointers to their own members: they are neither copied
  // nor moved.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  void train(bool on = true) { training_ = on; }
  void eval() { training_ = false; }
  bool is_training() const { return training_; }
  const std::string& name() const { return name_; }

  // Copies of every defined parameter and buffer.
  StateDict state_dict() const;
  // Strict: every key of state_dict() with its dtype and shape, and no other
  // key. Everything is checked before anything is written.
  void load_state_dict(const StateDict& state);

  void zero_grad();
  std::vector<Parameter*> parameters();  // the defined ones

  // The defined parameter or buffer registered under key, or null.
  Parameter* find_parameter(const std::string& key);
  Tensor* find_tensor(const std::string& key);  // a parameter's value or a buffer

 protected:
  explicit Module(std::string name) : name_(std::move(name)) {}
  void register_parameter(std::string key, Parameter* parameter);
  void register_buffer(std::string key, Tensor* buffer);

 private:
  std::string name_;
  bool training_ = true;
  std::vector<std::pair<std::string, Parameter*>> parameters_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;

  // Every defined tensor of the state, in state_dict order.
  std::vector<std::pair<std::string, Tensor*>> state_tensors() const;
};

}  // namespace normkit::nn
