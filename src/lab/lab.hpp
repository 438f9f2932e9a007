// The lab: experiments that train the lab's networks on Fashion-MNIST and
// measure what normalization does to training. Each experiment writes its
// CSV files and PNG plots into the output folder, returns a section of the
// Markdown report, and a table to print. docs/lab.md says what each runs.
#pragma once

#include <algorithm>
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
  std::uint64_t seed = 1;     // the seed of this run (the first seed of a run over seeds)
  std::int64_t seeds = 0;     // seeds seed, seed + 1, ... (0: 3 in quick mode, 5 in full mode)
  std::int64_t jobs = 0;      // seeds run side by side as processes (0: one per thread, at most one per seed)

  std::int64_t seed_count() const { return seeds > 0 ? seeds : quick ? 3 : 5; }
  // Seeds side by side for a lab of `threads` threads: --jobs, or one per
  // thread, at most one per seed.
  std::int64_t jobs_for(int threads) const {
    return std::max<std::int64_t>(1, std::min<std::int64_t>(jobs > 0 ? jobs : threads, seed_count()));
  }
  // Whether the last seed runs alone in the main process with all its
  // threads, after the others ran `jobs` at a time: when it would otherwise
  // run beside fewer than jobs - 1 others (5 seeds 2 at a time: seed 5 would
  // use 1 of 2 threads while the other idled). The bits are the same.
  static bool last_seed_alone(std::int64_t seeds, std::int64_t jobs) { return jobs > 1 && seeds > 1 && seeds % jobs == 1; }
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
  // Where this run writes its CSV files: a folder of its own for each seed.
  std::string path(const std::string& file) const { return options.out_dir + "/" + file; }
  // Where the report's files are once the seeds are merged: a plot script
  // names its data and image with these (the plot is drawn from the merged
  // CSV files, seeds.hpp).
  std::string report_file(const std::string& file) const { return report_dir + "/" + file; }
  std::string report_dir = options.out_dir;
};

// A claim an experiment checks: in one seed's run, the value whose sign says
// whether it held there; once merged, the verdict over the seeds and what
// was measured (the text after the verdict's head).
struct Claim {
  std::string title;  // the claim as users hear it, "BN allows higher learning rates"
  double value = 0;   // this run's: the claim holds when it is > 0
  std::string verdict, measured;  // set by merge_sections
};

// A plot to draw once the seeds' CSV files are merged.
struct Plot {
  std::string name, png_file;  // for the report's Markdown
  std::string script_path, script;
};

// What one run of an experiment gives. Its numbers vary with the seed: the
// runs over seeds are merged into one section (seeds.hpp), where a number
// that differs between seeds becomes its mean and 95% interval, each claim's
// verdict comes from the interval of its per-seed values, and the plots are
// drawn from the merged data.
struct Section {
  std::string markdown;  // "## title", what was run, tables, plots, the published result beside
  std::string printed;   // the table(s) for the terminal
  std::vector<Claim> claims;
  std::vector<Plot> plots;

  // The start of the verdict line of claim `title` ("Measured here: agrees
  // with the paper: "), decided over seeds by the interval of `difference`:
  // the claim is that it is positive (a difference of means paired by seed,
  // a log ratio, ...). What was measured follows it, to the blank line.
  std::string claim(const std::string& title, double difference);
  // The same for a claim that holds or not in each run (a vote of +1 or -1):
  // it agrees or disagrees only when every seed says the same.
  std::string claim_holds(const std::string& title, bool holds) { return claim(title, holds ? 1.0 : -1.0); }
  // The Markdown for a plot that `script` draws (gnuplot, report/gnuplot.hpp).
  std::string plot(const std::string& name, const std::string& png_file, const std::string& script_path,
                   const std::string& script);
};

struct Experiment {
  const char* name;
  const char* what;  // one line for usage and the report
  Section (*run)(const Context&);
  // Ranks it runs on under mpirun (0: one process, and part of `all`).
  int ranks = 0;
  // One seed's wall time with 2 threads on this project's 2-core machine
  // (AMD EPYC, Zen 4), quick and full: what --budget plans with.
  int quick_seconds = 0, full_seconds = 0;
};

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
