// The training checkpoint's format: one safetensors file (written atomically)
// holding the model's state dict under PyTorch's key names, the optimizer's
// momentum buffers ("optimizer.<param>.momentum_buffer"), the epoch's shuffled
// order ("trainer.shuffle_order"), and in its metadata what the run was
// (model, norm, batch size), how far it got (epochs, optimizer steps), the
// shuffling stream's state and each layer's extra state
// ("normkit.extra_state.<key path>"). Trainer::save_checkpoint and
// load_checkpoint are its users.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "normkit/nn/init.hpp"
#include "normkit/nn/sequential.hpp"
#include "normkit/nn/sgd.hpp"

namespace normkit::train {

// What a checkpoint must match to be resumed by a run.
struct RunIdentity {
  std::string model_name, norm_name;
  std::int64_t batch_size = 0;
};

// The trainer's own state at an epoch boundary.
struct TrainerState {
  std::int64_t epochs_done = 0;
  std::vector<std::int64_t> order;  // the images in the order the last epoch drew them
  nn::Generator shuffle{0};         // the stream that shuffles the next epoch
};

void save_checkpoint(const std::string& path, const RunIdentity& run, nn::Sequential& net, const nn::SGD& sgd,
                     const TrainerState& state);

// Restores net, sgd and state from the file at path, written by a run like
// `run` with steps_per_epoch steps per epoch and state.order.size() images,
// whose optimizer keeps momentum buffers when `momentum`. Everything in the
// file is checked first (each tensor's presence, dtype and shape, each
// metadata value's type and range); an Error names "resume: <path>" and the
// entry.
void load_checkpoint(const std::string& path, const RunIdentity& run, std::int64_t steps_per_epoch, bool momentum,
                     nn::Sequential& net, nn::SGD& sgd, TrainerState& state);

}  // namespace normkit::train
