// A checkpoint write killed at any moment leaves the previous checkpoint (or
// the new one) whole: a writer process saves checkpoints in a loop and is
// killed with SIGKILL after a random delay, again and again; after each kill
// the file must load, and every tensor must come from the same save as its
// metadata.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "normkit/io/safetensors.hpp"

extern char** environ;

namespace normkit::test {
namespace {

namespace fs = std::filesystem;

// The step of a checkpoint that must be whole: every value of every tensor
// equals the step in the metadata.
std::int64_t whole_checkpoint_step(const fs::path& path) {
  const io::SafetensorsContents c = io::load_safetensors(path.string());
  const std::int64_t k = std::stoll(c.metadata.at("step"));
  EXPECT_EQ(c.tensors.size(), 3u);
  for (const auto& [name, t] : c.tensors) {
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      const double v = t.dtype() == DType::int64 ? static_cast<double>(t.data<std::int64_t>()[i]) : t.data<float>()[i];
      if (v != static_cast<double>(k)) {
        ADD_FAILURE() << name << "[" << i << "] = " << v << " in the checkpoint of step " << k;
        return -1;
      }
    }
  }
  return k;
}

TEST(CheckpointKill, AKilledWriterLeavesTheLastWholeCheckpoint) {
  const fs::path dir = fs::temp_directory_path() / ("normkit-kill-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path path = dir / "checkpoint.safetensors";
  Tensor zeros({4}), step({1}, DType::int64);
  for (int i = 0; i < 4; ++i) zeros.data<float>()[i] = 0;
  step.data<std::int64_t>()[0] = 0;
  io::save_safetensors(path.string(), {{"weight", zeros}, {"bias", zeros}, {"step", step}}, {{"step", "0"}});

  // Kills go on until at least 15 have landed inside a save and the
  // checkpoint has moved on at least 3 times (whatever the machine's load);
  // the delay range grows while kills land before the writer's first save.
  std::mt19937 rng(2026);
  std::int64_t last = 0;
  int kills = 0, kills_inside_a_write = 0, max_delay_us = 250000;
  constexpr int kMaxKills = 300;
  while ((kills_inside_a_write < 15 || last < 3) && kills < kMaxKills) {
    ++kills;
    const std::string first = std::to_string(last + 1);
    std::string writer = NORMKIT_CHECKPOINT_WRITER;
    char* argv[] = {writer.data(), const_cast<char*>(path.c_str()), const_cast<char*>(first.c_str()), nullptr};
    pid_t pid = 0;
    ASSERT_EQ(::posix_spawn(&pid, writer.c_str(), nullptr, nullptr, argv, environ), 0) << writer;
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, max_delay_us)(rng)));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the writer ended by itself, status " << status;
    // A temporary file left behind means the kill landed inside a save.
    bool inside = false;
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.path() != path) {
        inside = true;
        fs::remove(entry.path());
      }
    kills_inside_a_write += inside;
    const std::int64_t k = whole_checkpoint_step(path);
    ASSERT_GE(k, last) << "the checkpoint went back in time";
    if (k == last && !inside) max_delay_us = std::min(max_delay_us * 5 / 4, 2000000);
    last = k;
  }
  fs::remove_all(dir);
  std::printf("%d kills, %d inside a save; the last checkpoint whole at step %lld\n", kills, kills_inside_a_write,
              static_cast<long long>(last));
  // Otherwise the test proved nothing.
  EXPECT_GE(kills_inside_a_write, 15) << "too few kills landed inside a save";
  EXPECT_GE(last, 3) << "the writer hardly ever completed a save";
}

}  // namespace
}  // namespace normkit::test
