// `normkit bench`: normkit's kernels against the copy bandwidth of this
// machine and against the peers (PyTorch, oneDNN) whose plugins were built,
// in one run, interleaved, with the same thread counts.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/cases.hpp"
#include "bench/harness.hpp"
#include "commands.hpp"
#include "normkit/threading.hpp"

namespace normkit::cli {
namespace {

namespace fs = std::filesystem;

struct BenchArgs {
  bool quick = false;
  std::vector<int> threads{1, 2};
  std::string out = "bench-results";
  double budget_s = 0.25;  // per case and thread count
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr,
               "normkit bench: %s\n"
               "usage: normkit bench [--quick] [--threads 1,2] [--out DIR] [--budget SECONDS]\n",
               message.c_str());
  std::exit(2);
}

BenchArgs parse(int argc, char** argv) {
  BenchArgs args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--quick") {
      args.quick = true;
    } else if (a == "--threads") {
      args.threads.clear();
      std::string list = value();
      for (std::size_t pos = 0; pos <= list.size();) {
        const std::size_t comma = std::min(list.find(',', pos), list.size());
        const int n = std::atoi(list.substr(pos, comma - pos).c_str());
        if (n < 1) usage_error("--threads: expected positive integers, got '" + list + "'");
        args.threads.push_back(n);
        pos = comma + 1;
      }
    } else if (a == "--out") {
      args.out = value();
    } else if (a == "--budget") {
      args.budget_s = std::atof(value().c_str());
      if (args.budget_s <= 0) usage_error("--budget: expected a positive number of seconds");
    } else {
      usage_error("unknown option '" + a + "'");
    }
  }
  return args;
}

// The peer plugins next to the executable (build/bench/peers/*.so).
std::vector<bench::Peer*> load_peers(std::vector<std::string>& notes) {
  std::vector<bench::Peer*> peers;
  const fs::path exe = fs::read_symlink("/proc/self/exe");
  const fs::path dir = exe.parent_path() / "bench" / "peers";
  if (!fs::is_directory(dir)) {
    notes.push_back("no peer plugins in " + dir.string() + " (build with libtorch-dev / libdnnl-dev installed)");
    return peers;
  }
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".so") continue;
    void* handle = dlopen(entry.path().c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      notes.push_back("peer " + entry.path().filename().string() + " skipped: " + dlerror());
      continue;
    }
    auto factory = reinterpret_cast<bench::PeerFactory>(dlsym(handle, "normkit_bench_peer"));
    if (factory == nullptr) {
      notes.push_back("peer " + entry.path().filename().string() + " skipped: no normkit_bench_peer");
      continue;
    }
    peers.push_back(factory());
    notes.push_back("peer " + peers.back()->name() + " loaded from " + entry.path().filename().string());
  }
  return peers;
}

}  // namespace

int run_bench(int argc, char** argv) {
  const BenchArgs args = parse(argc, argv);
  bench::Report report;
  report.threads = args.threads;
  std::vector<bench::Peer*> peers = load_peers(report.notes);
  for (int threads : args.threads) {
    set_num_threads(threads);
    report.copy_gbps.push_back(bench::copy_bandwidth_gbps(args.quick ? std::int64_t{1} << 25 : std::int64_t{1} << 28));
  }
  const bench::CaseSet set = bench::make_cases(peers, args.quick);
  for (int threads : args.threads) {
    for (bench::Peer* peer : peers) peer->set_num_threads(threads);
    for (const bench::Case& c : set.cases) {
      report.rows.push_back(bench::time_case(c, threads, args.quick ? 3 : 5, args.quick ? 0.02 : args.budget_s));
      std::fprintf(stderr, "\r%zu/%zu", report.rows.size(), set.cases.size() * args.threads.size());
    }
  }
  std::fprintf(stderr, "\n");
  bench::print_table(report);
  fs::create_directories(args.out);
  bench::write_csv(report, (fs::path(args.out) / "bench.csv").string());
  bench::write_json(report, (fs::path(args.out) / "bench.json").string());
  std::printf("\nwrote %s/bench.csv and %s/bench.json\n", args.out.c_str(), args.out.c_str());
  return 0;
}

}  // namespace normkit::cli
