// The lab: experiments that train the lab's networks on Fashion-MNIST and
// measure what normalization does to training. Each experiment writes its
// CSV files and PNG plots into the output folder, returns a section of the
// Markdown report, and a table to print. docs/lab.md says what each runs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "normkit/io/fashion_mnist.hpp"
#include "normkit/nn/sequential.hpp"
#include "normkit/train/batch_share.hpp"

namespace normkit::lab {

struct LabOptions {
  bool quick = false;         // the short run (about 2 minutes an experiment)
  std::string out_dir = "lab-report";
  std::int64_t limit = 0;     // at most this many training images per run (0: the experiment's own)
  std::int64_t test_limit = 0;  // at most this many test images per evaluation (0: the experiment's own)
  std::uint64_t seed = 1;
};

struct Context {
  const io::FashionMnist& data;
  LabOptions options;
  std::function<void(const std::string&)> progress;  // one line about what is running now
  // Data-parallel training over the ranks of mpirun (lab sync; the CLI lends
  // it: this library has no MPI): a share for a new network, whose
  // BatchNorms become Synchronized BN when sync_batch_norm. Empty when the
  // lab runs as one process.
  std::function<std::unique_ptr<train::BatchShare>(nn::Sequential&, bool sync_batch_norm)> data_parallel;
  int rank = 0, ranks = 1;
  // Whether this process writes files (CSV, plots): the first rank only.
  bool writes() const { return rank == 0; }

  // `wanted` images, or fewer when --limit / --test-limit say so.
  std::int64_t train_images(std::int64_t wanted) const;
  std::int64_t test_images(std::int64_t wanted) const;
  std::string path(const std::string& file) const { return options.out_dir + "/" + file; }
};

struct Section {
  std::string markdown;  // "## title", what was run, tables, plots, the published result beside
  std::string printed;   // the table(s) for the terminal
};

struct Experiment {
  const char* name;
  const char* what;  // one line for usage and the report
  Section (*run)(const Context&);
  // Ranks it runs on under mpirun (0: one process, and part of `all`).
  int ranks = 0;
};

// The report's plain statement of whether a measurement agrees with the
// published claim: "Measured here: agrees with the paper: <what>." or
// "Measured here: DISAGREES with the paper: <what>." (a line of its own).
std::string verdict(bool agrees, const std::string& what);

// convergence, lr-sweep, batch-size, eval-bug, in the report's order.
const std::vector<Experiment>& experiments();

Section run_convergence(const Context& ctx);
Section run_lr_sweep(const Context& ctx);
Section run_batch_size(const Context& ctx);
Section run_eval_bug(const Context& ctx);
Section run_landscape(const Context& ctx);
Section run_ics(const Context& ctx);
Section run_noisy_bn(const Context& ctx);
Section run_scale_invariance(const Context& ctx);
Section run_placement(const Context& ctx);
Section run_rmsnorm(const Context& ctx);
Section run_dropout(const Context& ctx);
Section run_ghost(const Context& ctx);
Section run_resnet(const Context& ctx);
Section run_pre_post_norm(const Context& ctx);
Section run_transformer_norms(const Context& ctx);
Section run_qk_norm(const Context& ctx);
Section run_sync(const Context& ctx);

}  // namespace normkit::lab
