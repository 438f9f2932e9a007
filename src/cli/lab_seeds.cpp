#include "lab_seeds.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "lab/seeds.hpp"
#include "normkit/error.hpp"
#include "normkit/threading.hpp"

namespace normkit::cli {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  NORMKIT_CHECK(in.good(), "cannot read ", path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string seeds_text(const lab::LabOptions& options, std::int64_t jobs) {
  const std::int64_t n = options.seed_count();
  std::string text = n == 1 ? "seed " + std::to_string(options.seed)
                            : "seeds " + std::to_string(options.seed) + " to " +
                                  std::to_string(options.seed + static_cast<std::uint64_t>(n) - 1);
  if (jobs > 1) text += ", " + std::to_string(jobs) + " at a time as processes of 1 thread";
  if (lab::LabOptions::last_seed_alone(n, jobs))
    text += ", seed " + std::to_string(options.seed + static_cast<std::uint64_t>(n) - 1) + " alone in the main process";
  return text;
}

std::int64_t seed_jobs(const lab::LabOptions& options, int ranks) {
  return ranks > 1 ? 1 : options.jobs_for(normkit::num_threads());
}

lab::Section run_over_seeds(const lab::Experiment& e, const lab::Context& ctx, std::int64_t jobs) {
  const std::int64_t n = ctx.options.seed_count();
  const std::string seeds_dir = ctx.options.out_dir + "/seeds/" + e.name;
  if (ctx.writes()) std::filesystem::remove_all(seeds_dir);  // what a stopped run left would be merged
  std::vector<lab::Context> runs;
  std::vector<std::uint64_t> seeds;
  std::vector<std::string> dirs;
  for (std::int64_t i = 0; i < n; ++i) {
    lab::Context c = ctx;
    c.options.seed = ctx.options.seed + static_cast<std::uint64_t>(i);
    c.options.out_dir = seeds_dir + "/" + std::to_string(c.options.seed);
    if (n > 1 && ctx.progress)
      c.progress = [progress = ctx.progress, seed = c.options.seed](const std::string& line) {
        progress("seed " + std::to_string(seed) + ": " + line);
      };
    if (ctx.writes()) std::filesystem::create_directories(c.options.out_dir);
    seeds.push_back(c.options.seed);
    dirs.push_back(c.options.out_dir);
    runs.push_back(std::move(c));
  }
  std::vector<lab::Section> sections(static_cast<std::size_t>(n));
  if (jobs <= 1) {
    for (std::size_t i = 0; i < runs.size(); ++i) sections[i] = e.run(runs[i]);
  } else {
    // Each child runs one seed with one thread (a forked child has one,
    // normkit/threading.hpp) and leaves its section in its folder.
    std::map<pid_t, std::size_t> running;
    std::string failed;
    std::size_t next = 0;
    const std::size_t forked = runs.size() - (lab::LabOptions::last_seed_alone(n, jobs) ? 1 : 0);
    while (next < forked || !running.empty()) {
      while (next < forked && static_cast<std::int64_t>(running.size()) < jobs) {
        std::fflush(stdout);
        std::fflush(stderr);
        const pid_t child = ::fork();
        NORMKIT_CHECK(child >= 0, "lab ", e.name, ": fork failed");
        if (child == 0) {
          int rc = 0;
          try {
            std::ofstream(runs[next].path("section.json")) << lab::section_to_json(e.run(runs[next]));
          } catch (const std::exception& error) {
            std::fprintf(stderr, "normkit lab %s: seed %llu: %s\n", e.name,
                         static_cast<unsigned long long>(runs[next].options.seed), error.what());
            rc = 1;
          }
          std::fflush(stdout);
          std::fflush(stderr);
          ::_exit(rc);
        }
        running[child] = next++;
      }
      int status = 0;
      const pid_t done = ::waitpid(-1, &status, 0);
      NORMKIT_CHECK(done > 0 && running.count(done), "lab ", e.name, ": waiting for a seed's process failed");
      const std::size_t i = running[done];
      running.erase(done);
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        sections[i] = lab::section_from_json(read_text(runs[i].path("section.json")));
      else
        failed += " " + std::to_string(runs[i].options.seed);
    }
    NORMKIT_CHECK(failed.empty(), "lab ", e.name, ": the run of seed(s)", failed, " failed");
    if (forked < runs.size()) sections[forked] = e.run(runs[forked]);
  }
  if (!ctx.writes()) return sections[0];
  lab::merge_csv_files(dirs, seeds, ctx.options.out_dir);
  lab::Section merged = lab::merge_sections(sections);
  std::filesystem::remove_all(seeds_dir);
  std::error_code kept;  // OUT/seeds stays when it holds something else (a run that was stopped)
  std::filesystem::remove(ctx.options.out_dir + "/seeds", kept);
  return merged;
}

}  // namespace normkit::cli
