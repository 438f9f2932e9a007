// `normkit bench`: normkit's kernels against the copy bandwidth of this
// machine and against the peers (PyTorch, oneDNN) whose plugins were built,
// in one run, interleaved, with the same thread counts.
#include <dlfcn.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/cases.hpp"
#include "bench/harness.hpp"
#include "bench/sweep.hpp"
#include "commands.hpp"
#include "options.hpp"
#include "normkit/threading.hpp"

#include <nlohmann/json.hpp>

namespace normkit::cli {
namespace {

namespace fs = std::filesystem;

struct BenchArgs {
  bool quick = false;
  std::vector<int> threads{1, 2};
  std::string out = "bench-results";
  double budget_s = 0.25;  // per case and thread count
  std::string filter;      // only the cases whose "op shape" contains this (no sweep then)
  int repeat = 1;          // passes of the whole run, reported as medians
  // Internal: a child process times only this plugin and writes its rows.
  std::string only_peer, child_out;
};

std::string threads_text(const std::vector<int>& threads) {
  std::string text;
  for (int n : threads) text += (text.empty() ? "" : ",") + std::to_string(n);
  return text;
}

fs::path peer_dir() { return fs::read_symlink("/proc/self/exe").parent_path() / "bench" / "peers"; }

// The files of the peer folder next to the executable (build/bench/peers)
// with this extension, sorted: ".so" for the plugins, ".command" for the
// peers run as commands (run_command_peer).
std::vector<fs::path> list_peers(const std::string& extension) {
  std::vector<fs::path> peers;
  if (fs::is_directory(peer_dir()))
    for (const auto& entry : fs::directory_iterator(peer_dir()))
      if (entry.path().extension() == extension) peers.push_back(entry.path());
  std::sort(peers.begin(), peers.end());
  return peers;
}

bench::Peer* load_plugin(const fs::path& path, std::vector<std::string>& notes) {
  // RTLD_DEEPBIND: a plugin binds to its own libraries first (the PyPI oneDNN
  // plugin to oneDNN 3, not to the Debian oneDNN 2 that normkit links).
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (handle == nullptr) {
    notes.push_back("peer " + path.filename().string() + " skipped: " + dlerror());
    return nullptr;
  }
  auto factory = reinterpret_cast<bench::PeerFactory>(dlsym(handle, "normkit_bench_peer"));
  if (factory == nullptr) {
    notes.push_back("peer " + path.filename().string() + " skipped: no normkit_bench_peer");
    return nullptr;
  }
  bench::Peer* peer = factory();
  notes.push_back(std::string("peer ") + peer->name() + " loaded from " + path.filename().string());
  return peer;
}

// Two PyTorch builds cannot share a process (their libraries clash): the
// first PyTorch plugin runs here with the others, each further one in child
// processes of its own (one per thread count, as every child).
bool is_torch(const fs::path& p) { return p.filename().string().find("torch") != std::string::npos; }

// A plugin with a .env file beside it needs that environment when its
// process starts (lines KEY=VALUE; ${THREADS} is the thread count): it runs
// in a child process per thread count.
std::vector<std::string> plugin_environment(const fs::path& plugin) {
  std::vector<std::string> env;
  std::ifstream in(fs::path(plugin).replace_extension(".env"));
  for (std::string line; std::getline(in, line);)
    if (line.find('=') != std::string::npos) env.push_back(line);
  return env;
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

// Adds a child process's peer timings (with speed-ups measured against normkit
// in that process) and its notes to the report, and removes its file.
void merge_child_report(const std::string& peer, const fs::path& out, bench::Report& report) {
  bench::Report child;
  try {
    child = bench::read_json(out.string());
  } catch (const std::exception& e) {
    report.notes.push_back("peer " + peer + ": its child's report is unreadable: " + e.what());
    fs::remove(out);
    return;
  }
  fs::remove(out);
  for (const std::string& line : child.notes) {
    const std::string note = line + " (own process)";
    if (std::find(report.notes.begin(), report.notes.end(), note) == report.notes.end())
      report.notes.push_back(note);  // once, for a plugin run once per thread count
  }
  // The child's peer timings; its own normkit variants (normkit-unfused)
  // are this process's too.
  for (const bench::Row& theirs : child.rows)
    for (bench::Row& row : report.rows)
      if (row.op == theirs.op && row.shape == theirs.shape && row.threads == theirs.threads)
        for (auto t = theirs.timings.begin() + 1; t != theirs.timings.end(); ++t)
          if (t->impl.rfind("normkit", 0) != 0) row.timings.push_back(*t);
}

// Runs `normkit bench` for one plugin in a child process, with `threads`
// and the environment `env`, and adds its peer timings (with speed-ups
// measured against normkit in that process) to rows.
void run_child(const BenchArgs& args, const fs::path& plugin, const std::string& threads,
               const std::vector<std::string>& env, bench::Report& report) {
  const fs::path out = fs::temp_directory_path() / ("normkit-bench-" + std::to_string(getpid()) + "-" +
                                                    plugin.stem().string() + ".json");
  std::string command = "env";
  for (std::string assignment : env) {
    for (std::size_t pos; (pos = assignment.find("${THREADS}")) != std::string::npos;)
      assignment.replace(pos, 10, threads);
    command += " " + shell_quote(assignment);
  }
  command += " " + shell_quote(fs::read_symlink("/proc/self/exe").string()) + " bench --threads " + threads +
             " --budget " + std::to_string(args.budget_s) + " --only-peer " + shell_quote(plugin.string()) +
             " --child-out " + shell_quote(out.string()) + (args.quick ? " --quick" : "") +
             (args.filter.empty() ? "" : " --filter " + shell_quote(args.filter));
  if (std::system(command.c_str()) != 0) {
    report.notes.push_back("peer " + plugin.filename().string() + " failed in its child process");
    return;
  }
  merge_child_report(plugin.filename().string(), out, report);
}

// A peer outside C++ (bench/peers/ort_peer.py): a .command file in the peer
// folder holds the command line that runs it; it gets the cases as JSON, a
// thread count, the time budget per case and where to write its report.
void run_command_peer(const BenchArgs& args, const fs::path& peer, const std::vector<bench::Case>& cases,
                      int threads, bench::Report& report) {
  std::ifstream in(peer);
  std::string command;
  std::getline(in, command);
  const std::string stem = "normkit-bench-" + std::to_string(getpid()) + "-" + peer.stem().string();
  const fs::path cases_path = fs::temp_directory_path() / (stem + "-cases.json");
  const fs::path out = fs::temp_directory_path() / (stem + ".json");
  nlohmann::json list = nlohmann::json::array();
  for (const bench::Case& c : cases)
    list.push_back({{"op", c.peer_op}, {"title", c.op}, {"label", c.shape}, {"shape", c.dims},
                    {"channels_last", c.channels_last}, {"groups", c.groups}, {"dtype", c.dtype},
                    {"in_cache", bench::fits_a_cache(c.working_set)}});
  std::ofstream(cases_path) << list.dump() << '\n';
  command += " " + shell_quote(cases_path.string()) + " " + std::to_string(threads) + " " +
             std::to_string(args.budget_s) + " " + shell_quote(out.string());
  const int status = std::system(command.c_str());
  fs::remove(cases_path);
  if (status != 0) {
    report.notes.push_back("peer " + peer.filename().string() + " failed: " + command);
    return;
  }
  merge_child_report(peer.filename().string(), out, report);
}

// A peer's process that times fewer threads than the CPUs it may run on is
// held to the first `threads` of them, normkit's threads and the peer's
// alike. Unpinned, oneDNN 3.13's one-thread LayerNorm 8192x768 (its kernel
// runs on a SYCL runtime's thread, not the caller's) took 1.4-1.7 ms in some
// processes and 3.2-5.3 ms in others on a 2-vCPU VM; held to one CPU, 1.2-1.4
// ms in every one of six. Each process times one thread count.
void pin_to_first_cpus(int threads) {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || threads >= CPU_COUNT(&allowed)) return;
  cpu_set_t first;
  CPU_ZERO(&first);
  for (int cpu = 0, kept = 0; cpu < CPU_SETSIZE && kept < threads; ++cpu)
    if (CPU_ISSET(cpu, &allowed)) {
      CPU_SET(cpu, &first);
      ++kept;
    }
  sched_setaffinity(0, sizeof first, &first);
}

int run_bench(const BenchArgs& args) {
  const bool child = !args.child_out.empty();
  if (child && args.threads.size() == 1) pin_to_first_cpus(args.threads.front());
  bench::Report report;
  report.threads = args.threads;

  // Which plugins run here, and which in child processes.
  std::vector<fs::path> here, elsewhere;
  if (child) {
    here.push_back(args.only_peer);
  } else {
    bool torch_here = false;
    for (const fs::path& p : list_peers(".so")) {
      if ((is_torch(p) && torch_here) || !plugin_environment(p).empty()) {
        elsewhere.push_back(p);
        continue;
      }
      torch_here = torch_here || is_torch(p);
      here.push_back(p);
    }
    if (here.empty())
      report.notes.push_back("no peer plugins in " + peer_dir().string() +
                             " (scripts/install-bench-deps.sh, scripts/setup-bench-venv.sh, then rebuild)");
  }
  std::vector<bench::Peer*> peers;
  for (const fs::path& p : here)
    if (bench::Peer* peer = load_plugin(p, report.notes)) peers.push_back(peer);

  bench::CaseSet set = bench::make_cases(peers, args.quick, args.filter);
  report.machine = bench::Machine::this_one();
  if (!child) {
    // The limits: the copy bandwidth at each working-set size of the run.
    std::vector<std::int64_t> sizes;
    for (const bench::Case& c : set.cases) sizes.push_back(c.working_set);
    std::sort(sizes.begin(), sizes.end());
    sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
    for (int threads : args.threads) {
      set_num_threads(threads);
      for (std::int64_t bytes : sizes) report.limits.push_back({threads, bytes, bench::copy_bandwidth_gbps(bytes)});
    }
  }
  // One pass: every case at every thread count here, then the peers in
  // other processes.
  const auto run_pass = [&](bench::Report pass, int number) {
    for (int threads : args.threads) {
      for (bench::Peer* peer : peers) peer->set_num_threads(threads);
      for (const bench::Case& c : set.cases) {
        pass.rows.push_back(bench::time_case(c, threads, args.quick ? 3 : 5, args.quick ? 0.02 : args.budget_s));
        if (!child)
          std::fprintf(stderr, "\rpass %d of %d: %zu/%zu", number, args.repeat, pass.rows.size(),
                       set.cases.size() * args.threads.size());
      }
    }
    if (child) return pass;
    std::fprintf(stderr, "\n");
    for (const fs::path& p : list_peers(".command"))
      for (int threads : args.threads) run_command_peer(args, p, set.cases, threads, pass);
    for (const fs::path& p : elsewhere)
      for (int threads : args.threads) run_child(args, p, std::to_string(threads), plugin_environment(p), pass);
    return pass;
  };
  if (child) {
    bench::write_json(run_pass(report, 1), args.child_out);
    return 0;
  }
  std::vector<bench::Report> passes;
  for (int number = 1; number <= args.repeat; ++number) passes.push_back(run_pass(report, number));
  report = bench::median_of_passes(passes);
  bench::print_table(report);
  fs::create_directories(args.out);
  bench::write_csv(report, (fs::path(args.out) / "bench.csv").string());
  bench::write_json(report, (fs::path(args.out) / "bench.json").string());
  std::printf("\nwrote %s/bench.csv and %s/bench.json\n", args.out.c_str(), args.out.c_str());
  if (!args.filter.empty()) return 0;
  // The sweep with the largest thread count asked for, and the peers of this process.
  const int sweep_threads = *std::max_element(args.threads.begin(), args.threads.end());
  set_num_threads(sweep_threads);
  std::printf("%s\n", bench::run_sweep(peers, sweep_threads, args.out, args.quick).c_str());
  return 0;
}

}  // namespace

Command add_bench(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("bench", "kernels against the copy bandwidth and the peers (PyTorch, oneDNN)");
  sub->footer(
      "Peers are the plugins in build/bench/peers (scripts/install-bench-deps.sh,\n"
      "scripts/setup-bench-venv.sh, then rebuild).");
  auto args = std::make_shared<BenchArgs>();
  sub->add_flag("--quick", args->quick, "a few small cases, briefly (a smoke test)");
  sub->add_option_function<std::string>(
         "--threads",
         [args](const std::string& list) {
           args->threads.clear();
           for (std::size_t pos = 0; pos <= list.size();) {
             const std::size_t comma = std::min(list.find(',', pos), list.size());
             const std::int64_t n = parse_integer("--threads", list.substr(pos, comma - pos));
             if (n < 1 || n > 1024) throw CLI::ValidationError("--threads", "expected 1 to 1024 threads, got " + list);
             args->threads.push_back(static_cast<int>(n));
             pos = comma + 1;
           }
         },
         "thread counts, joined by commas")
      ->type_name("N,N,...")
      ->default_str(threads_text(args->threads));
  sub->add_option("--out", args->out, "where bench.csv, bench.json and the sweep go")->capture_default_str();
  add_number(*sub, "--budget", args->budget_s, "seconds of timing per case and thread count", true);
  sub->add_option("--filter", args->filter, "only the cases whose \"op shape\" contains TEXT (no sweep then)");
  sub->add_option("--repeat", args->repeat, "passes of the whole run; each time is the median over them")
      ->check(CLI::Range(1, 99))
      ->capture_default_str();
  // A child process of bench that times one peer plugin (not for users).
  sub->add_option("--only-peer", args->only_peer)->group("");
  sub->add_option("--child-out", args->child_out)->group("");
  return {sub, [args] { return run_bench(*args); }};
}

}  // namespace normkit::cli
