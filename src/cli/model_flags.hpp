// The flags that choose a lab network, shared by `train` and `step-time`:
// --model, --norm and each model's own (resnet's depth and form, the cnn's
// width, the vit's shape), with the defaults that depend on the model.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "normkit/train/models.hpp"

namespace normkit::cli {

struct ModelFlags {
  std::string model = "mlp", norm = "bn";
  std::string form = "post";  // resnet: post- or pre-activation blocks; vit: pre- or post-norm (default pre)
  train::ModelOptions options;
  const CLI::Option *form_flag = nullptr, *depth_flag = nullptr;

  // Settles what the flags leave to derive: the vit's form (pre unless
  // given) and depth (6 unless given), and the forms' enums.
  void finish();
  // The model with its shape, as checkpoints record it ("resnet20-pre").
  std::string recorded_name() const;
};

// Adds the flags to `sub`, defaulting to `model`.
void add_model_flags(CLI::App& sub, ModelFlags& flags);

}  // namespace normkit::cli
