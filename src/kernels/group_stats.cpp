#include "group_stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "blocked_reduce.hpp"
#include "channel_apply.hpp"
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
      rstd[i] = inverse_std_of(var, eps);
      if (biased_var != nullptr) (*biased_var)[i] = var;
    }
}

bool fuses_groups(const GroupShape& s, Layout layout) {
  constexpr std::int64_t kGroupBytes = 256 << 10;  // half of this machine's L2
  return layout == Layout::contiguous && s.N > 0 && s.S > 0 && s.group_channels() > 0 &&
         s.group_channels() * s.S * static_cast<std::int64_t>(sizeof(float)) <= kGroupBytes;
}

// The moments of `channels` consecutive planes of S elements from x (in
// cache), each as the engine computes it for the plan (N, 1, C, S), four
// planes at a time while there are four: each gets the bits it gets alone,
// the four chains of adds side by side where one plane's waits on each
// add's latency (GroupNorm forward 8x256x28x28, G = 32, warm, Zen 5: 1
// thread 0.360 to 0.313 ms, 2 threads 0.161 to 0.124; 8x256x56x56 from
// memory level).
template <typename T>
void plane_moments(const T* x, std::int64_t channels, std::int64_t S, Moments* out) {
  std::int64_t j = 0;
  for (; j + kInterleavedRows <= channels; j += kInterleavedRows)
    chunked_moments4(x + j * S, S, 0, out + j, LaneRule::one_set);
  for (; j < channels; ++j) out[j] = chunked_moments(x + j * S, S, LaneRule::one_set);
}

template <typename T>
void fused_group_norm(const FusedGroupArgs<T>& a) {
  const GroupShape& s = a.shape;
  const std::int64_t Cg = s.group_channels(), S = s.S, groups = s.N * s.G;
  const bool stream = stream_output(s.N * s.C * S);
  // Groups of fewer than four channels (InstanceNorm: one) are taken a block
  // of consecutive groups at a time, whose planes are consecutive too, so
  // that their statistics are reduced four planes at a time as well
  // (InstanceNorm forward 8x256x28x28 in cache, Zen 5, alternating builds:
  // 1 thread 0.291-0.298 to 0.200-0.202 ms, 2 threads 0.152-0.183 to
  // 0.140-0.182; 8x256x56x56 from memory level, 1.31-1.50 against
  // 1.42-1.47 ms and 1.01-1.19 against 1.04-1.11). Each plane's normalize
  // pass asks for the same plane of the next block, which this thread
  // reduces next.
  const std::int64_t per_block = Cg < kInterleavedRows && kInterleavedRows % Cg == 0 ? kInterleavedRows / Cg : 1;
  const std::int64_t blocks = (groups + per_block - 1) / per_block;
  const std::int64_t next_block = per_block * Cg * S;
  parallel_region(threads_for(s.N * s.C * S), [&] {
    std::vector<Moments> per_channel(static_cast<std::size_t>(per_block * Cg));
#pragma omp for schedule(static) nowait
    for (std::int64_t block = 0; block < blocks; ++block) {
      const std::int64_t first = block * per_block, count = std::min(per_block, groups - first);
      // Item i = n * G + g has its planes at (n * C + g * Cg) * S = i * Cg * S.
      plane_moments(a.x + first * Cg * S, count * Cg, S, per_channel.data());
      for (std::int64_t item = first; item < first + count; ++item) {
        const std::int64_t g = item % s.G, c0 = g * Cg;
        const T* x = a.x + item * Cg * S;  // the group's planes, (Cg, S)
        T* y = a.y + item * Cg * S;
        const std::int64_t j0 = (item - first) * Cg;
        const Moments merged = merge_channels(per_channel.data(), j0, j0 + Cg);
        const double var = merged.biased_var(), rstd = inverse_std_of(var, a.eps);
        a.mean[item] = merged.mean;
        a.rstd[item] = rstd;
        if (a.biased_var != nullptr) a.biased_var[item] = var;
        // Scalar math: y = ((x - hi) - lo) * scale + shift, per channel.
        const CenterPair center = center_pair(merged.mean);
        for (std::int64_t j = 0; j < Cg; ++j) {
          const float scale = static_cast<float>(rstd * a.gamma[c0 + j]), shift = a.beta[c0 + j];
          // While this plane (in cache) is written, ask for the same plane
          // of the next block, read next by this thread.
          normalize_span(NormalizeSpanOf<T>{.x = x + j * S, .y = y + j * S, .n = S, .hi = center.hi, .lo = center.lo, .scale = scale, .shift = shift},
                         stream, next_block);
        }
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
