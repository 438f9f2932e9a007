// What a measurement repeated over seeds says: its mean and 95% confidence
// interval (Student's t), and whether a difference between two arms agrees
// with a published claim, disagrees with it, or cannot tell (the interval
// holds zero, or there is one seed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace normkit::lab {

struct Interval {
  double mean = 0;
  double half_width = 0;  // the 95% t interval is mean ± half_width (infinite with one value)
  std::int64_t n = 0;

  double low() const { return mean - half_width; }
  double high() const { return mean + half_width; }
  // "0.8912 ± 0.0031" with `format` for both numbers ("0.8912" alone for one value).
  std::string text(const char* format) const;
};

// The two-sided 97.5% quantile of Student's t with `degrees` degrees of
// freedom (>= 1): 12.706 at 1, 2.776 at 4, 1.960 in the limit.
double t_quantile_975(std::int64_t degrees);

// Mean and 95% t interval of `values` (at least one).
Interval t_interval(const std::vector<double>& values);

// a[i] - b[i]: the differences of two arms paired by seed (same length).
std::vector<double> paired_differences(const std::vector<double>& a, const std::vector<double>& b);

enum class Finding { agrees, disagrees, inconclusive };

// The claim "the difference is positive" (or negative, when !positive):
// agrees when the whole interval lies on the claim's side of zero, disagrees
// when it lies on the other side, inconclusive when it holds zero.
Finding judge(const Interval& difference, bool positive);

// The report's line for a finding over n seeds: "Measured here: agrees with
// the paper: ...", "... DISAGREES with the paper: ..." or "Measured here:
// inconclusive (n seeds): ...".
std::string verdict(Finding finding, std::int64_t seeds, const std::string& what);
// The line's start, "Measured here: agrees with the paper: ".
std::string verdict_head(Finding finding, std::int64_t seeds);

}  // namespace normkit::lab
