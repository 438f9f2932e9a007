// The benchmark harness behind `normkit bench`: timing by interleaved
// repetitions with medians, the STREAM-style copy bandwidth that is the limit
// for memory-bound kernels, and the table / CSV / JSON report.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace normkit::bench {

// One implementation of a case: normkit's, or a peer's (PyTorch, oneDNN).
struct Impl {
  std::string name;
  std::function<void()> run;
};

struct Case {
  std::string op;      // "BatchNorm train fwd", ...
  std::string shape;   // "32x64x56x56 NCHW"
  std::int64_t min_bytes = 0;  // reading every input and writing every output once
  std::vector<Impl> impls;     // impls[0] is normkit
};

struct Timing {
  std::string impl;
  double median_ms = 0;
  double gbps = 0;     // min_bytes / median time
  double speedup = 1;  // this impl's time / normkit's, both timed in the same process
};

struct Row {
  std::string op, shape;
  int threads = 1;
  std::vector<Timing> timings;  // timings[0] is normkit
};

// Runs every implementation of the case in interleaved repetitions (at least
// min_reps and until about budget_s seconds have passed), medians per impl.
Row time_case(const Case& c, int threads, int min_reps, double budget_s);

// STREAM-style copy bandwidth (bytes read + written per second, GB/s) with
// the current thread count: the best of several copies of a buffer far larger
// than the caches.
double copy_bandwidth_gbps(std::int64_t bytes = std::int64_t{1} << 28);

struct Report {
  std::vector<std::string> notes;  // peers skipped, and why
  std::vector<double> copy_gbps;   // per thread count, in `threads` order
  std::vector<int> threads;
  std::vector<Row> rows;
};

void print_table(const Report& report);
void write_csv(const Report& report, const std::string& path);
// bench.json (nlohmann_json: every string escaped), and back: a child process
// of `normkit bench` reports its peer's timings so.
void write_json(const Report& report, const std::string& path);
Report read_json(const std::string& path);

}  // namespace normkit::bench
