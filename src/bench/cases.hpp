// The benchmark's cases: the shapes of issue 4, with normkit's implementation
// and each loaded peer's.
#pragma once

#include <memory>
#include <vector>

#include "harness.hpp"
#include "peer.hpp"

namespace normkit::bench {

// Inputs and outputs of a case stay alive as long as the case.
struct CaseSet {
  std::vector<Case> cases;
  std::vector<std::shared_ptr<void>> keep_alive;
};

// quick: a subset of shapes (tests and smoke runs).
CaseSet make_cases(const std::vector<Peer*>& peers, bool quick);

}  // namespace normkit::bench
