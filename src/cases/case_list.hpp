// The shared list of cases (tests/cases/ops.txt): op, shape, layout, mode and
// the sets a case belongs to. Built into the programs that read it (library
// normkit_cases, not installed): the C++ tests, `normkit bench` and the
// functional fuzzer.
#pragma once

#include <string>
#include <vector>

#include "kernels/op_table.hpp"

namespace normkit::cases {

struct ListedCase : ops::OpCase {
  std::vector<std::string> sets;  // test, bench, quick, fuzz
  int line = 0;                   // in the list, for messages

  bool in(const std::string& set) const;
  // "batch_norm 2x3x4x5 channels_last eval", for test traces.
  std::string name() const;
};

// The cases of the built-in list that belong to `set` ("": every case), in
// the list's order; each case's seed is its line number.
std::vector<ListedCase> listed_cases(const std::string& set = "");

// Parses a list's text; an Error names the line and what is wrong.
std::vector<ListedCase> parse_case_list(const std::string& text);

// The built-in list's text.
const std::string& case_list_text();

}  // namespace normkit::cases
