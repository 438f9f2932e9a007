// Running one lab experiment over its seeds: one after another in this
// process, or side by side as child processes of one thread each, then
// merged into one section (lab/seeds.hpp).
#pragma once

#include <cstdint>
#include <string>

#include "lab/lab.hpp"

namespace normkit::cli {

// How many seeds run side by side: --jobs, or one per thread the lab has (a
// 2-core machine trains two small networks in two processes of one thread
// faster than one network in two threads), at most one per seed. Under
// mpirun (ranks > 1) the seeds run one after another.
std::int64_t seed_jobs(const lab::LabOptions& options, int ranks);

// "seeds 1 to 3, 2 at a time as processes of 1 thread, seed 3 alone in the
// main process", for the report.
std::string seeds_text(const lab::LabOptions& options, std::int64_t jobs);

// Runs experiment `e` once per seed, each run writing into a folder of its
// own under OUT/seeds/NAME (only the first rank writes), and merges the runs
// into OUT (removing the folders). With jobs > 1 the seeds run `jobs` at a
// time as child processes of one thread (a new one starts as soon as one
// ends), except a last seed that would run beside fewer than `jobs` - 1
// others: it runs after them in this process with all its threads (the
// bits do not depend on the thread count). An Error names the seeds whose
// run failed.
lab::Section run_over_seeds(const lab::Experiment& e, const lab::Context& ctx, std::int64_t jobs);

}  // namespace normkit::cli
