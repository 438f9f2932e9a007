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
  };
  return all;
}

}  // namespace normkit::lab
