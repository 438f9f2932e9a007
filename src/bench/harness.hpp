// The benchmark harness behind `normkit bench`: timing by interleaved
// repetitions with medians, the copy bandwidth that is the limit for
// memory-bound kernels (measured at each case's working-set size: a case that
// stays in L2 or L3 is held to the cache's bandwidth, not DRAM's), the facts
// of the machine, and the table / CSV / JSON report.
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
  std::int64_t working_set = 0;  // bytes of the distinct tensors it touches (x, y; dy, dx)
  std::vector<Impl> impls;     // impls[0] is normkit
  // What a peer in another process needs to set the case up (bench/peer.hpp).
  std::string peer_op;         // "ln_fwd", ...
  std::vector<std::int64_t> dims;
  bool channels_last = false;
  std::int64_t groups = 1;
  std::string dtype = "float32";  // the data tensors'
};

struct Timing {
  std::string impl;
  double median_ms = 0;
  double gbps = 0;     // min_bytes / median time
  double speedup = 1;  // this impl's time / normkit's, both timed in the same process
  // This impl's calls over normkit's beside them (speedup_interval.hpp): one
  // per interleaved call of a DRAM-sized case, one per round's blocks of a
  // cached one; empty for normkit's own timing.
  std::vector<double> ratios;
  // The 95% interval of the speed-up, from the ratios of every pass
  // (median_of_passes); 0 and 0 when there were too few.
  double speedup_low = 0, speedup_high = 0;
};

struct Row {
  std::string op, shape;
  int threads = 1;
  std::vector<Timing> timings;  // timings[0] is normkit
  std::int64_t working_set = 0;
};

// Times every implementation of the case (at least min_reps runs each, in
// about budget_s seconds in all; medians per impl, and each peer's ratios to
// the normkit calls timed beside its own: Timing::ratios). A case whose working
// set fits no cache (Machine::level_of: "DRAM") is timed interleaved run by
// run, each run after a read of a buffer twice the last-level cache, which
// leaves the same caches for every impl. A case that fits a cache is timed
// in blocks: each impl's runs back to back after kUntimedRuns untimed ones,
// the impls alternating over kRounds rounds.
// Each library has its own thread pool (normkit's and PyTorch 1.13's
// OpenMP, PyTorch 2's, oneDNN 3's SYCL runtime, ONNX Runtime's); run by
// run, a pool still spinning after its call took the cores of the next
// impl's (up to 20x slower calls on two cores), and each call found its own
// pool asleep, which a loop of such calls never does. Eight rounds, so that a
// burst of load from elsewhere on the machine (a VM's neighbours) that hits
// one impl's block moves few of its samples: with four, a row read 0.72x
// where the same call had been 1.8x ahead in the run before (normkit's
// LayerNorm fwd+bwd 32x4096 took 0.169 ms in place of 0.053).
// The working set decides, not the calls' length: chosen by whether some
// impl's first call took under a millisecond, the regime of a case near
// that length changed from run to run, and with it its figures (Zen 5,
// float32 LayerNorm forward 8192x768 at 2 threads, 48 MiB: 1.19 ms cold in
// one run, 0.67 ms in blocks in the next, while RMSNorm on the same rows
// stayed cold).
inline constexpr int kRounds = 8, kUntimedRuns = 3, kMostRuns = 200;
Row time_case(const Case& c, int threads, int min_reps, double budget_s);
// Whether time_case times a case of this working set in blocks: it fits some
// cache of this machine (Machine::level_of is not "DRAM").
bool fits_a_cache(std::int64_t working_set_bytes);

// STREAM-style copy bandwidth (bytes read + written per second, GB/s) with
// the current thread count, of a copy whose source and destination together
// are `working_set` bytes, each thread copying its share again and again:
// the best of several timings.
double copy_bandwidth_gbps(std::int64_t working_set);

// The machine the run measured.
struct Machine {
  std::string cpu;                     // /proc/cpuinfo's model name
  std::int64_t l1d = 0, l2 = 0, l3 = 0;  // bytes (L1d and L2 per core, L3 in all)
  std::string simd_path;               // the kernels' path in the run
  static Machine this_one();
  // Where a working set of `bytes` stays: "L1", "L2", "L3" or "DRAM".
  std::string level_of(std::int64_t bytes) const;
};

// The copy bandwidth at one working-set size and thread count.
struct Limit {
  int threads = 1;
  std::int64_t working_set = 0;
  double gbps = 0;
};

struct Report {
  Machine machine;
  std::vector<std::string> notes;  // peers skipped, and why
  std::vector<int> threads;
  std::vector<Limit> limits;       // each row's working set at each thread count
  std::vector<Row> rows;
  // The limit a row is held to: the copy bandwidth at its working set and threads (0: none measured).
  double limit_for(const Row& row) const;
};

// One report of several passes of the same run (the same rows and impls,
// timed again minutes apart): each impl's time and bandwidth the median over
// the passes that have it; its speed-up the median of its ratios pooled over
// the passes, with their 95% interval (median_interval). On a VM whose neighbours come and
// go, one pass's ratio can be a burst's; the median of passes spread over
// the run is not.
Report median_of_passes(const std::vector<Report>& passes);

void print_table(const Report& report);
void write_csv(const Report& report, const std::string& path);
// bench.json (nlohmann_json: every string escaped), and back: a child process
// of `normkit bench` reports its peer's timings so.
void write_json(const Report& report, const std::string& path);
Report read_json(const std::string& path);

}  // namespace normkit::bench
