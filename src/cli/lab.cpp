// normkit lab NAME|all [--quick] [--seeds N] [--out DIR]: runs lab
// experiments over seeds, writes their merged CSV files, PNG plots and
// DIR/report.md, and prints their tables.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "distributed.hpp"
#include "bench/harness.hpp"
#include "lab/budget.hpp"
#include "lab/lab.hpp"
#include "lab_seeds.hpp"
#include "normkit/error.hpp"
#include "normkit/threading.hpp"
#include "normkit/version.hpp"
#include "options.hpp"
#include "report/table.hpp"

namespace normkit::cli {

extern const char* const kCommit;  // generated/commit.cpp (cmake/commit.cmake)

namespace {

// What produced a report, for its first lines: the command, normkit's
// version and commit, the machine, threads, ranks, mode, seeds and wall time.
std::string provenance(const std::string& command, const lab::LabOptions& options, const std::string& modes,
                       const std::string& seeds, int ranks, double seconds) {
  const bench::Machine machine = bench::Machine::this_one();
  const auto mib = [](std::int64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; };
  std::string text = "Produced by `" + command + "` (" + modes + ") with normkit " + kVersion + ", commit " + kCommit +
                     ", in " + std::to_string(static_cast<long long>(seconds + 0.5)) + " s on " + machine.cpu +
                     " (L2 " + mib(machine.l2) + " per core, L3 " + mib(machine.l3) + "), " + machine.simd_path +
                     " kernels, " + std::to_string(normkit::num_threads()) + " threads" +
                     (ranks > 1 ? " on each of " + std::to_string(ranks) + " MPI ranks" : "") + "; " + seeds;
  if (options.limit > 0) text += "; at most " + std::to_string(options.limit) + " training images per run";
  if (options.test_limit > 0) text += "; at most " + std::to_string(options.test_limit) + " test images";
  return text + ".\n\n";
}

// Runs the planned experiments (each in its mode, over its seeds) into one
// report. `budget`: the --budget line when the modes were chosen for one.
int run_experiments(const std::string& command, const std::vector<lab::PlannedRun>& plan, const lab::LabOptions& options,
                    const std::string& budget, const std::string& data_dir,
                    const std::function<std::unique_ptr<train::BatchShare>(nn::Sequential&, bool)>& parallel,
                    int rank, int ranks) {
  // Under mpirun every rank runs the experiments; the first prints and writes.
  const bool lead = rank == 0;
  if (lead) std::filesystem::create_directories(options.out_dir);
  const io::FashionMnist data = io::load_fashion_mnist(data_dir);
  const lab::Context ctx{data, options,
                         [lead](const std::string& line) {
                           if (!lead) return;
                           std::printf("  %s\n", line.c_str());
                           std::fflush(stdout);
                         },
                         parallel, rank, ranks};
  // The report's first line says the mode and the seeds once when every
  // experiment ran the same way, and each section says its own otherwise.
  const bool mixed = std::any_of(plan.begin(), plan.end(), [&](const lab::PlannedRun& r) { return r.quick != plan[0].quick; });
  std::string sections, seeds, claims;
  const auto start = std::chrono::steady_clock::now();
  for (const lab::PlannedRun& run : plan) {
    const lab::Experiment& e = run.experiment;
    lab::Context run_ctx = ctx;
    run_ctx.options.quick = run.quick;
    const std::int64_t jobs = seed_jobs(run_ctx.options, ranks);
    const std::string mode = run.quick ? "quick" : "full";
    if (lead) std::printf("normkit lab %s%s\n", e.name, run.quick ? " (quick)" : "");
    std::fflush(stdout);
    const auto t0 = std::chrono::steady_clock::now();
    const lab::Section section = run_over_seeds(e, run_ctx, jobs);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string how = mixed ? ", " + mode + " mode, " + seeds_text(run_ctx.options, jobs) : "";
    sections += section.markdown + "(" + e.name + how + ": " + std::to_string(static_cast<long long>(seconds + 0.5)) +
                " s)\n\n";
    if (seeds.empty() || !mixed) seeds = seeds_text(run_ctx.options, jobs);
    for (const lab::Claim& c : section.claims)
      claims += "| " + report::markdown_cell(c.title) + " | " + e.name + " | " + c.verdict + " | " +
                report::markdown_cell(c.measured) + " |\n";
    if (lead) std::printf("\n%s\n(%s: %.0f s)\n\n", section.printed.c_str(), e.name, seconds);
    std::fflush(stdout);
  }
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!lead) return 0;
  const std::string modes = mixed ? "quick or full per experiment, " + budget : plan[0].quick ? "quick mode" : "full mode";
  if (mixed) seeds = "seeds from " + std::to_string(options.seed) + ", per experiment as its section says";
  const std::string report_path = options.out_dir + "/report.md";
  const std::string produced = provenance(command, options, modes, seeds, ranks, total);
  std::ofstream(report_path) << "# normkit lab report\n\n" << produced << sections;
  // Every claim the experiments checked, one row each (docs/claims.md gathers the full reports').
  std::ofstream(options.out_dir + "/claims.md")
      << "# The claims measured in this report\n\n" << produced
      << "| claim | experiment | verdict | measured here |\n|---|---|---|---|\n" << claims;
  std::printf("report: %s (%.0f s in all)\n", report_path.c_str(), total);
  return 0;
}

struct LabArgs {
  std::string name;  // NAME[,NAME...] or all
  lab::LabOptions options;
  double budget_minutes = 0;  // 0: every experiment in the mode --quick says
  std::string data_dir = io::kDefaultFashionMnistDir;
};

// The experiments NAME chooses (one, several joined by commas, or all in the
// report's order; the ones that run on several ranks only by name, alone),
// or an Error saying what is wrong with NAME.
std::vector<lab::Experiment> chosen_experiments(const std::string& name) {
  std::vector<lab::Experiment> chosen;
  for (std::size_t start = 0; start <= name.size();) {
    const std::size_t comma = std::min(name.find(',', start), name.size());
    const std::string one = name.substr(start, comma - start);
    bool known = false;
    for (const lab::Experiment& e : lab::experiments())
      if ((one == "all" && e.ranks == 0) || one == e.name) chosen.push_back(e), known = true;
    NORMKIT_CHECK(known, "unknown experiment '", one, "'");
    start = comma + 1;
  }
  for (const lab::Experiment& e : chosen)
    NORMKIT_CHECK(e.ranks == 0 || chosen.size() == 1, e.name, " runs on several ranks: run it on its own");
  return chosen;
}

// The command line as typed, the program named "normkit".
std::string command_line(const std::vector<std::string>& argv) {
  std::string text = "normkit";
  for (std::size_t i = 1; i < argv.size(); ++i) text += " " + argv[i];
  return text;
}

// Each chosen experiment in the mode --quick says, or, with --budget, quick
// or full as the plan for the budget chose (printed before anything runs).
std::vector<lab::PlannedRun> planned_runs(const LabArgs& a, const std::vector<lab::Experiment>& chosen,
                                          std::string& budget) {
  if (a.budget_minutes <= 0) {
    std::vector<lab::PlannedRun> plan;
    for (const lab::Experiment& e : chosen) plan.push_back({e, a.options.quick});
    return plan;
  }
  NORMKIT_CHECK(!a.options.quick, "--budget chooses the mode of each experiment: leave out --quick");
  const lab::Plan plan = lab::plan_for_budget(chosen, a.options, normkit::num_threads(), 60 * a.budget_minutes);
  char line[128];
  std::snprintf(line, sizeof line, "chosen for a budget of %g minutes (expected: %.0f)", a.budget_minutes,
                plan.seconds / 60);
  budget = line;
  std::printf("normkit lab: the plan for a budget of %g minutes:\n%s", a.budget_minutes, plan.text().c_str());
  std::fflush(stdout);
  return plan.runs;
}

int run_lab(const LabArgs& a, const std::vector<std::string>& argv) {
  const std::vector<lab::Experiment> chosen = chosen_experiments(a.name);
  const std::string command = command_line(argv);
  std::string budget;
  const std::vector<lab::PlannedRun> plan = planned_runs(a, chosen, budget);
  // One process: no MPI is started.
  if (chosen.front().ranks == 0) return run_experiments(command, plan, a.options, budget, a.data_dir, {}, 0, 1);
  const lab::Experiment& on_ranks = chosen.front();
  if (!built_with_mpi()) throw Error(without_mpi_message("lab " + std::string(on_ranks.name)));
  if (!under_mpirun()) return start_on_ranks(on_ranks.ranks, std::vector<std::string>(argv.begin() + 1, argv.end()));
  return run_as_rank("lab", [&] {
    return run_experiments(command, plan, a.options, budget, a.data_dir, data_parallel, rank(), ranks());
  });
}

}  // namespace

Command add_lab(CLI::App& app, const std::vector<std::string>& argv) {
  std::string names;
  for (const lab::Experiment& e : lab::experiments()) names += std::string("  ") + e.name + ": " + e.what + "\n";
  CLI::App* sub = app.add_subcommand("lab", "experiments on what normalization does to training");
  sub->footer("experiments:\n" + names);
  auto args = std::make_shared<LabArgs>();
  sub->add_option("NAME", args->name, "an experiment, several joined by commas, or all")
      ->required()
      ->check(CLI::Validator(
          [](std::string& name) {
            try {
              chosen_experiments(name);
            } catch (const Error& e) {
              return std::string(e.what());
            }
            return std::string();
          },
          ""))
      ->type_name("NAME[,NAME...]|all");
  sub->add_flag("--quick", args->options.quick, "the short run (about 2 minutes an experiment); without it, the fuller run");
  sub->add_option("--out", args->options.out_dir, "where the CSV files, plots and report.md go")
      ->type_name("DIR")
      ->capture_default_str();
  sub->add_option("--data", args->data_dir, "the Fashion-MNIST directory")->type_name("DIR")->capture_default_str();
  add_integer(*sub, "--limit", args->options.limit, "at most N training images per run (a smoke test; 0: all)",
              AtLeast{0});
  add_integer(*sub, "--test-limit", args->options.test_limit, "at most N test images (0: all)", AtLeast{0});
  add_integer(*sub, "--seed", args->options.seed, "the first seed (the runs use seeds SEED, SEED + 1, ...)");
  add_integer(*sub, "--seeds", args->options.seeds,
              "run every arm with N seeds and report means with 95% intervals (default: 3 with --quick, 5 without)",
              AtLeast{1});
  add_integer(*sub, "--jobs", args->options.jobs,
              "run N seeds side by side as processes of one thread each (default: one per thread, at most one per seed)",
              AtLeast{1});
  add_number(*sub, "--budget", args->budget_minutes,
             "choose quick or full mode per experiment to fit about MINUTES on this machine (the plan is printed)",
             true)
      ->type_name("MINUTES");
  return {sub, [args, argv] { return run_lab(*args, argv); }};
}

}  // namespace normkit::cli
