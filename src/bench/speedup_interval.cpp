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
  // each from its logarithm. (2^-n itself underflows past n = 1074, which
  // a run pools at --repeat 6 and more: 200 calls a pass.)
  const double dn = static_cast<double>(n), log_all = std::lgamma(dn + 1) - dn * std::log(2.0);
  const auto term_at = [&](std::int64_t i) {
    const double di = static_cast<double>(i);
    return std::exp(log_all - std::lgamma(di + 1) - std::lgamma(dn - di + 1));
  };
  double below = 0;
  std::int64_t j = 0;
  while (j < n / 2 && below + term_at(j) <= 0.025) {
    below += term_at(j);
    ++j;
  }
  if (j == 0) return std::nullopt;
  std::sort(values.begin(), values.end());
  return MedianInterval{.low = values[static_cast<std::size_t>(j - 1)],
                        .high = values[static_cast<std::size_t>(n - j)]};
}

}  // namespace normkit::bench
