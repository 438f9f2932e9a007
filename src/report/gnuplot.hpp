// Plots through gnuplot (Debian's gnuplot-nox), run as a separate program on
// a script file: normkit does not link it, and a machine without it still
// gets every CSV and table, only no PNG.
#pragma once

#include <string>

namespace normkit::report {

bool gnuplot_available();

// Writes `script` to `script_path` and runs gnuplot on it. Returns "" on
// success, or why no plot was made ("gnuplot not installed", "gnuplot
// failed: see <script_path>").
std::string run_gnuplot(const std::string& script_path, const std::string& script);

// A report's Markdown for a plot: the image `png_file` under `name`, or,
// when run_gnuplot gave `failure`, why there is none.
std::string plot_markdown(const std::string& name, const std::string& png_file, const std::string& failure);

// The start of a script that draws a PNG of width x height pixels to
// `png_path`, with grid and a comma-separated data file.
std::string png_preamble(const std::string& png_path, int width, int height);

}  // namespace normkit::report
