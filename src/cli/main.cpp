// The normkit command-line tool: subcommands on CLI11 (commands.hpp). Every
// subcommand answers --help (and -h) on stdout with exit code 0; a bad
// command line exits 2 with a message naming the flag; an error while running
// exits 1 with "normkit <command>: error: ...".
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "commands.hpp"
#include "normkit/version.hpp"

int main(int argc, char** argv) {
  using namespace normkit::cli;
  CLI::App app("normkit: normalization layers for deep learning, their kernels, a training engine and a lab.",
               "normkit");
  app.require_subcommand(1);
  // A flag given twice takes its last value (as getopt's users expect).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.set_version_flag("--version", std::string("normkit ") + normkit::kVersion);
  const std::vector<std::string> args(argv, argv + argc);
  std::vector<Command> commands{add_demo(app),       add_bench(app),     add_train(app),
                                add_lab(app, args),  add_step_time(app), add_selftest(app)};
  CLI::App* version = app.add_subcommand("version", "print the version");
  CLI::App* help = app.add_subcommand("help", "this message (normkit COMMAND --help: a command's options)");
  // (CLI11 would only say that a command is required.)
  const auto is_command = [&](const std::string& word) {
    for (const CLI::App* sub : app.get_subcommands({}))
      if (sub->get_name() == word) return true;
    return false;
  };
  if (argc >= 2 && argv[1][0] != '-' && !is_command(argv[1])) {
    std::fprintf(stderr, "normkit: unknown command '%s'\nRun 'normkit --help' for the commands.\n", argv[1]);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, -h, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    CLI::App* chosen = &app;
    for (CLI::App* sub : app.get_subcommands()) chosen = sub;
    const std::string name = chosen == &app ? "normkit" : "normkit " + chosen->get_name();
    std::fprintf(stderr, "%s: %s\nRun '%s --help' for its usage.\n", name.c_str(), e.what(), name.c_str());
    return 2;
  }
  if (version->parsed()) {
    std::printf("normkit %s\n", normkit::kVersion);
    return 0;
  }
  if (help->parsed()) {
    std::printf("%s", app.get_formatter()->make_help(&app, "normkit", CLI::AppFormatMode::Normal).c_str());
    return 0;
  }
  for (const Command& command : commands) {
    if (!command.app->parsed()) continue;
    const std::string name = command.app->get_name();
    try {
      return command.run();
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "normkit %s: error: out of memory: the model or the data does not fit this machine's memory\n",
                   name.c_str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "normkit %s: error: %s\n", name.c_str(), e.what());
    }
    return 1;
  }
  return 2;  // (require_subcommand: not reached)
}
