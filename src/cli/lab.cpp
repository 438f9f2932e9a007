// normkit lab NAME|all [--quick] [--out DIR]: runs lab experiments, writes
// their CSV files, PNG plots and DIR/report.md, and prints their tables.
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
#include "lab/lab.hpp"
#include "normkit/error.hpp"
#include "normkit/threading.hpp"
#include "normkit/version.hpp"
#include "options.hpp"

namespace normkit::cli {

extern const char* const kCommit;  // generated/commit.cpp (cmake/commit.cmake)

namespace {

// What produced a report, for its first lines: the command, normkit's
// version and commit, the machine, threads, ranks, seed, mode and wall time.
std::string provenance(const std::string& command, const lab::LabOptions& options, int ranks, double seconds) {
  const bench::Machine machine = bench::Machine::this_one();
  const auto mib = [](std::int64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; };
  std::string text = "Produced by `" + command + "` (" + std::string(options.quick ? "quick" : "full") +
                     " mode) with normkit " + kVersion + ", commit " + kCommit + ", in " +
                     std::to_string(static_cast<long long>(seconds + 0.5)) + " s on " + machine.cpu + " (L2 " +
                     mib(machine.l2) + " per core, L3 " + mib(machine.l3) + "), " + machine.simd_path + " kernels, " +
                     std::to_string(normkit::num_threads()) + " threads" +
                     (ranks > 1 ? " on each of " + std::to_string(ranks) + " MPI ranks" : "") + "; seed " +
                     std::to_string(options.seed);
  if (options.limit > 0) text += "; at most " + std::to_string(options.limit) + " training images per run";
  if (options.test_limit > 0) text += "; at most " + std::to_string(options.test_limit) + " test images";
  return text + ".\n\n";
}

int run_experiments(const std::string& command, const std::vector<lab::Experiment>& chosen,
                    const lab::LabOptions& options, const std::string& data_dir,
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
  std::string sections;
  const auto start = std::chrono::steady_clock::now();
  for (const lab::Experiment& e : chosen) {
    if (lead) std::printf("normkit lab %s%s\n", e.name, options.quick ? " (quick)" : "");
    std::fflush(stdout);
    const auto t0 = std::chrono::steady_clock::now();
    const lab::Section section = e.run(ctx);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sections += section.markdown + "(" + e.name + ": " + std::to_string(static_cast<long long>(seconds + 0.5)) + " s)\n\n";
    if (lead) std::printf("\n%s\n(%s: %.0f s)\n\n", section.printed.c_str(), e.name, seconds);
    std::fflush(stdout);
  }
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!lead) return 0;
  const std::string report_path = options.out_dir + "/report.md";
  std::ofstream(report_path) << "# normkit lab report\n\n" << provenance(command, options, ranks, total) << sections;
  std::printf("report: %s (%.0f s in all)\n", report_path.c_str(), total);
  return 0;
}

struct LabArgs {
  std::string name;  // NAME[,NAME...] or all
  lab::LabOptions options;
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

int run_lab(const LabArgs& a, const std::vector<std::string>& argv) {
  const std::vector<lab::Experiment> chosen = chosen_experiments(a.name);
  const std::string command = command_line(argv);
  // One process: no MPI is started.
  if (chosen.front().ranks == 0) return run_experiments(command, chosen, a.options, a.data_dir, {}, 0, 1);
  const lab::Experiment& on_ranks = chosen.front();
  if (!built_with_mpi()) throw Error(without_mpi_message("lab " + std::string(on_ranks.name)));
  if (!under_mpirun()) return start_on_ranks(on_ranks.ranks, std::vector<std::string>(argv.begin() + 1, argv.end()));
  return run_as_rank("lab", [&] {
    return run_experiments(command, chosen, a.options, a.data_dir, data_parallel, rank(), ranks());
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
  add_integer(*sub, "--seed", args->options.seed, "the seed of every run");
  return {sub, [args, argv] { return run_lab(*args, argv); }};
}

}  // namespace normkit::cli
