#include "harness.hpp"

#include <nlohmann/json.hpp>

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>

#include "core/cpu_cache.hpp"
#include "normkit/error.hpp"
#include "normkit/simd.hpp"
#include "normkit/threading.hpp"
#include "speedup_interval.hpp"

namespace normkit::bench {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Reads a buffer of twice the last-level cache (at least 64 MiB), so that
// the next call finds none of its data in the caches and none of the
// previous call's dirty lines to write back. Without it each long call
// inherited the state the one before it left: normkit, timed after PyTorch
// 1.13 (whose output, freshly allocated and written through the caches,
// was still dirty there), took BatchNorm training forward 32x64x56x56 NHWC
// in 1.56 ms at 2 threads, and 0.95 ms with no PyTorch in the process,
// while oneDNN 2.6, timed after normkit's streamed output, took 1.08 and
// 0.97 ms (Zen 5).
void leave_caches() {
  static const std::vector<float> buffer = [] {
    const std::int64_t bytes = std::max<std::int64_t>(2 * cache_bytes(3), std::int64_t{64} << 20);
    return std::vector<float>(static_cast<std::size_t>(bytes) / sizeof(float), 1.0f);
  }();
  const auto n = static_cast<std::int64_t>(buffer.size());
  float sum = 0;
#pragma omp parallel for schedule(static) reduction(+ : sum)
  for (std::int64_t i = 0; i < n; i += 16) sum += buffer[static_cast<std::size_t>(i)];  // a line each
  volatile float sink = sum;
  (void)sink;
}

}  // namespace

Row time_case(const Case& c, int threads, int min_reps, double budget_s) {
  set_num_threads(threads);
  for (const Impl& impl : c.impls) impl.run();  // warm-up: first touch, caches, JIT
  const bool in_cache = fits_a_cache(c.working_set);
  std::vector<std::vector<double>> samples(c.impls.size());
  // What is paired across impls: each run (interleaved) or each round's
  // block (its median).
  std::vector<std::vector<double>> paired(c.impls.size());
  const auto time_one = [&](std::size_t i) {
    const auto t0 = std::chrono::steady_clock::now();
    c.impls[i].run();
    samples[i].push_back(seconds_since(t0));
  };
  if (in_cache) {
    // In blocks: each impl's runs back to back, after untimed ones, in
    // rounds that alternate the impls.
    const double block_s = budget_s / (kRounds * static_cast<double>(c.impls.size()));
    for (int round = 0; round < kRounds; ++round)
      for (std::size_t i = 0; i < c.impls.size(); ++i) {
        for (int k = 0; k < kUntimedRuns; ++k) c.impls[i].run();
        const auto block_start = std::chrono::steady_clock::now();
        const std::size_t first = samples[i].size();
        for (int k = 0; k < kMostRuns / kRounds && (k * kRounds < min_reps || seconds_since(block_start) < block_s); ++k)
          time_one(i);
        paired[i].push_back(median({samples[i].begin() + static_cast<std::ptrdiff_t>(first), samples[i].end()}));
      }
  } else {
    const auto start = std::chrono::steady_clock::now();
    for (int rep = 0; rep < kMostRuns && (rep < min_reps || seconds_since(start) < budget_s); ++rep)
      for (std::size_t i = 0; i < c.impls.size(); ++i) {
        leave_caches();
        time_one(i);
      }
    paired = samples;
  }
  Row row{.op = c.op, .shape = c.shape, .threads = threads, .timings = {}, .working_set = c.working_set};
  const double ours = median(samples[0]);
  for (std::size_t i = 0; i < c.impls.size(); ++i) {
    const double t = median(samples[i]);
    row.timings.push_back({.impl = c.impls[i].name,
                           .median_ms = t * 1e3,
                           .gbps = static_cast<double>(c.min_bytes) / t / 1e9,
                           .speedup = t / ours,
                           .ratios = i == 0 ? std::vector<double>{} : paired_ratios(paired[i], paired[0])});
  }
  return row;
}

bool fits_a_cache(std::int64_t working_set_bytes) {
  static const Machine machine = Machine::this_one();
  return machine.level_of(working_set_bytes) != "DRAM";
}

double copy_bandwidth_gbps(std::int64_t working_set) {
  const std::int64_t n = std::max<std::int64_t>(working_set / 2 / static_cast<std::int64_t>(sizeof(float)), 256);
  std::unique_ptr<float[]> a(new float[n]), b(new float[n]);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) a[i] = b[i] = 1.0f;  // first touch by the copying threads
  // Copies per timing: at least 64 MiB moved, so that a cache-sized copy is
  // timed over many repetitions inside one parallel region (no fork per copy).
  const std::int64_t bytes_per_copy = 2 * n * static_cast<std::int64_t>(sizeof(float));
  const std::int64_t copies = std::max<std::int64_t>(1, (std::int64_t{64} << 20) / bytes_per_copy);
  double best = 1e30;
  for (int trial = 0; trial < 6; ++trial) {
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel
    {
      const std::int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
      const std::int64_t begin = n * t / threads, end = n * (t + 1) / threads;
      for (std::int64_t k = 0; k < copies; ++k) {
        std::memcpy(b.get() + begin, a.get() + begin, static_cast<std::size_t>(end - begin) * sizeof(float));
        // (The copy's destination is read by nothing: keep the compiler from
        // treating the repetitions as one.)
        asm volatile("" : : "r"(b.get()) : "memory");
      }
    }
    best = std::min(best, seconds_since(t0));
  }
  return static_cast<double>(bytes_per_copy * copies) / best / 1e9;
}

namespace {

// /proc/cpuinfo's model name, with the family and model numbers (a VM may
// name the CPU no better than "AMD EPYC"; family 25 model 17 is Zen 4).
std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string name = "unknown", family, model;
  const auto value = [](const std::string& line) {
    const std::string v = line.substr(line.find(':') + 1);
    return v.substr(std::min(v.find_first_not_of(' '), v.size()));
  };
  for (std::string line; std::getline(in, line) && !line.empty();) {
    if (line.find(':') == std::string::npos) continue;
    if (line.rfind("model name", 0) == 0) name = value(line);
    else if (line.rfind("cpu family", 0) == 0) family = value(line);
    else if (line.rfind("model", 0) == 0 && line.find("model name") != 0) model = value(line);
  }
  if (!family.empty() && !model.empty()) name += " (family " + family + ", model " + model + ")";
  return name;
}

std::string kib(std::int64_t bytes) {
  return bytes >= (1 << 20) && bytes % (1 << 20) == 0 ? std::to_string(bytes >> 20) + " MiB"
                                                        : std::to_string(bytes >> 10) + " KiB";
}

std::string size_text(std::int64_t bytes) {
  char text[32];
  if (bytes >= (1 << 20))
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  else
    std::snprintf(text, sizeof text, "%.0f KiB", static_cast<double>(bytes) / (1 << 10));
  return text;
}

// The ratios as bench.json keeps them: four significant digits (a VM's
// timings do not hold more), printed as such (JSON's shortest form).
std::vector<double> to_four_digits(std::vector<double> values) {
  for (double& v : values) {
    char text[32];
    std::snprintf(text, sizeof text, "%.4g", v);
    v = std::strtod(text, nullptr);
  }
  return values;
}

}  // namespace

Machine Machine::this_one() {
  return {.cpu = cpu_model(),
          .l1d = ::normkit::cache_bytes(1),
          .l2 = ::normkit::cache_bytes(2),
          .l3 = ::normkit::cache_bytes(3),
          .simd_path = ::normkit::simd_path()};
}

std::string Machine::level_of(std::int64_t bytes) const {
  // The rule the kernels keep an output in the L3 by (core/cpu_cache.hpp).
  // (Until it was the same, a 24.5 MiB case on a 32 MiB L3, which the
  // kernels keep in the cache, was "DRAM" here at 3/4 and timed cold.)
  if (fits_in(bytes, l1d)) return "L1";
  if (fits_in(bytes, l2)) return "L2";
  if (fits_in(bytes, l3)) return "L3";
  return "DRAM";
}

double Report::limit_for(const Row& row) const {
  for (const Limit& l : limits)
    if (l.threads == row.threads && l.working_set == row.working_set) return l.gbps;
  return 0;
}

Report median_of_passes(const std::vector<Report>& passes) {
  NORMKIT_CHECK(!passes.empty(), "median_of_passes: passes: expected at least one report");
  Report out = passes.front();
  for (const Report& pass : passes)
    for (const std::string& note : pass.notes)
      if (std::find(out.notes.begin(), out.notes.end(), note) == out.notes.end()) out.notes.push_back(note);
  for (Row& row : out.rows)
    for (Timing& t : row.timings) {
      std::vector<double> ms, gbps, speedup, ratios;
      for (const Report& pass : passes)
        for (const Row& r : pass.rows)
          if (r.op == row.op && r.shape == row.shape && r.threads == row.threads)
            for (const Timing& u : r.timings)
              if (u.impl == t.impl) {
                ms.push_back(u.median_ms);
                gbps.push_back(u.gbps);
                speedup.push_back(u.speedup);
                ratios.insert(ratios.end(), u.ratios.begin(), u.ratios.end());
              }
      t.median_ms = median(ms);
      t.gbps = median(gbps);
      // A report without ratios (a peer's older child) keeps the median of
      // its passes' speed-ups, and no interval.
      t.speedup = ratios.empty() ? median(speedup) : median(ratios);
      const std::optional<MedianInterval> interval = median_interval(ratios);
      t.speedup_low = interval ? interval->low : 0;
      t.speedup_high = interval ? interval->high : 0;
      t.ratios = std::move(ratios);
    }
  if (passes.size() > 1)
    out.notes.push_back("each time is the median of " + std::to_string(passes.size()) +
                        " passes of the whole run; each speed-up the median of the ratios of the calls timed "
                        "side by side in them, [with its 95% interval]");
  return out;
}

void print_table(const Report& r) {
  const Machine& m = r.machine;
  std::printf("CPU: %s; L1d %s, L2 %s per core, L3 %s; normkit kernels: %s path\n", m.cpu.c_str(), kib(m.l1d).c_str(),
              kib(m.l2).c_str(), kib(m.l3).c_str(), m.simd_path.c_str());
  std::printf("limit: copy bandwidth at each row's working set (source + destination = its tensors' bytes)\n");
  for (const Limit& l : r.limits)
    std::printf("  copy %9s (%-4s) %d thread%s: %6.1f GB/s\n", size_text(l.working_set).c_str(),
                m.level_of(l.working_set).c_str(), l.threads, l.threads == 1 ? " " : "s", l.gbps);
  for (const std::string& note : r.notes) std::printf("note: %s\n", note.c_str());
  std::printf("\n%-28s %-22s %3s %9s %7s %-4s %6s  %s\n", "op", "shape", "thr", "normkit", "GB/s", "ws",
              "limit", "peers (ms, normkit speed-up [95% interval])");
  for (const Row& row : r.rows) {
    const Timing& ours = row.timings[0];
    const double limit = r.limit_for(row);
    std::printf("%-28s %-22s %3d %7.3fms %7.1f %-4s %5.0f%% ", row.op.c_str(), row.shape.c_str(), row.threads,
                ours.median_ms, ours.gbps, m.level_of(row.working_set).c_str(),
                limit > 0 ? 100 * ours.gbps / limit : 0.0);
    for (std::size_t i = 1; i < row.timings.size(); ++i) {
      const Timing& t = row.timings[i];
      std::printf(" %s %.3fms %.2fx", t.impl.c_str(), t.median_ms, t.speedup);
      if (t.speedup_high > 0) std::printf(" [%.2f-%.2f]", t.speedup_low, t.speedup_high);
    }
    std::printf("\n");
  }
}

void write_csv(const Report& r, const std::string& path) {
  const Machine& m = r.machine;
  std::ofstream out(path);
  out << "op,shape,threads,impl,median_ms,gbps,working_set_bytes,cache_level,limit_gbps,fraction_of_limit,"
         "normkit_speedup,cpu,l2_bytes,l3_bytes,simd_path,speedup_low,speedup_high\n";
  for (const Row& row : r.rows)
    for (const Timing& t : row.timings) {
      const double limit = r.limit_for(row);
      out << '"' << row.op << "\",\"" << row.shape << "\"," << row.threads << ",\"" << t.impl << "\","
          << t.median_ms << ',' << t.gbps << ',' << row.working_set << ',' << m.level_of(row.working_set) << ','
          << limit << ',' << (limit > 0 ? t.gbps / limit : 0.0) << ',' << t.speedup << ",\"" << m.cpu << "\","
          << m.l2 << ',' << m.l3 << ',' << m.simd_path << ',';
      if (t.speedup_high > 0) out << t.speedup_low << ',' << t.speedup_high;
      else out << ',';  // no interval: empty cells
      out << '\n';
    }
}

void write_json(const Report& r, const std::string& path) {
  nlohmann::json rows = nlohmann::json::array();
  for (const Row& row : r.rows) {
    nlohmann::json timings = nlohmann::json::array();
    for (const Timing& t : row.timings) {
      nlohmann::json timing{{"impl", t.impl}, {"median_ms", t.median_ms}, {"gbps", t.gbps}, {"normkit_speedup", t.speedup}};
      if (!t.ratios.empty()) timing["ratios"] = to_four_digits(t.ratios);
      if (t.speedup_high > 0) {
        timing["speedup_low"] = t.speedup_low;
        timing["speedup_high"] = t.speedup_high;
      }
      timings.push_back(std::move(timing));
    }
    rows.push_back({{"op", row.op},
                    {"shape", row.shape},
                    {"threads", row.threads},
                    {"working_set_bytes", row.working_set},
                    {"cache_level", r.machine.level_of(row.working_set)},
                    {"limit_gbps", r.limit_for(row)},
                    {"timings", timings}});
  }
  nlohmann::json limits = nlohmann::json::array();
  for (const Limit& l : r.limits)
    limits.push_back({{"threads", l.threads}, {"working_set_bytes", l.working_set}, {"copy_gbps", l.gbps}});
  const Machine& m = r.machine;
  const nlohmann::json machine{
      {"cpu", m.cpu}, {"l1d_bytes", m.l1d}, {"l2_bytes", m.l2}, {"l3_bytes", m.l3}, {"simd_path", m.simd_path}};
  const nlohmann::json report{{"machine", machine}, {"threads", r.threads}, {"limits", limits},
                              {"notes", r.notes},   {"rows", rows}};
  std::ofstream(path) << report.dump(2) << '\n';
}

Report read_json(const std::string& path) {
  std::ifstream in(path);
  NORMKIT_CHECK(in.is_open(), "read_json: path: cannot read ", path);
  const nlohmann::json report = nlohmann::json::parse(in);
  Report r;
  r.notes = report.at("notes").get<std::vector<std::string>>();
  if (report.contains("machine")) {
    const nlohmann::json& m = report.at("machine");
    r.machine = {.cpu = m.at("cpu"), .l1d = m.at("l1d_bytes"), .l2 = m.at("l2_bytes"), .l3 = m.at("l3_bytes"),
                 .simd_path = m.at("simd_path")};
  }
  if (report.contains("threads")) r.threads = report.at("threads").get<std::vector<int>>();
  if (report.contains("limits"))
    for (const nlohmann::json& l : report.at("limits"))
      r.limits.push_back({.threads = l.at("threads"), .working_set = l.at("working_set_bytes"), .gbps = l.at("copy_gbps")});
  for (const nlohmann::json& row : report.at("rows")) {
    Row out{.op = row.at("op"), .shape = row.at("shape"), .threads = row.at("threads")};
    if (row.contains("working_set_bytes")) out.working_set = row.at("working_set_bytes");
    for (const nlohmann::json& t : row.at("timings"))
      out.timings.push_back({.impl = t.at("impl"),
                             .median_ms = t.at("median_ms"),
                             .gbps = t.at("gbps"),
                             .speedup = t.at("normkit_speedup"),
                             .ratios = t.value("ratios", std::vector<double>{}),
                             .speedup_low = t.value("speedup_low", 0.0),
                             .speedup_high = t.value("speedup_high", 0.0)});
    r.rows.push_back(std::move(out));
  }
  return r;
}

}  // namespace normkit::bench
