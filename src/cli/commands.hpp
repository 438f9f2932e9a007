// Subcommands of the normkit CLI; each returns the process exit code.
#pragma once

namespace normkit::cli {

int run_demo(int argc, char** argv);
int run_bench(int argc, char** argv);
int run_train(int argc, char** argv);
int run_lab(int argc, char** argv);
int run_step_time(int argc, char** argv);
int run_selftest(int argc, char** argv);

}  // namespace normkit::cli
