#include "harness.hpp"

#include <nlohmann/json.hpp>

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include "normkit/error.hpp"
#include "normkit/simd.hpp"
#include "normkit/threading.hpp"

namespace normkit::bench {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The limit a row is held to: the copy bandwidth measured with its threads.
double limit_for(const Report& r, int threads) {
  for (std::size_t i = 0; i < r.threads.size(); ++i)
    if (r.threads[i] == threads) return r.copy_gbps[i];
  return 0;
}

}  // namespace

Row time_case(const Case& c, int threads, int min_reps, double budget_s) {
  set_num_threads(threads);
  for (const Impl& impl : c.impls) impl.run();  // warm-up: first touch, caches, JIT
  std::vector<std::vector<double>> samples(c.impls.size());
  const auto start = std::chrono::steady_clock::now();
  for (int rep = 0; rep < min_reps || seconds_since(start) < budget_s; ++rep) {
    for (std::size_t i = 0; i < c.impls.size(); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      c.impls[i].run();
      samples[i].push_back(seconds_since(t0));
    }
    if (rep >= 200) break;
  }
  Row row{c.op, c.shape, threads, {}};
  const double ours = median(samples[0]);
  for (std::size_t i = 0; i < c.impls.size(); ++i) {
    const double t = median(samples[i]);
    row.timings.push_back({c.impls[i].name, t * 1e3, static_cast<double>(c.min_bytes) / t / 1e9, t / ours});
  }
  return row;
}

double copy_bandwidth_gbps(std::int64_t bytes) {
  const std::int64_t n = bytes / static_cast<std::int64_t>(sizeof(float));
  std::unique_ptr<float[]> a(new float[n]), b(new float[n]);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) a[i] = b[i] = 1.0f;  // first touch by the copying threads
  double best = 1e30;
  for (int rep = 0; rep < 8; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel
    {
      const std::int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
      const std::int64_t begin = n * t / threads, end = n * (t + 1) / threads;
      std::memcpy(b.get() + begin, a.get() + begin, static_cast<std::size_t>(end - begin) * sizeof(float));
    }
    best = std::min(best, seconds_since(t0));
  }
  return 2.0 * static_cast<double>(bytes) / best / 1e9;
}

void print_table(const Report& r) {
  std::printf("normkit kernels: %s path\n", simd_path());
  for (std::size_t i = 0; i < r.threads.size(); ++i)
    std::printf("copy bandwidth (the limit), %d thread%s: %.1f GB/s\n", r.threads[i],
                r.threads[i] == 1 ? "" : "s", r.copy_gbps[i]);
  for (const std::string& note : r.notes) std::printf("note: %s\n", note.c_str());
  std::printf("\n%-28s %-22s %3s %9s %7s %6s  %s\n", "op", "shape", "thr", "normkit", "GB/s",
              "limit", "peers (ms, normkit speed-up)");
  for (const Row& row : r.rows) {
    const Timing& ours = row.timings[0];
    std::printf("%-28s %-22s %3d %7.3fms %7.1f %5.0f%% ", row.op.c_str(), row.shape.c_str(), row.threads,
                ours.median_ms, ours.gbps, 100 * ours.gbps / limit_for(r, row.threads));
    for (std::size_t i = 1; i < row.timings.size(); ++i)
      std::printf(" %s %.3fms %.2fx", row.timings[i].impl.c_str(), row.timings[i].median_ms,
                  row.timings[i].speedup);
    std::printf("\n");
  }
}

void write_csv(const Report& r, const std::string& path) {
  std::ofstream out(path);
  out << "op,shape,threads,impl,median_ms,gbps,fraction_of_copy,normkit_speedup\n";
  for (const Row& row : r.rows)
    for (const Timing& t : row.timings)
      out << '"' << row.op << "\",\"" << row.shape << "\"," << row.threads << ',' << t.impl << ','
          << t.median_ms << ',' << t.gbps << ',' << t.gbps / limit_for(r, row.threads) << ','
          << t.speedup << '\n';
}

void write_json(const Report& r, const std::string& path) {
  nlohmann::json rows = nlohmann::json::array();
  for (const Row& row : r.rows) {
    nlohmann::json timings = nlohmann::json::array();
    for (const Timing& t : row.timings)
      timings.push_back({{"impl", t.impl}, {"median_ms", t.median_ms}, {"gbps", t.gbps}, {"normkit_speedup", t.speedup}});
    rows.push_back({{"op", row.op}, {"shape", row.shape}, {"threads", row.threads}, {"timings", timings}});
  }
  nlohmann::json copy = nlohmann::json::object();
  for (std::size_t i = 0; i < r.threads.size() && i < r.copy_gbps.size(); ++i)
    copy[std::to_string(r.threads[i])] = r.copy_gbps[i];
  const nlohmann::json report{{"simd_path", simd_path()}, {"copy_gbps", copy}, {"notes", r.notes}, {"rows", rows}};
  std::ofstream(path) << report.dump(2) << '\n';
}

Report read_json(const std::string& path) {
  std::ifstream in(path);
  NORMKIT_CHECK(in.is_open(), "read_json: path: cannot read ", path);
  const nlohmann::json report = nlohmann::json::parse(in);
  Report r;
  r.notes = report.at("notes").get<std::vector<std::string>>();
  for (const auto& [threads, gbps] : report.at("copy_gbps").items()) {
    r.threads.push_back(std::stoi(threads));
    r.copy_gbps.push_back(gbps.get<double>());
  }
  for (const nlohmann::json& row : report.at("rows")) {
    Row out{.op = row.at("op"), .shape = row.at("shape"), .threads = row.at("threads")};
    for (const nlohmann::json& t : row.at("timings"))
      out.timings.push_back({.impl = t.at("impl"),
                             .median_ms = t.at("median_ms"),
                             .gbps = t.at("gbps"),
                             .speedup = t.at("normkit_speedup")});
    r.rows.push_back(std::move(out));
  }
  return r;
}

}  // namespace normkit::bench
