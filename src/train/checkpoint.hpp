// The training checkpoint's format: one safetensors file (written atomically)
// holding the model's state dict under PyTorch's key names, the optimizer's
// buffers ("optimizer.<param>.<buffer>": SGD's momentum_buffer, AdamW's
// exp_avg and exp_avg_sq), the epoch's shuffled order
// ("trainer.shuffle_order"), and in its metadata what the run was (model,
// norm, optimizer, batch size), how far it got (epochs, optimizer steps as
// normkit.sgd_steps, its name from when SGD was the only one), the
// shuffling stream's state and each layer's extra state
// ("normkit.extra_state.<key path>"). Trainer::save_checkpoint and
// load_checkpoint are its users.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "normkit/nn/init.hpp"
#include "normkit/nn/sequential.hpp"
#include "normkit/nn/optimizer.hpp"

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

void save_checkpoint(const std::string& path, const RunIdentity& run, nn::Sequential& net,
                     const nn::Optimizer& optimizer, const TrainerState& state);

// Restores net, the optimizer and state from the file at path, written by a
// run like `run` with the same optimizer (a file without normkit.optimizer
// was SGD's), steps_per_epoch steps per epoch and state.order.size()
// images. Everything in the
// file is checked first (each tensor's presence, dtype and shape, each
// metadata value's type and range); an Error names "resume: <path>" and the
// entry.
void load_checkpoint(const std::string& path, const RunIdentity& run, std::int64_t steps_per_epoch,
                     nn::Sequential& net, nn::Optimizer& optimizer, TrainerState& state);

}  // namespace normkit::train
