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

#include "args.hpp"
#include "commands.hpp"
#include "distributed.hpp"
#include "lab/lab.hpp"
#include "normkit/error.hpp"
#include "normkit/threading.hpp"

namespace normkit::cli {
namespace {

[[noreturn]] void usage_error(const std::string& message) {
  std::string names;
  for (const lab::Experiment& e : lab::experiments()) names += std::string("  ") + e.name + ": " + e.what + "\n";
  std::fprintf(stderr,
               "normkit lab: %s\n"
               "usage: normkit lab NAME[,NAME...]|all [--quick] [--out DIR] [--data DIR] [--limit N] [--test-limit N] [--seed S]\n"
               "experiments:\n%s"
               "  --quick: the short run (about 2 minutes an experiment); without it, the fuller run\n"
               "  --out: where the CSV files, plots and report.md go (default lab-report)\n"
               "  --limit, --test-limit: at most N training / test images per run (a smoke test)\n",
               message.c_str(), names.c_str());
  std::exit(2);
}

int run_experiments(const std::string& name, const std::vector<lab::Experiment>& chosen,
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
  std::string report = "# normkit lab report\n\n";
  report += std::string("Mode: ") + (options.quick ? "quick" : "full") + "; " + std::to_string(normkit::num_threads()) +
            " threads" + (ranks > 1 ? " on each of " + std::to_string(ranks) + " MPI ranks" : "") + "; seed " +
            std::to_string(options.seed) +
            (options.limit > 0 ? "; at most " + std::to_string(options.limit) + " training images per run" : "") +
            (options.test_limit > 0 ? "; at most " + std::to_string(options.test_limit) + " test images" : "") +
            ". Written by `normkit lab " + name + (options.quick ? " --quick" : "") + "`.\n\n";
  const auto start = std::chrono::steady_clock::now();
  for (const lab::Experiment& e : chosen) {
    if (lead) std::printf("normkit lab %s%s\n", e.name, options.quick ? " (quick)" : "");
    std::fflush(stdout);
    const auto t0 = std::chrono::steady_clock::now();
    const lab::Section section = e.run(ctx);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    report += section.markdown + "(" + e.name + ": " + std::to_string(static_cast<long long>(seconds + 0.5)) + " s)\n\n";
    if (lead) std::printf("\n%s\n(%s: %.0f s)\n\n", section.printed.c_str(), e.name, seconds);
    std::fflush(stdout);
  }
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!lead) return 0;
  const std::string report_path = options.out_dir + "/report.md";
  std::ofstream(report_path) << report;
  std::printf("report: %s (%.0f s in all)\n", report_path.c_str(), total);
  return 0;
}

}  // namespace

int run_lab(int argc, char** argv) {
  if (argc < 2) usage_error("which experiment?");
  const std::string name = argv[1];
  lab::LabOptions options;
  std::string data_dir = io::kDefaultFashionMnistDir;
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--quick") {
      options.quick = true;
      continue;
    }
    if (i + 1 >= argc) usage_error(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--out") options.out_dir = value;
    else if (flag == "--data") data_dir = value;
    else if (flag == "--limit") options.limit = parse_integer(flag, value, usage_error);
    else if (flag == "--test-limit") options.test_limit = parse_integer(flag, value, usage_error);
    else if (flag == "--seed") options.seed = static_cast<std::uint64_t>(parse_integer(flag, value, usage_error));
    else usage_error("unknown option '" + flag + "'");
  }
  // NAME: one experiment, several joined by commas, or all (in the report's
  // order; the ones that run on several ranks only by name).
  std::vector<lab::Experiment> chosen;
  for (std::size_t start = 0; start <= name.size();) {
    const std::size_t comma = std::min(name.find(',', start), name.size());
    const std::string one = name.substr(start, comma - start);
    bool known = false;
    for (const lab::Experiment& e : lab::experiments())
      if ((one == "all" && e.ranks == 0) || one == e.name) chosen.push_back(e), known = true;
    if (!known) usage_error("unknown experiment '" + one + "'");
    start = comma + 1;
  }
  if (options.limit < 0 || options.test_limit < 0) usage_error("--limit and --test-limit: expected >= 0");
  const auto on_ranks = std::find_if(chosen.begin(), chosen.end(), [](const lab::Experiment& e) { return e.ranks > 0; });
  // One process: no MPI is started.
  if (on_ranks == chosen.end()) return run_experiments(name, chosen, options, data_dir, {}, 0, 1);
  if (chosen.size() > 1) usage_error(std::string(on_ranks->name) + " runs on several ranks: run it on its own");
  if (!built_with_mpi()) usage_error(without_mpi_message("lab " + std::string(on_ranks->name)));
  if (!under_mpirun()) return start_on_ranks(on_ranks->ranks, argc, argv);
  return run_as_rank("lab", [&] { return run_experiments(name, chosen, options, data_dir, data_parallel, rank(), ranks()); });
}

}  // namespace normkit::cli
