// The benchmark's cases: those of the shared list's bench set (quick: its
// quick set; tests/cases/ops.txt), run through the op table
// (kernels/op_table.hpp): each op's forward, and in train mode its forward and
// backward, with normkit's implementation and each loaded peer's.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"
#include "peer.hpp"

namespace normkit::bench {

// Inputs and outputs of a case stay alive as long as the case.
struct CaseSet {
  std::vector<Case> cases;
  std::vector<std::shared_ptr<void>> keep_alive;
};

// quick: a subset of shapes (tests and smoke runs). Only the cases whose
// "op shape" (Case::op, a space, Case::shape) contains `filter` are set up:
// a filtered run allocates only what it times.
CaseSet make_cases(const std::vector<Peer*>& peers, bool quick, const std::string& filter = "");

}  // namespace normkit::bench
