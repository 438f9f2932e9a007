#include "model_flags.hpp"

#include <cstdio>

#include "options.hpp"

namespace normkit::cli {

void ModelFlags::finish() {
  const bool vit = model == "vit";
  if (vit && form_flag->count() == 0) form = "pre";
  options.form = form == "pre" ? nn::ResidualForm::pre_activation : nn::ResidualForm::post_activation;
  train::VitOptions& v = options.vit;
  v.placement = form == "pre" ? nn::NormPlacement::pre : nn::NormPlacement::post;
  if (depth_flag->count() > 0) v.depth = options.depth;
  if (model == "vgg" && depth_flag->count() == 0) options.depth = 8;
}

std::string ModelFlags::recorded_name() const {
  std::string name = model;
  if (model == "resnet") name += std::to_string(options.depth) + "-" + form;
  if (model == "vgg") name += std::to_string(options.depth);
  if ((model == "cnn" || model == "vgg") && options.width != 1) name += "-w" + std::to_string(options.width);
  const train::VitOptions& v = options.vit;
  if (model == "vit")
    name += std::to_string(v.depth) + "-d" + std::to_string(v.dim) + "-h" + std::to_string(v.heads) + "-p" +
            std::to_string(v.patch) + "-m" + std::to_string(v.mlp_ratio) + "-" + form + (v.qk_norm ? "-qk" : "");
  if (options.dropout > 0) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", options.dropout);
    name += std::string("-dropout") + text;
  }
  return name;
}

void add_model_flags(CLI::App& sub, ModelFlags& f) {
  train::ModelOptions& m = f.options;
  add_choice(sub, "--model", f.model, {"mlp", "cnn", "vgg", "resnet", "vit"}, "the network (train/models.hpp)");
  add_choice(sub, "--norm", f.norm, {"none", "bn", "gn", "ln", "in", "rms", "ghost", "renorm", "dyt"},
             "the normalization in it (vit: none, bn, ln, rms, dyt)");
  f.depth_flag = add_integer(sub, "--depth", m.depth,
                             "resnet: layers, 6n+2 (default 20); vgg: convolutions (default 8); vit: blocks (default 6)");
  f.form_flag = add_choice(sub, "--form", f.form, {"post", "pre"},
                           "resnet: post- or pre-activation blocks (default post); vit: post- or pre-norm (default pre)");
  add_integer(sub, "--dim", m.vit.dim, "vit: features per token");
  add_integer(sub, "--heads", m.vit.heads, "vit: attention heads");
  add_integer(sub, "--patch", m.vit.patch, "vit: patch side in pixels (a divisor of 28)");
  add_integer(sub, "--mlp-ratio", m.vit.mlp_ratio, "vit: the MLP's width, times --dim");
  add_switch(sub, "--qk-norm", m.vit.qk_norm, "vit: LayerNorm of each head's queries and keys");
  add_integer(sub, "--width", m.width, "cnn, vgg: channels times K (cnn: 16K and 32K)");
  add_number(sub, "--dropout", m.dropout,
             "drop probability (0: no Dropout layers; vit: torch's four places in each block)");
  add_integer(sub, "--ghost-batch", m.ghost_batch, "--norm ghost: samples per virtual batch (must divide B)");
}

}  // namespace normkit::cli
