#include "group_stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "blocked_reduce.hpp"
#include "elementwise.hpp"
#include "parallel.hpp"
#include "moments.hpp"
#include "stream_store.hpp"
#include "vectors.hpp"

namespace normkit::kernels {
namespace {

// Chan merge of the channels [lo, hi) of one sample, in a fixed pairwise tree.
// A group of no channels (GroupNorm of 0 channels) has empty moments (the
// functional fuzzer found the recursion that never ended).
Moments merge_channels(const Moments* per_channel, std::int64_t lo, std::int64_t hi) {
  if (hi <= lo) return Moments{};
  if (hi - lo == 1) return per_channel[lo];
  const std::int64_t mid = lo + (hi - lo) / 2;
  return Moments::merge(merge_channels(per_channel, lo, mid), merge_channels(per_channel, mid, hi));
}

}  // namespace

NormPlan per_channel_plan(const GroupShape& s, Layout layout) {
  if (layout == Layout::channels_last) return {s.N, s.S, s.C, 1, s.S};
  return {s.N, 1, s.C, s.S, 1};
}

template <typename T>
void group_statistics(const T* x, Layout layout, const GroupShape& s, double eps, std::vector<double>& mean,
                      std::vector<double>& rstd, std::vector<double>* biased_var) {
  std::vector<Moments> per_channel(s.N * s.C);
  moments(MomentsArgsOf<T>{.x = x, .plan = per_channel_plan(s, layout), .out = per_channel.data()});
  mean.assign(s.N * s.G, 0.0);
  rstd.assign(s.N * s.G, 0.0);
  if (biased_var != nullptr) biased_var->assign(s.N * s.G, 0.0);
  const std::int64_t Cg = s.group_channels();
  for (std::int64_t n = 0; n < s.N; ++n)
    for (std::int64_t g = 0; g < s.G; ++g) {
      const std::int64_t i = n * s.G + g;
      const Moments merged = merge_channels(per_channel.data() + n * s.C, g * Cg, (g + 1) * Cg);
      const bool empty = merged.count == 0;
      const double var = empty ? std::numeric_limits<double>::quiet_NaN() : merged.biased_var();
      mean[i] = empty ? std::numeric_limits<double>::quiet_NaN() : merged.mean;
      rstd[i] = 1.0 / std::sqrt(var + eps);
      if (biased_var != nullptr) (*biased_var)[i] = var;
    }
}

bool fuses_groups(const GroupShape& s, Layout layout) {
  constexpr std::int64_t kGroupBytes = 256 << 10;  // half of this machine's L2
  return layout == Layout::contiguous && s.N > 0 && s.S > 0 && s.group_channels() > 0 &&
         s.group_channels() * s.S * static_cast<std::int64_t>(sizeof(float)) <= kGroupBytes;
}

template <typename T>
void fused_group_norm(const FusedGroupArgs<T>& a) {
  const GroupShape& s = a.shape;
  const std::int64_t Cg = s.group_channels(), S = s.S;
  const bool stream = stream_output(s.N * s.C * S);
  parallel_region(threads_for(s.N * s.C * S), [&] {
    std::vector<Moments> per_channel(static_cast<std::size_t>(Cg));
#pragma omp for schedule(static) nowait
    for (std::int64_t item = 0; item < s.N * s.G; ++item) {
      const std::int64_t n = item / s.G, g = item % s.G, c0 = g * Cg;
      const T* x = a.x + (n * s.C + c0) * S;  // the group's planes, (Cg, S)
      T* y = a.y + (n * s.C + c0) * S;
      // Per channel, the engine's run chunks in order (plan (N, 1, C, S)),
      // four channels at a time while there are four: rows4_moments gives
      // each the bits run_moments gives it, its four chains of adds side by
      // side where one channel's waits on each add's latency (GroupNorm
      // forward 8x256x28x28, G = 32, warm, Zen 5: 1 thread 0.360 to 0.313
      // ms, 2 threads 0.161 to 0.124; 8x256x56x56 from memory level). They
      // ask for nothing ahead: the previous group's normalize pass asked for
      // this group.
      std::int64_t j = 0;
      for (; j + kInterleavedRows <= Cg; j += kInterleavedRows) {
        Moments acc[kInterleavedRows] = {};
        for (std::int64_t d0 = 0; d0 < S; d0 += kRunChunk) {
          const std::int64_t n = std::min(kRunChunk, S - d0);
          Moments chunk[kInterleavedRows];
          rows4_moments(x + j * S + d0, S, n, 0, chunk);
          for (int r = 0; r < kInterleavedRows; ++r) acc[r] = Moments::merge(acc[r], chunk[r]);
        }
        std::copy(acc, acc + kInterleavedRows, per_channel.begin() + j);
      }
      for (; j < Cg; ++j) {
        Moments acc{};
        for (std::int64_t d0 = 0; d0 < S; d0 += kRunChunk) {
          const std::int64_t n = std::min(kRunChunk, S - d0);
          acc = Moments::merge(acc, run_moments(x + j * S + d0, n, n));  // asks for the next run
        }
        per_channel[j] = acc;
      }
      const Moments merged = merge_channels(per_channel.data(), 0, Cg);
      const double var = merged.biased_var(), rstd = 1.0 / std::sqrt(var + a.eps);
      a.mean[item] = merged.mean;
      a.rstd[item] = rstd;
      if (a.biased_var != nullptr) a.biased_var[item] = var;
      // Scalar math: y = ((x - hi) - lo) * scale + shift, per channel.
      const float hi = static_cast<float>(merged.mean), lo = static_cast<float>(merged.mean - hi);
      for (std::int64_t j = 0; j < Cg; ++j) {
        const float scale = static_cast<float>(rstd * a.gamma[c0 + j]), shift = a.beta[c0 + j];
        // While this group (in cache) is written, ask for the next group:
        // the same channel, Cg * S elements on, read next by this thread.
        normalize_span(NormalizeSpanOf<T>{.x = x + j * S, .y = y + j * S, .n = S, .hi = hi, .lo = lo, .scale = scale, .shift = shift},
                       stream, Cg * S);
      }
    }
    stream_fence(stream);
  });
}

#define NORMKIT_GROUP_STATS_FOR(T)                                                                            \
  template void group_statistics<T>(const T*, Layout, const GroupShape&, double, std::vector<double>&,        \
                                    std::vector<double>&, std::vector<double>*);                              \
  template void fused_group_norm<T>(const FusedGroupArgs<T>&);
NORMKIT_GROUP_STATS_FOR(float)
NORMKIT_GROUP_STATS_FOR(Bf16)
NORMKIT_GROUP_STATS_FOR(F16)
#undef NORMKIT_GROUP_STATS_FOR

}  // namespace normkit::kernels
