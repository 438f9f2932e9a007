#include "channel_coefficients.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "channel_apply.hpp"
#include "core/simd_dispatch.hpp"

// This file is compiled with -fno-math-errno (CMakeLists.txt): a
// std::sqrt that may set errno does not vectorize, and nothing here reads
// errno. The square root itself is the same correctly rounded one.

namespace normkit::kernels {
namespace {

// The loops below vectorize with the lanes of the wrapper's target
// (`omp simd`: each channel's expression is independent of the others').

[[gnu::always_inline]] inline void batch_statistics_body(const BatchStatisticsArgs& a) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
#pragma omp simd
  for (std::int64_t j = 0; j < a.n; ++j) {
    const double mean = a.empty ? nan : a.stats[j].mean;
    const double var = a.empty ? nan : a.stats[j].biased_var();
    a.mean[j] = mean;
    a.var[j] = var;
    a.invstd[j] = inverse_std_of(var, a.eps);
  }
}

// Channel j's centre in out: the mean as a float pair (center_pair).
[[gnu::always_inline]] inline void set_center(const NormalizeCoefficientsOut& out, std::int64_t j, double mean) {
  const CenterPair c = center_pair(mean);
  out.hi[j] = c.hi;
  out.lo[j] = c.lo;
}

[[gnu::always_inline]] inline void train_coefficients_body(const TrainCoefficientsArgs& a) {
  const ChannelAffine& f = a.affine;
  const NormalizeCoefficientsOut& out = a.out;
#pragma omp simd
  for (std::int64_t j = 0; j < a.n; ++j) {
    set_center(out, j, a.mean[j]);
    out.scale[j] = static_cast<float>(a.invstd[j] * f.r[j] * f.gamma[j]);
    out.shift[j] = static_cast<float>(f.beta[j] + f.d[j] * f.gamma[j]);
  }
}

[[gnu::always_inline]] inline void eval_coefficients_body(const EvalCoefficientsArgs& a) {
  const NormalizeCoefficientsOut& out = a.out;
#pragma omp simd
  for (std::int64_t j = 0; j < a.n; ++j) {
    set_center(out, j, a.running_mean[j]);
    out.scale[j] = static_cast<float>(a.gamma[j] / std::sqrt(a.running_var[j] + a.eps));
    out.shift[j] = a.beta[j];
  }
}

struct InverseStdArgs {
  const double* var;
  double eps;
  std::int64_t n;
  double* out;
};
[[gnu::always_inline]] inline void inverse_std_body(const InverseStdArgs& a) {
#pragma omp simd
  for (std::int64_t j = 0; j < a.n; ++j) a.out[j] = inverse_std_of(a.var[j], a.eps);
}

// The groups' terms are summed into a block of channels at a time, group
// by group: each channel's sum in the groups' order, as a loop over the
// groups per channel would add them.
[[gnu::always_inline]] inline void running_update_body(const RunningUpdateArgs& a) {
  constexpr std::int64_t kBlock = 256;
  const double G = static_cast<double>(a.groups), count = a.count, momentum = a.momentum;
  for (std::int64_t c0 = 0; c0 < a.C; c0 += kBlock) {
    const std::int64_t n = std::min(kBlock, a.C - c0);
    double mean_of_means[kBlock], mean_of_vars[kBlock];
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) mean_of_means[j] = mean_of_vars[j] = 0;
    for (std::int64_t g = 0; g < a.groups; ++g) {
      const double* mean = a.mean + g * a.C + c0;
      const double* var = a.var + g * a.C + c0;
#pragma omp simd
      for (std::int64_t j = 0; j < n; ++j) {
        mean_of_means[j] += mean[j] / G;
        mean_of_vars[j] += (a.unbiased ? var[j] * count / (count - 1) : var[j]) / G;
      }
    }
    double* rm = a.running_mean + c0;
    double* rv = a.running_var + c0;
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) {
      rm[j] = (1 - momentum) * rm[j] + momentum * mean_of_means[j];
      rv[j] = (1 - momentum) * rv[j] + momentum * mean_of_vars[j];
    }
  }
}

[[gnu::always_inline]] inline void input_grad_coefficients_body(const InputGradCoefficientsArgs& a) {
  const double m = a.m;
#pragma omp simd
  for (std::int64_t j = 0; j < a.n; ++j) {
    const double invstd = a.invstd[j];
    const double scale = a.gamma[j] * a.r[j] * invstd;
    a.k_dy[j] = static_cast<float>(scale);
    a.k_x[j] = a.batch_stats ? static_cast<float>(-scale * invstd * invstd * a.sums[j].sum_dy_xc / m) : 0.0f;
    a.k_0[j] = a.batch_stats ? static_cast<float>(-scale * a.sums[j].sum_dy / m) : 0.0f;
  }
}

struct WidenColumnSumsArgs {
  const float* g;
  const float* gx;
  std::int64_t n;
  GradSums* out;
};
[[gnu::always_inline]] inline void widen_column_sums_body(const WidenColumnSumsArgs& a) {
#pragma omp simd
  for (std::int64_t d = 0; d < a.n; ++d) a.out[d] = {a.g[d], a.gx[d]};
}

struct NarrowColumnSumsArgs {
  const GradSums* sums;
  std::int64_t n;
  float* dweight;
  float* dbias;
};
// One loop per output: a loop that tests for each output inside does not
// vectorize.
[[gnu::always_inline]] inline void narrow_column_sums_body(const NarrowColumnSumsArgs& a) {
  if (a.dweight != nullptr) {
#pragma omp simd
    for (std::int64_t d = 0; d < a.n; ++d) a.dweight[d] = static_cast<float>(a.sums[d].sum_dy_xc);
  }
  if (a.dbias != nullptr) {
#pragma omp simd
    for (std::int64_t d = 0; d < a.n; ++d) a.dbias[d] = static_cast<float>(a.sums[d].sum_dy);
  }
}

}  // namespace

// One wrapper per instruction set around each body, and the dispatching
// entry point.
#if NORMKIT_X86_DISPATCH
#define NORMKIT_CHANNEL_KERNEL(name, Args)                                       \
  namespace {                                                                    \
  void name##_portable(const Args& a) { name##_body(a); }                        \
  NORMKIT_TARGET_AVX2 void name##_avx2(const Args& a) { name##_body(a); }        \
  NORMKIT_TARGET_AVX512 void name##_avx512(const Args& a) { name##_body(a); }    \
  void name##_dispatch(const Args& a) { NORMKIT_DISPATCH(name, a); }             \
  }
#else
#define NORMKIT_CHANNEL_KERNEL(name, Args)                \
  namespace {                                             \
  void name##_portable(const Args& a) { name##_body(a); } \
  void name##_dispatch(const Args& a) { NORMKIT_DISPATCH(name, a); } \
  }
#endif
NORMKIT_CHANNEL_KERNEL(batch_statistics, BatchStatisticsArgs)
NORMKIT_CHANNEL_KERNEL(train_coefficients, TrainCoefficientsArgs)
NORMKIT_CHANNEL_KERNEL(eval_coefficients, EvalCoefficientsArgs)
NORMKIT_CHANNEL_KERNEL(inverse_std, InverseStdArgs)
NORMKIT_CHANNEL_KERNEL(running_update, RunningUpdateArgs)
NORMKIT_CHANNEL_KERNEL(input_grad_coefficients, InputGradCoefficientsArgs)
NORMKIT_CHANNEL_KERNEL(widen_column_sums, WidenColumnSumsArgs)
NORMKIT_CHANNEL_KERNEL(narrow_column_sums, NarrowColumnSumsArgs)
#undef NORMKIT_CHANNEL_KERNEL

void batch_statistics(const BatchStatisticsArgs& args) { batch_statistics_dispatch(args); }
void train_coefficients(const TrainCoefficientsArgs& args) { train_coefficients_dispatch(args); }
void eval_coefficients(const EvalCoefficientsArgs& args) { eval_coefficients_dispatch(args); }
void inverse_std(const double* var, double eps, std::int64_t n, double* out) {
  inverse_std_dispatch(InverseStdArgs{var, eps, n, out});
}
void running_update(const RunningUpdateArgs& args) { running_update_dispatch(args); }
void input_grad_coefficients(const InputGradCoefficientsArgs& args) { input_grad_coefficients_dispatch(args); }
void widen_column_sums(const float* g, const float* gx, std::int64_t n, GradSums* out) {
  widen_column_sums_dispatch(WidenColumnSumsArgs{g, gx, n, out});
}
void narrow_column_sums(const GradSums* sums, std::int64_t n, float* dweight, float* dbias) {
  narrow_column_sums_dispatch(NarrowColumnSumsArgs{sums, n, dweight, dbias});
}

}  // namespace normkit::kernels
