#include "gnuplot.hpp"

#include <cstdlib>
#include <fstream>

namespace normkit::report {

bool gnuplot_available() { return std::system("command -v gnuplot > /dev/null 2>&1") == 0; }

std::string run_gnuplot(const std::string& script_path, const std::string& script) {
  std::ofstream(script_path) << script;
  if (!gnuplot_available()) return "gnuplot not installed (apt-get install gnuplot-nox)";
  const std::string command = "gnuplot '" + script_path + "' > /dev/null 2>&1";
  if (std::system(command.c_str()) != 0) return "gnuplot failed: see " + script_path;
  return "";
}

std::string png_preamble(const std::string& png_path, int width, int height) {
  return "set terminal pngcairo size " + std::to_string(width) + "," + std::to_string(height) +
         " noenhanced\nset output '" + png_path + "'\nset datafile separator ','\nset grid\n";
}

std::string plot_markdown(const std::string& name, const std::string& png_file, const std::string& failure) {
  return failure.empty() ? "![" + name + "](" + png_file + ")\n\n" : "(no plot: " + failure + ")\n\n";
}

}  // namespace normkit::report
