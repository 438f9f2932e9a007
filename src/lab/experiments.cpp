#include "lab.hpp"

namespace normkit::lab {

const std::vector<Experiment>& experiments() {
  static const std::vector<Experiment> all{
      {"convergence", "Ioffe and Szegedy's sigmoid MLP with and without BN: accuracy and a sigmoid's input over training",
       &run_convergence},
      {"lr-sweep", "the largest stable learning rate and the steps to a target accuracy: no norm, BN, BN + warm-up",
       &run_lr_sweep},
      {"batch-size", "BN, GN, LN, IN and Batch Renorm at 32 to 2 samples per normalization group (Wu and He)",
       &run_batch_size},
      {"eval-bug", "a BN network evaluated in train mode at batch 1-32, and frozen-BN fine-tuning", &run_eval_bug},
      {"landscape", "loss variation, gradient predictiveness and beta-smoothness along the gradient, with and without BN",
       &run_landscape},
      {"ics", "internal covariate shift as Santurkar et al. define it: a layer's gradient before and after the updates below",
       &run_ics},
      {"noisy-bn", "BN followed by non-stationary noise against standard BN and no BN (Santurkar et al.)", &run_noisy_bn},
      {"ghost", "batch 128 against 4096, sqrt lr scaling, Ghost BN and regime adaptation (Hoffer et al.)", &run_ghost},
      {"dropout", "dropout before BN against after it: the variance shift, and re-estimating the statistics (Li et al.)",
       &run_dropout},
      {"scale-invariance", "BN makes the layer before it scale-invariant; weight decay raises the effective lr",
       &run_scale_invariance},
      {"resnet", "pre-activation against post-activation residual networks at two depths (He et al. 2016)", &run_resnet},
      {"placement-and-bias", "BN before or after ReLU; a bias before BN gets no gradient", &run_placement},
      {"rmsnorm", "RMSNorm against LayerNorm: the op's time, the step's time and the accuracy (Zhang and Sennrich)",
       &run_rmsnorm},
      {"pre-post-norm", "pre- against post-norm transformers at two depths over learning rates, with and without warm-up",
       &run_pre_post_norm},
      {"transformer-norms", "LayerNorm, RMSNorm, DyT, BatchNorm over tokens and none in a ViT: accuracy, time, batch 1",
       &run_transformer_norms},
      {"qk-norm", "attention logit growth and stability at high learning rates with and without QK-norm",
       &run_qk_norm},
      {"sync", "4 ranks x 2 samples: per-rank BN, Synchronized BN and GroupNorm, and what SyncBN's exchanges cost",
       &run_sync, 4},
  };
  return all;
}

}  // namespace normkit::lab
