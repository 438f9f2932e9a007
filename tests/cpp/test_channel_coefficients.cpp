// The per-channel arithmetic (vectorized on every SIMD path) against
// the plain scalar expressions, bit for bit, on spans of every length around
// the vector widths, from unaligned starts, with special values among the
// inputs.
#include "kernels/channel_coefficients.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "test_util.hpp"

namespace normkit::test {
namespace {

class ChannelCoefficients : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, ChannelCoefficients, every_simd_path(), simd_path_param_name);

using kernels::GradSums;
using kernels::Moments;

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Span lengths around 2, 4 and 8 doubles (and 256, the running update's block).
const std::int64_t kLengths[] = {1, 2, 3, 5, 7, 8, 9, 15, 17, 31, 64, 255, 257, 300};

// The same bits, or both NaN (no payload is promised).
template <typename T>
void expect_same(const std::vector<T>& got, const std::vector<T>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t j = 0; j < got.size(); ++j) {
    if (std::isnan(got[j]) && std::isnan(want[j])) continue;
    EXPECT_EQ(0, std::memcmp(&got[j], &want[j], sizeof(T))) << what << "[" << j << "]: " << got[j] << " against "
                                                             << want[j];
  }
}

// Values of every kind: ordinary, large, tiny, signed zeros, infinities, NaN.
struct Values {
  std::mt19937_64 rng;
  explicit Values(std::uint64_t seed) : rng(seed) {}
  double any() {
    std::uniform_int_distribution<int> kind(0, 15);
    std::normal_distribution<double> normal(0.0, 1.0);
    switch (kind(rng)) {
      case 0: return 0.0;
      case 1: return -0.0;
      case 2: return kInf;
      case 3: return kNan;
      case 4: return 1e4 + normal(rng);
      case 5: return 1e-30 * normal(rng);
      default: return 3.0 * normal(rng);
    }
  }
  double positive() { return std::abs(any()); }
  std::vector<double> doubles(std::int64_t n, bool positive_only = false) {
    std::vector<double> v(static_cast<std::size_t>(n));
    for (double& x : v) x = positive_only ? positive() : any();
    return v;
  }
  std::vector<float> floats(std::int64_t n) {
    std::vector<float> v(static_cast<std::size_t>(n));
    for (float& x : v) x = static_cast<float>(any());
    return v;
  }
};

TEST_P(ChannelCoefficients, BatchStatisticsAsScalar) {
  Values values(1);
  for (const std::int64_t n : kLengths)
    for (const bool empty : {false, true}) {
      std::vector<Moments> stats(static_cast<std::size_t>(n + 1));
      std::uniform_int_distribution<int> count(1, 5000);
      for (Moments& m : stats) m = {static_cast<double>(count(values.rng)), values.any(), values.positive()};
      const double eps = 1e-5;
      std::vector<double> mean(n), var(n), invstd(n);
      // From the second element: spans that start off the vectors' alignment.
      kernels::batch_statistics({.stats = stats.data() + 1,
                                 .n = n,
                                 .empty = empty,
                                 .eps = eps,
                                 .mean = mean.data(),
                                 .var = var.data(),
                                 .invstd = invstd.data()});
      std::vector<double> want_mean(n), want_var(n), want_invstd(n);
      for (std::int64_t j = 0; j < n; ++j) {
        const Moments& m = stats[static_cast<std::size_t>(j + 1)];
        want_mean[j] = empty ? kNan : m.mean;
        want_var[j] = empty ? kNan : m.biased_var();
        want_invstd[j] = 1.0 / std::sqrt(want_var[j] + eps);
      }
      expect_same(mean, want_mean, "mean");
      expect_same(var, want_var, "var");
      expect_same(invstd, want_invstd, "invstd");
    }
}

TEST_P(ChannelCoefficients, TrainAndEvalCoefficientsAsScalar) {
  Values values(2);
  for (const std::int64_t n : kLengths) {
    const std::vector<double> mean = values.doubles(n + 1), invstd = values.doubles(n + 1, true);
    const std::vector<double> r = values.doubles(n + 1), d = values.doubles(n + 1);
    const std::vector<float> gamma = values.floats(n + 1), beta = values.floats(n + 1);
    std::vector<float> hi(n), lo(n), scale(n), shift(n);
    kernels::train_coefficients(
        {.mean = mean.data() + 1,
         .invstd = invstd.data() + 1,
         .affine = {.gamma = gamma.data() + 1, .beta = beta.data() + 1, .r = r.data() + 1, .d = d.data() + 1},
         .n = n,
         .out = {.hi = hi.data(), .lo = lo.data(), .scale = scale.data(), .shift = shift.data()}});
    std::vector<float> want_hi(n), want_lo(n), want_scale(n), want_shift(n);
    for (std::int64_t j = 0; j < n; ++j) {
      const std::size_t i = static_cast<std::size_t>(j + 1);
      want_hi[j] = static_cast<float>(mean[i]);
      want_lo[j] = static_cast<float>(mean[i] - want_hi[j]);
      want_scale[j] = static_cast<float>(invstd[i] * r[i] * gamma[i]);
      want_shift[j] = static_cast<float>(beta[i] + d[i] * gamma[i]);
    }
    expect_same(hi, want_hi, "hi");
    expect_same(lo, want_lo, "lo");
    expect_same(scale, want_scale, "scale");
    expect_same(shift, want_shift, "shift");

    const std::vector<double> running_var = values.doubles(n + 1);  // negative ones too: NaN
    const double eps = 1e-3;
    kernels::eval_coefficients({.running_mean = mean.data() + 1,
                                .running_var = running_var.data() + 1,
                                .gamma = gamma.data() + 1,
                                .beta = beta.data() + 1,
                                .eps = eps,
                                .n = n,
                                .out = {.hi = hi.data(), .lo = lo.data(), .scale = scale.data(), .shift = shift.data()}});
    std::vector<double> inv(n), want_inv(n);
    kernels::inverse_std(running_var.data() + 1, eps, n, inv.data());
    for (std::int64_t j = 0; j < n; ++j) {
      const std::size_t i = static_cast<std::size_t>(j + 1);
      want_scale[j] = static_cast<float>(gamma[i] / std::sqrt(running_var[i] + eps));
      want_shift[j] = beta[i];
      want_inv[j] = 1.0 / std::sqrt(running_var[i] + eps);
    }
    expect_same(hi, want_hi, "eval hi");
    expect_same(lo, want_lo, "eval lo");
    expect_same(scale, want_scale, "eval scale");
    expect_same(shift, want_shift, "eval shift");
    expect_same(inv, want_inv, "inverse_std");
  }
}

TEST_P(ChannelCoefficients, RunningUpdateAsScalar) {
  Values values(3);
  for (const std::int64_t C : kLengths)
    for (const std::int64_t groups : {1, 3})
      for (const bool unbiased : {true, false})
        for (const double count : {1.0, 2.0, 37.0}) {  // 1: an unbiased variance divides by 0
          const std::vector<double> mean = values.doubles(groups * C), var = values.doubles(groups * C, true);
          std::vector<double> running_mean = values.doubles(C), running_var = values.doubles(C, true);
          std::vector<double> want_mean = running_mean, want_var = running_var;
          const double momentum = 0.1, G = static_cast<double>(groups);
          kernels::running_update({.mean = mean.data(),
                                   .var = var.data(),
                                   .groups = groups,
                                   .C = C,
                                   .count = count,
                                   .momentum = momentum,
                                   .unbiased = unbiased,
                                   .running_mean = running_mean.data(),
                                   .running_var = running_var.data()});
          for (std::int64_t c = 0; c < C; ++c) {
            double mean_of_means = 0, mean_of_vars = 0;
            for (std::int64_t g = 0; g < groups; ++g) {
              const double v = var[g * C + c];
              mean_of_means += mean[g * C + c] / G;
              mean_of_vars += (unbiased ? v * count / (count - 1) : v) / G;
            }
            want_mean[c] = (1 - momentum) * want_mean[c] + momentum * mean_of_means;
            want_var[c] = (1 - momentum) * want_var[c] + momentum * mean_of_vars;
          }
          expect_same(running_mean, want_mean, "running_mean");
          expect_same(running_var, want_var, "running_var");
        }
}

TEST_P(ChannelCoefficients, InputGradCoefficientsAsScalar) {
  Values values(4);
  for (const std::int64_t n : kLengths)
    for (const bool batch_stats : {true, false}) {
      const std::vector<double> invstd = values.doubles(n + 1, true), r = values.doubles(n + 1);
      const std::vector<float> gamma = values.floats(n + 1);
      std::vector<GradSums> sums(static_cast<std::size_t>(n + 1));
      for (GradSums& s : sums) s = {values.any(), values.any()};
      const double m = 1000.0;
      std::vector<float> k_dy(n), k_x(n), k_0(n);
      kernels::input_grad_coefficients({.invstd = invstd.data() + 1,
                                        .sums = sums.data() + 1,
                                        .gamma = gamma.data() + 1,
                                        .r = r.data() + 1,
                                        .m = m,
                                        .batch_stats = batch_stats,
                                        .n = n,
                                        .k_dy = k_dy.data(),
                                        .k_x = k_x.data(),
                                        .k_0 = k_0.data()});
      std::vector<float> want_dy(n), want_x(n), want_0(n);
      for (std::int64_t j = 0; j < n; ++j) {
        const std::size_t i = static_cast<std::size_t>(j + 1);
        const double scale = gamma[i] * r[i] * invstd[i];
        want_dy[j] = static_cast<float>(scale);
        want_x[j] = batch_stats ? static_cast<float>(-scale * invstd[i] * invstd[i] * sums[i].sum_dy_xc / m) : 0.0f;
        want_0[j] = batch_stats ? static_cast<float>(-scale * sums[i].sum_dy / m) : 0.0f;
      }
      expect_same(k_dy, want_dy, "k_dy");
      expect_same(k_x, want_x, "k_x");
      expect_same(k_0, want_0, "k_0");
    }
}

TEST_P(ChannelCoefficients, ColumnSumsWidenAndNarrowAsScalar) {
  Values values(5);
  for (const std::int64_t n : kLengths) {
    const std::vector<float> g = values.floats(n + 1), gx = values.floats(n + 1);
    std::vector<GradSums> sums(static_cast<std::size_t>(n));
    kernels::widen_column_sums(g.data() + 1, gx.data() + 1, n, sums.data());
    std::vector<double> got_dy(n), got_dy_xc(n), want_dy(n), want_dy_xc(n);
    for (std::int64_t d = 0; d < n; ++d) {
      got_dy[d] = sums[d].sum_dy;
      got_dy_xc[d] = sums[d].sum_dy_xc;
      want_dy[d] = g[d + 1];
      want_dy_xc[d] = gx[d + 1];
    }
    expect_same(got_dy, want_dy, "sum_dy");
    expect_same(got_dy_xc, want_dy_xc, "sum_dy_xc");

    // Sums of double values (merged over blocks) narrowed to float; each
    // output alone or both.
    for (GradSums& s : sums) s = {values.any(), values.any()};
    std::vector<float> want_weight(n), want_bias(n);
    for (std::int64_t d = 0; d < n; ++d) {
      want_weight[d] = static_cast<float>(sums[d].sum_dy_xc);
      want_bias[d] = static_cast<float>(sums[d].sum_dy);
    }
    std::vector<float> dweight(n), dbias(n);
    kernels::narrow_column_sums(sums.data(), n, dweight.data(), dbias.data());
    expect_same(dweight, want_weight, "dweight");
    expect_same(dbias, want_bias, "dbias");
    std::vector<float> only_weight(n, 7.0f), only_bias(n, 7.0f);
    kernels::narrow_column_sums(sums.data(), n, only_weight.data(), nullptr);
    kernels::narrow_column_sums(sums.data(), n, nullptr, only_bias.data());
    expect_same(only_weight, want_weight, "dweight alone");
    expect_same(only_bias, want_bias, "dbias alone");
  }
}

}  // namespace
}  // namespace normkit::test
