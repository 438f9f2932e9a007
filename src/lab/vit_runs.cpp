#include "vit_runs.hpp"

#include <algorithm>

#include "normkit/error.hpp"
#include "probes.hpp"

namespace normkit::lab {

train::ModelOptions lab_vit(std::int64_t depth, nn::NormPlacement placement, bool qk_norm) {
  train::ModelOptions options;
  options.vit = {.depth = depth, .dim = kVitDim, .heads = 4, .patch = 7, .mlp_ratio = 2, .placement = placement,
                 .qk_norm = qk_norm};
  return options;
}

train::TrainOptions adamw_training(const Context& ctx, double lr, std::int64_t batch, std::int64_t warmup,
                                   bool cosine) {
  train::TrainOptions options{.batch_size = batch, .optimizer = "adamw", .seed = ctx.options.seed,
                              .limit = ctx.train_images(60000)};
  options.adamw.lr = lr;
  options.adamw.weight_decay = 0.05;
  options.decay_all = false;
  options.schedule.warmup_steps = warmup;
  if (cosine) options.schedule.kind = train::LrSchedule::Kind::cosine;
  return options;
}

double max_attention_logit(nn::Sequential& net) {
  double top = 0;
  for (nn::TransformerBlock* block : layers_of<nn::TransformerBlock>(net))
    top = std::max(top, static_cast<double>(block->self_attn().attention().max_logit()));
  return top;
}

std::vector<double> block_gradient_norms(nn::Sequential& net, const std::string& key) {
  std::vector<double> norms;
  for (nn::TransformerBlock* block : layers_of<nn::TransformerBlock>(net)) {
    const nn::Parameter* parameter = block->find_parameter(key);
    NORMKIT_CHECK(parameter != nullptr, "block_gradient_norms: key: no parameter '", key, "' in a block");
    norms.push_back(l2_norm(parameter->grad));
  }
  return norms;
}

}  // namespace normkit::lab
