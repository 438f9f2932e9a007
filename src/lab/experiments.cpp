#include "lab.hpp"

namespace normkit::lab {

// The times (quick, full) are one seed's with 2 threads on this project's
// 2-core AMD EPYC (Zen 4): quick from `normkit lab all --quick --seeds 1`
// (578 s in all), full from the reports in docs/lab (sync: its 5 seeds took
// 421 s); estimated from their parts where an experiment changed since
// (VGG-8 in convergence, lr-sweep, landscape and noisy-bn: from its step
// times, 0.14 s at batch 64 and 0.28 s at batch 128; batch-size) and for lab
// sync's quick run.
const std::vector<Experiment>& experiments() {
  static const std::vector<Experiment> all{
      {"convergence", "Ioffe and Szegedy's sigmoid MLP with and without BN: accuracy and a sigmoid's input over training; VGG-8 "
       "with and without BN",
       &run_convergence, 0, 25, 700},
      {"lr-sweep", "the largest stable learning rate and the steps to a target accuracy: the CNN with no norm, BN, BN + "
       "warm-up; VGG-8 with no norm and BN",
       &run_lr_sweep, 0, 35, 650},
      {"batch-size", "BN, GN, LN, IN and Batch Renorm at 32 to 2 samples per normalization group (Wu and He)",
       &run_batch_size, 0, 55, 320},
      {"eval-bug", "a BN network evaluated in train mode at batch 1-32, and frozen-BN fine-tuning", &run_eval_bug, 0, 4, 59},
      {"landscape", "loss variation, gradient predictiveness and beta-smoothness along the gradient, VGG-8 with and without BN",
       &run_landscape, 0, 55, 400},
      {"ics", "internal covariate shift as Santurkar et al. define it: a layer's gradient before and after the updates below",
       &run_ics, 0, 68, 201},
      {"noisy-bn", "VGG-8 with BN followed by non-stationary noise against standard BN and no BN (Santurkar et al.)", &run_noisy_bn, 0, 25, 420},
      {"ghost", "batch 128 against 4096, sqrt lr scaling, Ghost BN and regime adaptation (Hoffer et al.)", &run_ghost, 0, 96, 415},
      {"dropout", "dropout before BN against after it: the variance shift, and re-estimating the statistics (Li et al.)",
       &run_dropout, 0, 6, 60},
      {"scale-invariance", "BN makes the layer before it scale-invariant; weight decay raises the effective lr",
       &run_scale_invariance, 0, 31, 206},
      {"resnet", "pre-activation against post-activation residual networks at two depths (He et al. 2016)", &run_resnet, 0, 65, 1041},
      {"placement-and-bias", "BN before or after ReLU; a bias before BN gets no gradient", &run_placement, 0, 89, 262},
      {"rmsnorm", "RMSNorm against LayerNorm: the op's time, the step's time and the accuracy (Zhang and Sennrich)",
       &run_rmsnorm, 0, 22, 58},
      {"pre-post-norm", "pre- against post-norm transformers at two depths over learning rates, with and without warm-up",
       &run_pre_post_norm, 0, 16, 565},
      {"transformer-norms", "LayerNorm, RMSNorm, DyT, BatchNorm over tokens and none in a ViT: accuracy, time, batch 1",
       &run_transformer_norms, 0, 22, 334},
      {"qk-norm", "attention logit growth and stability at high learning rates with and without QK-norm",
       &run_qk_norm, 0, 5, 167},
      {"sync", "4 ranks x 2 samples: per-rank BN, Synchronized BN and GroupNorm, and what SyncBN's exchanges cost",
       &run_sync, 4, 20, 85},
  };
  return all;
}

}  // namespace normkit::lab
