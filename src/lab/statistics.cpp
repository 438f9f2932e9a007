#include "statistics.hpp"

#include <cmath>
#include <cstdio>
#include <limits>

#include "normkit/error.hpp"

namespace normkit::lab {

std::string Interval::text(const char* format) const {
  char mean_text[64], half_text[64];
  std::snprintf(mean_text, sizeof mean_text, format, mean);
  if (n < 2) return mean_text;
  std::snprintf(half_text, sizeof half_text, format, half_width);
  return std::string(mean_text) + " ± " + half_text;
}

double t_quantile_975(std::int64_t degrees) {
  NORMKIT_CHECK(degrees >= 1, "t_quantile_975: degrees: expected >= 1, got ", degrees);
  // Student's t, two-sided 95%, for 1 to 30 degrees of freedom (standard tables).
  static constexpr double kTable[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                      2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                      2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (degrees <= 30) return kTable[degrees - 1];
  // Beyond the table: the normal quantile with the first two terms of the
  // Cornish-Fisher expansion in 1/degrees, within 0.0005 of the exact value.
  const double z = 1.959964, nu = static_cast<double>(degrees);
  const double z3 = z * z * z, z5 = z3 * z * z;
  return z + (z3 + z) / (4 * nu) + (5 * z5 + 16 * z3 + 3 * z) / (96 * nu * nu);
}

Interval t_interval(const std::vector<double>& values) {
  NORMKIT_CHECK(!values.empty(), "t_interval: values: expected at least one");
  const auto n = static_cast<std::int64_t>(values.size());
  double sum = 0;
  for (const double v : values) sum += v;
  const double mean = sum / static_cast<double>(n);
  if (n == 1) return {mean, std::numeric_limits<double>::infinity(), 1};
  double squares = 0;
  for (const double v : values) squares += (v - mean) * (v - mean);
  const double sd = std::sqrt(squares / static_cast<double>(n - 1));
  return {mean, t_quantile_975(n - 1) * sd / std::sqrt(static_cast<double>(n)), n};
}

std::vector<double> paired_differences(const std::vector<double>& a, const std::vector<double>& b) {
  NORMKIT_CHECK(a.size() == b.size(), "paired_differences: expected arms of as many seeds, got ", a.size(), " and ",
                b.size());
  std::vector<double> d;
  for (std::size_t i = 0; i < a.size(); ++i) d.push_back(a[i] - b[i]);
  return d;
}

Finding judge(const Interval& difference, bool positive) {
  if (difference.low() > 0) return positive ? Finding::agrees : Finding::disagrees;
  if (difference.high() < 0) return positive ? Finding::disagrees : Finding::agrees;
  return Finding::inconclusive;
}

std::string verdict_head(Finding finding, std::int64_t seeds) {
  const std::string head = finding == Finding::agrees      ? "agrees with the paper"
                           : finding == Finding::disagrees ? "DISAGREES with the paper"
                                                           : "inconclusive (" + std::to_string(seeds) +
                                                                 (seeds == 1 ? " seed)" : " seeds)");
  return "Measured here: " + head + ": ";
}

std::string verdict(Finding finding, std::int64_t seeds, const std::string& what) {
  return verdict_head(finding, seeds) + what + "\n\n";
}

}  // namespace normkit::lab
