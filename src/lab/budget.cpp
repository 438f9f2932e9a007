#include "budget.hpp"

#include <algorithm>
#include <cstdio>

#include "normkit/error.hpp"

namespace normkit::lab {

double expected_seconds(const Experiment& e, bool quick, std::int64_t seeds, std::int64_t jobs) {
  const double one = quick ? e.quick_seconds : e.full_seconds;
  if (jobs <= 1) return one * static_cast<double>(seeds);
  if (LabOptions::last_seed_alone(seeds, jobs))
    return one * kOneThreadSlowdown * static_cast<double>(seeds / jobs) + one;
  const std::int64_t rounds = (seeds + jobs - 1) / jobs;
  return one * kOneThreadSlowdown * static_cast<double>(rounds);
}

namespace {

PlannedRun planned(const Experiment& e, bool quick, const LabOptions& options, int threads) {
  LabOptions mode = options;
  mode.quick = quick;
  PlannedRun run{e, quick, mode.seed_count(), mode.jobs_for(threads)};
  run.seconds = expected_seconds(e, quick, run.seeds, run.jobs);
  return run;
}

}  // namespace

Plan plan_for_budget(const std::vector<Experiment>& chosen, const LabOptions& options, int threads,
                     double budget_seconds) {
  NORMKIT_CHECK(budget_seconds > 0, "--budget: expected a positive number of minutes");
  Plan plan;
  std::vector<PlannedRun> full;
  for (const Experiment& e : chosen) {
    plan.runs.push_back(planned(e, true, options, threads));
    full.push_back(planned(e, false, options, threads));
    plan.seconds += plan.runs.back().seconds;
  }
  plan.fits = plan.seconds <= budget_seconds;
  const auto extra = [&](std::size_t i) { return full[i].seconds - plan.runs[i].seconds; };
  std::vector<std::size_t> order(chosen.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return extra(a) < extra(b); });
  for (const std::size_t i : order) {
    if (plan.seconds + extra(i) > budget_seconds) continue;
    plan.seconds += extra(i);
    plan.runs[i] = full[i];
  }
  return plan;
}

std::string Plan::text() const {
  std::string out;
  char line[160];
  for (const PlannedRun& r : runs) {
    std::snprintf(line, sizeof line, "  %-20s %-5s %2lld seeds, %lld at a time  ~%.0f min\n", r.experiment.name,
                  r.quick ? "quick" : "full", static_cast<long long>(r.seeds), static_cast<long long>(r.jobs),
                  r.seconds / 60);
    out += line;
  }
  std::snprintf(line, sizeof line, "  expected in all: ~%.0f min%s\n", seconds / 60,
                fits ? "" : " (more than the budget even with every experiment quick)");
  return out + line;
}

}  // namespace normkit::lab
