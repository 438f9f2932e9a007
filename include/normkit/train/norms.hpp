// The normalizations a lab network can hold, chosen by name:
//   none, bn, gn, ln, in, rms, ghost, renorm, dyt.
// Three placements: after a Linear, on features (N, C); after a
// convolution, on feature maps (N, C, H, W); in a transformer, on tokens
// (N, T, D). What each name means in each place is in
// docs/lab.md; in short:
//   bn      BatchNorm1d / BatchNorm2d;
//   gn      GroupNorm with groups of channels (4 groups of features, 8 of maps);
//   ln      LayerNorm over the features; on maps GroupNorm with one group
//           (Wu and He's definition: statistics over (C, H, W), one affine
//           pair per channel);
//   in      InstanceNorm2d with affine parameters (maps only: one feature has
//           no spatial extent to normalize over);
//   rms     RMSNorm over the features, or over (C, H, W) on maps (as
//           torch.nn.RMSNorm([C, H, W])): no centring;
//   ghost   BatchNorm with a virtual batch size (Hoffer et al. 2017);
//   renorm  Batch Renorm (Ioffe 2017) with NormChoice::renorm's schedule;
//   dyt     DyT (Zhu et al. 2025), y = weight * tanh(alpha * x) + bias over
//           the last dim: features and tokens (no maps).
// On tokens: ln, rms and dyt over each token's D features; bn over every
// token of the batch (TokenBatchNorm); none.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "normkit/nn/batch_norm.hpp"
#include "normkit/nn/layer.hpp"

namespace normkit::train {

inline constexpr const char* kNormNames = "none, bn, gn, ln, in, rms, ghost, renorm, dyt";
inline constexpr const char* kTokenNormNames = "none, bn, ln, rms, dyt";

struct NormChoice {
  std::string name = "bn";
  std::int64_t ghost_batch = 16;  // ghost: samples per virtual batch (must divide every training batch)
  // renorm: Ioffe's limits (rmax 3, dmax 5) on a schedule ten times shorter
  // than his ImageNet one, for runs of a few thousand steps.
  nn::BatchRenormSchedule renorm{.rmax = 3.0, .dmax = 5.0, .warmup_steps = 500, .rmax_steps = 4000, .dmax_steps = 2500};
};

// Null for "none". Errors name --norm and list the choices.
std::unique_ptr<nn::Layer> feature_norm(const NormChoice& norm, std::int64_t features);
std::unique_ptr<nn::Layer> map_norm(const NormChoice& norm, std::int64_t channels, std::int64_t height,
                                    std::int64_t width);

// A norm of tokens (N, T, D) of `features` features, or null for none.
std::unique_ptr<nn::Layer> token_norm(const NormChoice& norm, std::int64_t features);

// Whether the norm subtracts a mean, making a bias just before it redundant
// (the bias would be subtracted again): everything but none and rms.
bool norm_centres(const std::string& name);

}  // namespace normkit::train
