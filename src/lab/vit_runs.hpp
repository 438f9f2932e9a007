// What the transformer experiments share: the lab's Vision Transformer
// (train::make_model("vit"): 7x7 patches, so 16 patch tokens and a class
// token, 64 features, 4 heads, an MLP of 128), trained with AdamW, and
// probes of its blocks. At this size a step at batch 64 takes about 20 ms
// per 4 blocks on two cores, so a sweep of a few dozen runs of a few hundred
// steps fits in minutes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "curves.hpp"
#include "normkit/nn/transformer.hpp"

namespace normkit::lab {

inline constexpr std::int64_t kVitDim = 64;

train::ModelOptions lab_vit(std::int64_t depth, nn::NormPlacement placement = nn::NormPlacement::pre,
                            bool qk_norm = false);

// AdamW at base rate `lr` (betas 0.9, 0.999; weight decay 0.05 on weight
// matrices only), linear warm-up over `warmup` steps, then constant or a
// cosine decay over the run; the context's seed and image limit.
train::TrainOptions adamw_training(const Context& ctx, double lr, std::int64_t batch, std::int64_t warmup,
                                   bool cosine = false);

// The largest attention logit |q k^T / sqrt(Dh)| of the last forward, over
// every block of a ViT.
double max_attention_logit(nn::Sequential& net);

// The Euclidean norm of the gradient of one parameter of each transformer
// block (`key` inside the block, as "linear2.weight"), in block order, from
// the gradients the network holds.
std::vector<double> block_gradient_norms(nn::Sequential& net, const std::string& key);

}  // namespace normkit::lab
