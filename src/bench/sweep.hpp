// The size sweep of `normkit bench`: BatchNorm training forward (NCHW) and
// LayerNorm forward from cache-resident to DRAM-sized inputs, normkit's
// effective bandwidth against the copy bandwidth at each size, written as CSV and plotted
// with gnuplot when it is installed.
#pragma once

#include <string>
#include <vector>

#include "peer.hpp"

namespace normkit::bench {

// Writes DIR/sweep.csv and, when gnuplot is on PATH, DIR/sweep.png; returns
// the note to print.
std::string run_sweep(const std::vector<Peer*>& peers, int threads, const std::string& dir, bool quick);

}  // namespace normkit::bench
