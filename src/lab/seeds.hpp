// One experiment run over several seeds, merged into one report section.
//
// Each seed's run writes its own CSV files and returns its own Section. The
// runs have the same shape and differ in their numbers, so they merge by
// number: wherever the seeds' texts hold different numbers in the same place
// (a table cell, a figure in a sentence), the merged text holds their mean
// and 95% t interval ("0.8912 ± 0.0031"); where a cell is not a number in
// every seed (a run diverged in one), it lists the seeds' cells
// ("0.8912 / - / 0.8950"). A claim's verdict comes from the interval of its
// per-seed values (statistics.hpp). CSV files merge the same way, row by row,
// with each column's interval beside it, and the plots are drawn from the
// merged files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lab.hpp"

namespace normkit::lab {

// One text from the seeds' versions of it. `printed`: terminal text whose
// tables are columns separated by two or more spaces (realigned after the
// merge); otherwise Markdown, whose tables are pipe tables.
std::string merge_texts(const std::vector<std::string>& texts, bool printed);

// Merges every CSV file of the first seed's folder across `seed_dirs` into
// `out_dir`: NAME.csv holds the rows' means (a row is matched across seeds
// by position, or, when the seeds have different row counts, by its
// non-numeric cells and first cell), then for each column C the columns
// C_low and C_high of its 95% interval (empty where C is not a number;
// equal to C with one seed); NAME_seeds.csv holds every seed's rows, the
// seed first.
void merge_csv_files(const std::vector<std::string>& seed_dirs, const std::vector<std::uint64_t>& seeds,
                     const std::string& out_dir);

// "L:H", the merged CSV's columns (1-based, as gnuplot counts) holding the
// interval of column `column` (1-based) of a table of `columns` columns.
std::string interval_columns(std::size_t columns, std::size_t column);

// gnuplot plot clauses for a merged CSV `file` of `columns` columns: the
// mean of column `y` against column `x` (1-based) over the rows where
// `when` holds (a gnuplot condition), its 95% interval shaded in the same
// colour, y multiplied by `scale`.
std::string mean_and_interval(const std::string& file, std::size_t columns, std::size_t x, std::size_t y,
                              const std::string& when, const std::string& title, int color, double scale = 1.0);

// The section of an experiment run once per seed: its texts merged, each
// claim's verdict decided over the seeds, and its plots drawn (from the
// merged CSV files, which merge_csv_files has written). An Error when the
// runs disagree in their claims or plots.
Section merge_sections(const std::vector<Section>& runs);

// A Section as JSON text and back (how a seed run in a child process hands
// its section to the parent).
std::string section_to_json(const Section& section);
Section section_from_json(const std::string& json);

}  // namespace normkit::lab
