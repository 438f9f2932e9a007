// How sure a speed-up is. The harness times normkit and each peer
// interleaved (call by call, or block by block in rounds), so each call of a
// peer has a call of normkit's beside it: their ratios, pooled over the
// passes of a run, give a speed-up (their median) and a distribution-free
// 95% interval of that median (the sign test's order statistics: no
// assumption about the shape of a VM's timing noise). A row a few percent
// either side of level then says whether the run tells the two apart.
#pragma once

#include <optional>
#include <vector>

namespace normkit::bench {

double median(std::vector<double> values);  // of at least one value

// theirs[k] / ours[k]: the ratios of calls timed side by side (k < the
// shorter length).
std::vector<double> paired_ratios(const std::vector<double>& theirs, const std::vector<double>& ours);

struct MedianInterval {
  double low = 0, high = 0;
};

// The 95% interval [v(j), v(n + 1 - j)] of the median of n values (v sorted,
// 1-based), j the largest with P(Binomial(n, 1/2) < j) <= 0.025: at least
// 95% coverage for any continuous distribution. None for n < 6, where even
// the whole range covers less.
std::optional<MedianInterval> median_interval(std::vector<double> values);

}  // namespace normkit::bench
