// `normkit bench`: normkit's kernels against the copy bandwidth of this
// machine and against the peers (PyTorch, oneDNN) whose plugins were built,
// in one run, interleaved, with the same thread counts.
#include <dlfcn.h>
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
#include "normkit/threading.hpp"

namespace normkit::cli {
namespace {

namespace fs = std::filesystem;

struct BenchArgs {
  bool quick = false;
  std::vector<int> threads{1, 2};
  std::string out = "bench-results";
  double budget_s = 0.25;  // per case and thread count
  std::string threads_arg = "1,2";
  std::string filter;  // only the cases whose "op shape" contains this (no sweep then)
  // Internal: a child process times only this plugin and writes its rows.
  std::string only_peer, child_out;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr,
               "normkit bench: %s\n"
               "usage: normkit bench [--quick] [--threads 1,2] [--out DIR] [--budget SECONDS] [--filter TEXT]\n"
               "Peers are the plugins in build/bench/peers (scripts/install-bench-deps.sh,\n"
               "scripts/setup-bench-venv.sh, then rebuild).\n",
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
      args.threads_arg = list;
      for (std::size_t pos = 0; pos <= list.size();) {
        const std::size_t comma = std::min(list.find(',', pos), list.size());
        const int n = std::atoi(list.substr(pos, comma - pos).c_str());
        if (n < 1) usage_error("--threads: expected positive integers, got '" + list + "'");
        args.threads.push_back(n);
        pos = comma + 1;
      }
    } else if (a == "--out") {
      args.out = value();
    } else if (a == "--filter") {
      args.filter = value();
    } else if (a == "--only-peer") {
      args.only_peer = value();
    } else if (a == "--child-out") {
      args.child_out = value();
    } else if (a == "--budget") {
      args.budget_s = std::atof(value().c_str());
      if (args.budget_s <= 0) usage_error("--budget: expected a positive number of seconds");
    } else {
      usage_error("unknown option '" + a + "'");
    }
  }
  return args;
}

fs::path peer_dir() { return fs::read_symlink("/proc/self/exe").parent_path() / "bench" / "peers"; }

// The peer plugins next to the executable (build/bench/peers/*.so), sorted.
std::vector<fs::path> list_plugins() {
  std::vector<fs::path> plugins;
  if (fs::is_directory(peer_dir()))
    for (const auto& entry : fs::directory_iterator(peer_dir()))
      if (entry.path().extension() == ".so") plugins.push_back(entry.path());
  std::sort(plugins.begin(), plugins.end());
  return plugins;
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
// first PyTorch plugin runs here with the others, each further one in a
// child process of its own.
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

// Runs `normkit bench` for one plugin in a child process, with `threads`
// and the environment `env`, and adds its peer timings (with speed-ups
// measured against normkit in that process) to rows.
void run_child(const BenchArgs& args, const fs::path& plugin, const std::string& threads,
               const std::vector<std::string>& env, bench::Report& report) {
  const fs::path out = fs::temp_directory_path() / ("normkit-bench-" + std::to_string(getpid()) + "-" +
                                                    plugin.stem().string() + ".tsv");
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
  std::ifstream in(out);
  std::string line;
  std::getline(in, line);  // the note
  const std::string note = line + " (own process)";
  if (!line.empty() && std::find(report.notes.begin(), report.notes.end(), note) == report.notes.end())
    report.notes.push_back(note);  // once, for a plugin run once per thread count
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    for (std::size_t pos = 0, tab; pos <= line.size(); pos = tab + 1) {
      tab = std::min(line.find('\t', pos), line.size());
      f.push_back(line.substr(pos, tab - pos));
    }
    if (f.size() != 7) continue;
    for (bench::Row& row : report.rows)
      if (row.op == f[0] && row.shape == f[1] && row.threads == std::atoi(f[2].c_str()))
        row.timings.push_back({f[3], std::atof(f[4].c_str()), std::atof(f[5].c_str()), std::atof(f[6].c_str())});
  }
  fs::remove(out);
}

}  // namespace

int run_bench(int argc, char** argv) {
  const BenchArgs args = parse(argc, argv);
  const bool child = !args.child_out.empty();
  bench::Report report;
  report.threads = args.threads;

  // Which plugins run here, and which in child processes.
  std::vector<fs::path> here, elsewhere;
  if (child) {
    here.push_back(args.only_peer);
  } else {
    bool torch_here = false;
    for (const fs::path& p : list_plugins()) {
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

  if (!child)
    for (int threads : args.threads) {
      set_num_threads(threads);
      report.copy_gbps.push_back(bench::copy_bandwidth_gbps(args.quick ? std::int64_t{1} << 25 : std::int64_t{1} << 28));
    }
  bench::CaseSet set = bench::make_cases(peers, args.quick);
  std::erase_if(set.cases, [&](const bench::Case& c) {
    return (c.op + " " + c.shape).find(args.filter) == std::string::npos;
  });
  for (int threads : args.threads) {
    for (bench::Peer* peer : peers) peer->set_num_threads(threads);
    for (const bench::Case& c : set.cases) {
      report.rows.push_back(bench::time_case(c, threads, args.quick ? 3 : 5, args.quick ? 0.02 : args.budget_s));
      if (!child) std::fprintf(stderr, "\r%zu/%zu", report.rows.size(), set.cases.size() * args.threads.size());
    }
  }
  if (child) {
    std::ofstream out(args.child_out);
    out << (report.notes.empty() ? "" : report.notes.back()) << '\n';
    for (const bench::Row& row : report.rows)
      for (std::size_t i = 1; i < row.timings.size(); ++i)
        out << row.op << '\t' << row.shape << '\t' << row.threads << '\t' << row.timings[i].impl << '\t'
            << row.timings[i].median_ms << '\t' << row.timings[i].gbps << '\t' << row.timings[i].speedup << '\n';
    return 0;
  }
  std::fprintf(stderr, "\n");
  for (const fs::path& p : elsewhere) {
    const std::vector<std::string> env = plugin_environment(p);
    if (env.empty()) {
      run_child(args, p, args.threads_arg, env, report);
    } else {
      for (int threads : args.threads) run_child(args, p, std::to_string(threads), env, report);
    }
  }
  bench::print_table(report);
  fs::create_directories(args.out);
  bench::write_csv(report, (fs::path(args.out) / "bench.csv").string());
  bench::write_json(report, (fs::path(args.out) / "bench.json").string());
  std::printf("\nwrote %s/bench.csv and %s/bench.json\n", args.out.c_str(), args.out.c_str());
  if (!args.filter.empty()) return 0;
  // The sweep with the largest thread count asked for, and the peers of this process.
  const int sweep_threads = *std::max_element(args.threads.begin(), args.threads.end());
  set_num_threads(sweep_threads);
  std::printf("%s\n", bench::run_sweep(peers, sweep_threads, report.copy_gbps.back(), args.out, args.quick).c_str());
  return 0;
}

}  // namespace normkit::cli
