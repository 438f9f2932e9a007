// The family's arithmetic per channel, in double, over spans of channels:
// BatchNorm's statistics from the moments, the coefficients of its
// normalize and input-gradient passes (channel_apply.hpp), its running
// statistics' update; the row norms' column sums between float and double.
// Each is one loop over the span that vectorizes on every instruction set
// (core/simd_dispatch.hpp): a division and a square root per channel, one
// channel at a time, were 14% of a (256, 1024) training forward.
// Every lane computes the scalar expression in IEEE double, whose
// divisions and square roots are correctly rounded, with no FMA
// contraction: the bits are those of the plain loop on every path, and a
// span of one channel gets the bits of that channel in a longer span.
#pragma once

#include <cstdint>

#include "grad_sums.hpp"
#include "moments.hpp"

namespace normkit::kernels {

// The batch statistics of n channels: mean, biased variance and
// 1 / sqrt(var + eps); NaN mean and variance (so NaN invstd) when the
// batch has no values (`empty`).
struct BatchStatisticsArgs {
  const Moments* stats = nullptr;
  std::int64_t n = 0;
  bool empty = false;
  double eps = 0;
  double* mean = nullptr;
  double* var = nullptr;
  double* invstd = nullptr;
};
void batch_statistics(const BatchStatisticsArgs& args);

// The affine part of n channels as BatchNorm applies it: gamma and beta
// (float), Batch Renorm's r and d (double; 1 and 0 otherwise).
struct ChannelAffine {
  const float* gamma = nullptr;
  const float* beta = nullptr;
  const double* r = nullptr;
  const double* d = nullptr;
};

// Where the normalize pass's coefficients of n channels go (y = ((x - hi)
// - lo) * scale + shift; hi + lo is the mean as a float pair).
struct NormalizeCoefficientsOut {
  float* hi = nullptr;
  float* lo = nullptr;
  float* scale = nullptr;
  float* shift = nullptr;
};

// Those coefficients in training: scale = float(invstd * r * gamma), shift
// = float(beta + d * gamma).
struct TrainCoefficientsArgs {
  const double* mean = nullptr;
  const double* invstd = nullptr;
  ChannelAffine affine;  // beta, gamma, r, d of the same n channels
  std::int64_t n = 0;
  NormalizeCoefficientsOut out;
};
void train_coefficients(const TrainCoefficientsArgs& args);

// The same in eval mode, from the running statistics (as double):
// scale = float(gamma / sqrt(running_var + eps)), shift = beta.
struct EvalCoefficientsArgs {
  const double* running_mean = nullptr;
  const double* running_var = nullptr;
  const float* gamma = nullptr;
  const float* beta = nullptr;
  double eps = 0;
  std::int64_t n = 0;
  NormalizeCoefficientsOut out;
};
void eval_coefficients(const EvalCoefficientsArgs& args);

// 1 / sqrt(var + eps) of n channels (the running variance in eval mode).
void inverse_std(const double* var, double eps, std::int64_t n, double* out);

// The running statistics of C channels moved towards the mean over G
// groups (Ghost BN's; G = 1 otherwise) of each channel's batch mean and
// variance (mean and var: (G, C)), the variance unbiased with `count`
// values per group if asked: running = (1 - momentum) * running + momentum
// * sum over g of (value / G), the groups in order.
struct RunningUpdateArgs {
  const double* mean = nullptr;
  const double* var = nullptr;
  std::int64_t groups = 1, C = 0;
  double count = 0, momentum = 0;
  bool unbiased = false;
  double* running_mean = nullptr;
  double* running_var = nullptr;
};
void running_update(const RunningUpdateArgs& args);

// The input-gradient pass's coefficients of n channels (dx = dy * k_dy +
// (x - mean) * k_x + k_0), with scale = gamma * r * invstd: k_dy =
// float(scale), and from the channel's sums over its m values, when
// `batch_stats` (0 otherwise), k_x = float(-scale * invstd * invstd *
// sum_dy_xc / m), k_0 = float(-scale * sum_dy / m).
struct InputGradCoefficientsArgs {
  const double* invstd = nullptr;
  const GradSums* sums = nullptr;
  const float* gamma = nullptr;
  const double* r = nullptr;
  double m = 0;
  bool batch_stats = false;
  std::int64_t n = 0;
  float* k_dy = nullptr;
  float* k_x = nullptr;
  float* k_0 = nullptr;
};
void input_grad_coefficients(const InputGradCoefficientsArgs& args);

// The row norms' column sums of one block of rows, accumulated in float,
// as the engine's partials: out[d] = {g[d], gx[d]}, d < n (exact).
void widen_column_sums(const float* g, const float* gx, std::int64_t n, GradSums* out);
// The weight and bias gradients from merged column sums: dweight[d] =
// float(sum_dy_xc), dbias[d] = float(sum_dy), d < n; either may be null.
void narrow_column_sums(const GradSums* sums, std::int64_t n, float* dweight, float* dbias);

}  // namespace normkit::kernels
