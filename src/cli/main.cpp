// The normkit command-line tool.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "commands.hpp"
#include "normkit/version.hpp"

namespace {

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: normkit <command> [options]\n"
               "\n"
               "commands:\n"
               "  demo       Batch Normalization in three short experiments\n"
               "  bench      kernels against the copy bandwidth and the peers (PyTorch, oneDNN)\n"
               "  train      train a network on Fashion-MNIST (normkit train --help)\n"
               "  lab        experiments on what normalization does to training (normkit lab --help)\n"
               "  step-time  the time of one training step (for bench/train_step.py)\n"
               "  selftest   mpirun -np R normkit selftest sync: SyncBN against one process\n"
               "  version    print the version\n"
               "  help       this message\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  const std::string command = argv[1];
  try {
    if (command == "demo") return normkit::cli::run_demo(argc - 1, argv + 1);
    if (command == "bench") return normkit::cli::run_bench(argc - 1, argv + 1);
    if (command == "train") return normkit::cli::run_train(argc - 1, argv + 1);
    if (command == "lab") return normkit::cli::run_lab(argc - 1, argv + 1);
    if (command == "step-time") return normkit::cli::run_step_time(argc - 1, argv + 1);
    if (command == "selftest") return normkit::cli::run_selftest(argc - 1, argv + 1);
    if (command == "version" || command == "--version") {
      std::printf("normkit %s\n", normkit::kVersion);
      return 0;
    }
    if (command == "help" || command == "--help" || command == "-h") {
      print_usage(stdout);
      return 0;
    }
    std::fprintf(stderr, "normkit: unknown command '%s'\n\n", command.c_str());
    print_usage(stderr);
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "normkit %s: error: out of memory: the model or the data does not fit this machine's memory\n",
                 command.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "normkit %s: error: %s\n", command.c_str(), e.what());
    return 1;
  }
}
