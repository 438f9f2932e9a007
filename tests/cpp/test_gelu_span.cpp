// GELU's vector kernels (kernels/gelu_span.hpp) against GELU and its slope
// in double on every SIMD path, across [-12, 12], the tails and every tail
// length; the same bits on every path; NaN and the infinities.
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/gelu_span.hpp"
#include "test_util.hpp"

namespace normkit::test {
namespace {

class GeluSpan : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, GeluSpan, every_simd_path(), simd_path_param_name);

double gelu(double x) { return x * 0.5 * (1 + std::erf(x / std::sqrt(2.0))); }
double gelu_slope(double x) {
  return 0.5 * (1 + std::erf(x / std::sqrt(2.0))) + x * std::exp(-x * x / 2) / std::sqrt(2 * M_PI);
}

// Every 1/512 in [-12, 12], plus 0, -0 and numbers near them.
std::vector<float> sample_points() {
  std::vector<float> x;
  for (int i = -12 * 512; i <= 12 * 512; ++i) x.push_back(static_cast<float>(i) / 512.0f);
  for (const float v : {-0.0f, 1e-30f, -1e-30f, 1e-7f, -3e-5f, 30.0f, -30.0f, 1e10f, -1e10f}) x.push_back(v);
  return x;
}

// Erf's absolute error (A&S 7.1.26, 1.5e-7) enters y as x/2 times it, the
// slope as it is; float rounding adds a few ulp of each term.
TEST_P(GeluSpan, MatchesDoubleWithinErfsError) {
  const std::vector<float> x = sample_points();
  const auto n = static_cast<std::int64_t>(x.size());
  std::vector<float> y(x.size()), ones(x.size(), 1.0f), dx(x.size());
  kernels::gelu_forward_span(x.data(), y.data(), n);
  kernels::gelu_backward_span(ones.data(), x.data(), dx.data(), n);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    EXPECT_NEAR(y[i], gelu(v), 2.5e-7 * std::fabs(v) + 1e-7 * std::fabs(gelu(v)) + 1e-38) << "x = " << v;
    EXPECT_NEAR(dx[i], gelu_slope(v), 4e-7 + 4e-7 * std::fabs(v) * std::exp(-v * v / 2)) << "x = " << v;
  }
  // Far out: y is x (or 0) and the slope 1 (or 0), exactly.
  EXPECT_EQ(y[y.size() - 2], 1e10f);
  EXPECT_EQ(y[y.size() - 1], -0.0f);
}

TEST_P(GeluSpan, NanStaysNanAndInfinitiesAreTheLimits) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x{std::numeric_limits<float>::quiet_NaN(), inf, -inf};
  std::vector<float> y(3), dx(3), ones(3, 1.0f);
  kernels::gelu_forward_span(x.data(), y.data(), 3);
  kernels::gelu_backward_span(ones.data(), x.data(), dx.data(), 3);
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_TRUE(std::isnan(dx[0]));
  EXPECT_EQ(y[1], inf);
  EXPECT_TRUE(std::isnan(y[2]));  // -inf * 0, as PyTorch's GELU gives
  // The slope at +-inf is not finite, as PyTorch's is not (NaN there:
  // inf * exp(-inf); here exp's clamp at -87 leaves +-inf * 1e-38).
  EXPECT_FALSE(std::isfinite(dx[1]));
  EXPECT_FALSE(std::isfinite(dx[2]));
}

// The same bits on every path, for every length up to 40 (the tails) and
// a long span.
TEST(GeluSpanPaths, EveryPathGivesThePortableBits) {
  const std::vector<float> x = normal_values<float>(1000, 5, 0.0f, 3.0f), g = normal_values<float>(1000, 6, 0.0f, 1.0f);
  const SimdPath before = current_simd_path();
  std::vector<std::vector<float>> runs;
  for (const SimdPath path : simd_paths()) {
    set_simd_path(path);
    std::vector<float> out;
    for (const std::int64_t n : {1, 3, 7, 15, 16, 17, 33, 40, 1000}) {
      std::vector<float> y(static_cast<std::size_t>(n)), dx(static_cast<std::size_t>(n));
      kernels::gelu_forward_span(x.data(), y.data(), n);
      kernels::gelu_backward_span(g.data(), x.data(), dx.data(), n);
      out.insert(out.end(), y.begin(), y.end());
      out.insert(out.end(), dx.begin(), dx.end());
    }
    runs.push_back(out);
  }
  set_simd_path(before);
  for (std::size_t p = 1; p < runs.size(); ++p) EXPECT_TRUE(same_bits(runs[p], runs[0])) << "path " << p;
}

}  // namespace
}  // namespace normkit::test
