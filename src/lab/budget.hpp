// `normkit lab all --budget MINUTES`: quick or full mode per experiment, to
// fit a time budget, from each experiment's measured time for one seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lab.hpp"

namespace normkit::lab {

// One seed in a child process of one thread takes this much longer than in
// one process of two threads. Measured on this project's 2-core machine, it
// depends on the network: 1.25 for the small MLP and CNN (the quick
// convergence and eval-bug before VGG-8: 2 seeds side by side in 19.2 s, one
// seed with 2 threads in 15.5 s), 1.8 once VGG-8's convolutions dominate
// (39 s and 22 s); the middle is what --budget plans with.
inline constexpr double kOneThreadSlowdown = 1.5;

// The expected wall time of `e` in quick or full mode over `seeds` seeds run
// `jobs` at a time, from its time for one seed with 2 threads.
double expected_seconds(const Experiment& e, bool quick, std::int64_t seeds, std::int64_t jobs);

struct PlannedRun {
  Experiment experiment;
  bool quick = true;
  std::int64_t seeds = 0, jobs = 1;
  double seconds = 0;  // expected
};

struct Plan {
  std::vector<PlannedRun> runs;  // in the order given
  double seconds = 0;            // expected in all
  bool fits = true;              // false when even every experiment quick exceeds the budget
  std::string text() const;      // a table of the choices, for the terminal and the report
};

// Every experiment quick, then, cheapest extra time first, full while the
// total stays within `budget_seconds`. `options` gives --seeds (0: each
// mode's default) and --jobs; `threads` the lab's threads.
Plan plan_for_budget(const std::vector<Experiment>& chosen, const LabOptions& options, int threads,
                     double budget_seconds);

}  // namespace normkit::lab
