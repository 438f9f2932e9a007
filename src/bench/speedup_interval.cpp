#include "speedup_interval.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "normkit/error.hpp"

namespace normkit::bench {

double median(std::vector<double> values) {
  NORMKIT_CHECK(!values.empty(), "median: values: expected at least one");
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::vector<double> paired_ratios(const std::vector<double>& theirs, const std::vector<double>& ours) {
  std::vector<double> ratios;
  for (std::size_t k = 0; k < std::min(theirs.size(), ours.size()); ++k) ratios.push_back(theirs[k] / ours[k]);
  return ratios;
}

std::optional<MedianInterval> median_interval(std::vector<double> values) {
  const auto n = static_cast<std::int64_t>(values.size());
  // P(B < j) for B ~ Binomial(n, 1/2), summed term by term: C(n, i) / 2^n,
  // each from the one before (2^-n underflows only past n = 1074; the
  // harness pools a few hundred ratios at most).
  double below = 0, term = std::ldexp(1.0, static_cast<int>(-std::min<std::int64_t>(n, 1074)));
  std::int64_t j = 0;
  while (j < n / 2 && below + term <= 0.025) {
    below += term;
    term = term * static_cast<double>(n - j) / static_cast<double>(j + 1);
    ++j;
  }
  if (j == 0) return std::nullopt;
  std::sort(values.begin(), values.end());
  return MedianInterval{.low = values[static_cast<std::size_t>(j - 1)],
                        .high = values[static_cast<std::size_t>(n - j)]};
}

}  // namespace normkit::bench
