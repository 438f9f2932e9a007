// The normkit CLI's subcommands. Each add_* function declares its subcommand
// on the top-level CLI11 app (its options, their defaults and help) and
// returns what to run once the command line has parsed: the process's exit
// code. main.cpp parses and runs the one chosen.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace normkit::cli {

struct Command {
  CLI::App* app;            // the subcommand, for app->parsed()
  std::function<int()> run;
};

// `argv` is the whole command line (argv[0] = the program), for a command
// that starts itself again under mpirun.
Command add_demo(CLI::App& app);
Command add_bench(CLI::App& app);
Command add_train(CLI::App& app);
Command add_lab(CLI::App& app, const std::vector<std::string>& argv);
Command add_step_time(CLI::App& app);
Command add_selftest(CLI::App& app);

}  // namespace normkit::cli
