// The base of every nn module: train()/eval(), named parameters (with
// gradients), buffers and child modules in registration order, and state
// dicts built from them, with PyTorch's order (own parameters, own buffers,
// then each child's entries under "child_name.") and key names.
#pragma once

#include <shared_mutex>
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

  // Sets this module and every descendant to training (or eval) mode.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  const std::string& name() const { return name_; }

  // Copies of every defined parameter and buffer.
  StateDict state_dict() const;
  // Strict: every key of state_dict() with its dtype and shape, and no other
  // key. Everything is checked before anything is written.
  void load_state_dict(const StateDict& state);

  void zero_grad();
  std::vector<Parameter*> parameters();  // the defined ones, this module's then its children's
  // The same, with their state-dict keys.
  std::vector<std::pair<std::string, Parameter*>> named_parameters();

  // The defined parameter or buffer registered under key, or null.
  Parameter* find_parameter(const std::string& key);
  Tensor* find_tensor(const std::string& key);  // a parameter's value or a buffer

  // State that is not a tensor, as PyTorch's get_extra_state (a random
  // stream's position): "" when the module has none. Checkpoints keep it.
  virtual std::string extra_state() const { return {}; }
  virtual void set_extra_state(const std::string& /*state*/) {}
  // Every module with extra state, under its key path ("3" for the fourth
  // layer of a Sequential, "" for this module).
  std::vector<std::pair<std::string, Module*>> modules_with_extra_state();

  // For front ends that hand one module to several threads (the Python
  // module, docs/threads.md): a call that may run beside others takes it
  // shared (an eval-mode forward of a layer whose concurrent_eval_forward()
  // is true), every other call exclusive. The C++ API takes no lock itself.
  std::shared_mutex& call_mutex() const { return call_mutex_; }

 protected:
  explicit Module(std::string name) : name_(std::move(name)) {}
  void register_parameter(std::string key, Parameter* parameter);
  void register_buffer(std::string key, Tensor* buffer);
  // A child whose entries appear in the state dict as "key.<entry>".
  void register_module(std::string key, Module* child);
  // The child registered under key becomes `child` (same place in the order).
  void replace_module(const std::string& key, Module* child);

 private:
  std::string name_;
  bool training_ = true;
  std::vector<std::pair<std::string, Parameter*>> parameters_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  std::vector<std::pair<std::string, Module*>> children_;
  mutable std::shared_mutex call_mutex_;

  // Every defined tensor of the state, in state_dict order, keys prefixed.
  void collect_state(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) const;
  void collect_parameters(const std::string& prefix, std::vector<std::pair<std::string, Parameter*>>& out) const;
  void collect_extra_state(const std::string& path, std::vector<std::pair<std::string, Module*>>& out);
  std::vector<std::pair<std::string, Tensor*>> state_tensors() const;
};

}  // namespace normkit::nn
