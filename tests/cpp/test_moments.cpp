// The statistics engine against double-precision two-pass statistics.
#include "kernels/moments.hpp"

#include <array>
#include <mutex>
#include <utility>

#include "kernels/blocked_reduce.hpp"
#include "kernels/grad_sums.hpp"
#include "kernels/lanes.hpp"
#include "kernels/vectors.hpp"
#include "normkit/half.hpp"
#include "normkit/layer_norm.hpp"

#include "test_util.hpp"

namespace normkit::test {
namespace {

class MomentsKernel : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, MomentsKernel, every_simd_path(), simd_path_param_name);
class SliceFusion : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, SliceFusion, every_simd_path(), simd_path_param_name);

using kernels::Moments;
using kernels::NormPlan;

struct Exact {
  double mean, var;
};

// Mean and biased variance of a flat vector, in double.
Exact exact_moments(const std::vector<float>& x) {
  const ChannelMoments m = exact_channel_moments(x, 1, 1, static_cast<std::int64_t>(x.size()));
  return {m.mean[0], m.var[0]};
}

TEST_P(MomentsKernel, RunMatchesExactOnOddSizes) {
  for (std::int64_t n : {1, 3, 16, 17, 127, 4097, 100000}) {
    const std::vector<float> x = normal_values(static_cast<std::size_t>(n), 7 + n, 0.5f, 2.0f);
    const Moments m = kernels::run_moments(x.data(), n, 0, 1);
    const Exact e = exact_moments(x);
    EXPECT_EQ(m.count, static_cast<double>(n));
    EXPECT_NEAR(m.mean, e.mean, 1e-6 * (std::fabs(e.mean) + 2.0)) << "n=" << n;
    EXPECT_NEAR(m.biased_var(), e.var, 1e-6 * (e.var + 1e-30)) << "n=" << n;
  }
}

TEST_P(MomentsKernel, MergeEqualsWholeRun) {
  const std::vector<float> x = normal_values(1000, 3, -4.0f, 0.5f);
  const Moments whole = kernels::run_moments(x.data(), 1000, 0, 1);
  const Moments merged = Moments::merge(kernels::run_moments(x.data(), 333, 0, 1),
                                        kernels::run_moments(x.data() + 333, 667, 0, 1));
  // Both sides round in float lanes, so they agree to float precision.
  EXPECT_NEAR(merged.mean, whole.mean, 1e-6 * 4);
  EXPECT_NEAR(merged.m2, whole.m2, 1e-6 * whole.m2);
  EXPECT_EQ(Moments::merge(Moments{}, whole).m2, whole.m2);
}

// DESIGN.md section 2: relative error of the variance below 1e-5 for float32
// data 1e4 + N(0, 1), on both kernels of the engine (runs and rows).
TEST_P(MomentsKernel, VarianceAccurateAtLargeMean) {
  const std::int64_t N = 64, C = 3, S = 1024;
  const std::vector<float> x = normal_values(static_cast<std::size_t>(N * C * S), 11, 1e4f, 1.0f);
  // Plan for (N, C, S) contiguous: (1, N, C, S); for the same buffer read as
  // channels-last (N*S, C) rows: (1, N*S, C, 1).
  // And (N*S, C) rows with one row per sample: leaves of 256 samples.
  for (const NormPlan plan : {NormPlan{1, N, C, S, 1}, NormPlan{1, N * S, C, 1, S}, NormPlan{1, N * S, C, 1, 1}}) {
    std::vector<Moments> stats(C);
    kernels::moments({.x = x.data(), .plan = plan, .out = stats.data()});
    for (std::int64_t c = 0; c < C; ++c) {
      const double mean = stats[c].mean, var = stats[c].biased_var();
      std::vector<float> channel;
      for (std::int64_t b = 0; b < plan.B; ++b)
        for (std::int64_t d = 0; d < plan.D; ++d) channel.push_back(x[(b * C + c) * plan.D + d]);
      const Exact e = exact_moments(channel);
      EXPECT_LT(std::fabs(var - e.var) / e.var, 1e-5) << "D=" << plan.D << " c=" << c;
      EXPECT_LT(std::fabs(mean - e.mean), 1e-5);
    }
  }
}

// The tree's leaves cut the samples into contiguous, ordered pieces: single
// samples, or (rows of contiguous channels) runs of samples that hold at most
// kRowChunk rows. The leaves depend on the shape alone.
TEST(SampleTree, LeavesPartitionTheSamplesInOrder) {
  for (const NormPlan plan : {NormPlan{1, 1000, 3, 1, 1}, NormPlan{1, 130 * 4, 3, 1, 4},
                              NormPlan{1, 7 * 300, 5, 1, 300}, NormPlan{1, 999, 2, 1, 10},
                              NormPlan{1, 64, 3, 9, 1}}) {
    const kernels::SampleTree tree = kernels::SampleTree::of(plan);
    kernels::LeafList leaves;
    tree.leaves(0, tree.samples, leaves);
    std::int64_t next = 0, merged_leaves = 0;
    for (const auto& [lo, hi] : leaves) {
      EXPECT_EQ(lo, next);
      EXPECT_LT(lo, hi);
      if (hi - lo > 1) {
        ++merged_leaves;
        EXPECT_EQ(plan.D, 1);
        EXPECT_LE(tree.rows_of(lo, hi), kernels::kRowChunk);
      }
      next = hi;
    }
    EXPECT_EQ(next, plan.samples());
    // Rows of one or a few rows per sample do form multi-sample leaves.
    if (plan.D == 1 && plan.rows_per_sample <= 10) EXPECT_GT(merged_leaves, 0);
  }
}

// What a fused schedule did to each slice: when its statistics were
// finished, and which samples each pass over it covered, in call order.
struct SliceLog {
  std::mutex lock;
  std::vector<int> finished;  // per slice: how many times
  std::vector<std::vector<std::pair<std::int64_t, std::int64_t>>> passes;

  explicit SliceLog(std::int64_t slices) : finished(slices, 0), passes(slices) {}
  void finish(std::int64_t i) {
    std::lock_guard<std::mutex> hold(lock);
    ++finished[i];
  }
  kernels::SlicePass pass() {
    return [this](std::int64_t i, std::int64_t s0, std::int64_t s1) {
      std::lock_guard<std::mutex> hold(lock);
      EXPECT_EQ(finished[i], 1) << "slice " << i << " passed over before its statistics were finished";
      passes[i].emplace_back(s0, s1);
    };
  }
  // Every slice finished once, then passed over samples [0, S) exactly once, in order.
  void expect_complete(std::int64_t samples) const {
    for (std::size_t i = 0; i < passes.size(); ++i) {
      EXPECT_EQ(finished[i], 1) << "slice " << i;
      std::int64_t next = 0;
      for (const auto& [s0, s1] : passes[i]) {
        EXPECT_EQ(s0, next) << "slice " << i;
        EXPECT_LT(s0, s1) << "slice " << i;
        next = s1;
      }
      EXPECT_EQ(next, samples) << "slice " << i;
    }
  }
};

// The fused schedule (a few (a, c) slices at a time, so that the following
// pass finds them in cache) reduces each slice with the same runs and tree:
// the same bits as the whole-tensor reduction, on one thread and on two; and
// it passes over every sample of every slice once, after its statistics.
// (Plans with slices small enough to be grouped, with a last group smaller
// than the others, and with samples of several rows.)
TEST_P(SliceFusion, SameBitsAsTheWholeTensorReduction) {
  const int threads_before = num_threads();
  for (const int threads : {1, 2})
  for (const NormPlan plan : {NormPlan{1, 5, 9, 4097, 1}, NormPlan{2, 7, 8, 33, 1}, NormPlan{1, 6, 16, 50, 2},
                              NormPlan{1, 12, 30, 196, 1}, NormPlan{3, 9, 3, 20, 1},
                              // runs shorter than the lanes, 16 samples at a time (2x2 and 3x3 maps),
                              // the samples past the last 16 four and one at a time
                              NormPlan{1, 37, 6, 4, 1}, NormPlan{2, 20, 3, 9, 1}}) {
    set_num_threads(threads);
    const std::int64_t n = plan.numel(), AC = plan.A * plan.C;
    const std::vector<float> x = normal_values(static_cast<std::size_t>(n), 21, 3.0f, 2.0f);
    const std::vector<float> dy = normal_values(static_cast<std::size_t>(n), 22, 0.0f, 1.0f);
    std::vector<Moments> whole(AC), fused(AC);
    kernels::moments({.x = x.data(), .plan = plan, .out = whole.data()});
    SliceLog log(AC);
    kernels::moments_each_slice(
        x.data(), plan,
        [&](std::int64_t first, std::int64_t count, const Moments* m) {
          for (std::int64_t j = 0; j < count; ++j) {
            fused[first + j] = m[j];
            log.finish(first + j);
          }
        },
        log.pass());
    log.expect_complete(plan.samples());
    std::vector<float> hi(AC), lo(AC, 0.0f);
    for (std::int64_t i = 0; i < AC; ++i) {
      EXPECT_EQ(whole[i].mean, fused[i].mean) << i;
      EXPECT_EQ(whole[i].m2, fused[i].m2) << i;
      EXPECT_EQ(whole[i].count, fused[i].count) << i;
      hi[i] = static_cast<float>(whole[i].mean);
    }
    std::vector<kernels::GradSums> sums(AC), fused_sums(AC);
    const kernels::GradSumsArgs args{
        .dy = dy.data(), .x = x.data(), .center_hi = hi.data(), .center_lo = lo.data(), .plan = plan, .out = sums.data()};
    kernels::grad_sums(args);
    SliceLog sums_log(AC);
    kernels::grad_sums_each_slice(
        args,
        [&](std::int64_t first, std::int64_t count, const kernels::GradSums* g) {
          for (std::int64_t j = 0; j < count; ++j) {
            fused_sums[first + j] = g[j];
            sums_log.finish(first + j);
          }
        },
        sums_log.pass());
    sums_log.expect_complete(plan.samples());
    for (std::int64_t i = 0; i < AC; ++i) {
      EXPECT_EQ(sums[i].sum_dy, fused_sums[i].sum_dy) << i;
      EXPECT_EQ(sums[i].sum_dy_xc, fused_sums[i].sum_dy_xc) << i;
    }
  }
  set_num_threads(threads_before);
}

TEST_P(MomentsKernel, NanStaysInItsChannel) {
  const std::int64_t N = 4, C = 3, S = 50;
  // And (N*S, C) rows with one row per sample: leaves of 256 samples.
  for (const NormPlan plan : {NormPlan{1, N, C, S, 1}, NormPlan{1, N * S, C, 1, S}, NormPlan{1, N * S, C, 1, 1}}) {
    std::vector<float> x = normal_values(static_cast<std::size_t>(N * C * S), 5);
    x[(2 * C + 1) * plan.D] = NAN;  // b = 2, c = 1
    std::vector<Moments> stats(C);
    kernels::moments({.x = x.data(), .plan = plan, .out = stats.data()});
    EXPECT_TRUE(std::isnan(stats[1].mean) || std::isnan(stats[1].m2));
    EXPECT_TRUE(std::isfinite(stats[0].mean) && std::isfinite(stats[0].m2));
    EXPECT_TRUE(std::isfinite(stats[2].mean) && std::isfinite(stats[2].m2));
  }
}

}  // namespace
}  // namespace normkit::test

namespace normkit::test {
namespace {

// Every SIMD path this CPU has gives the portable path's bits, kernel by
// kernel, through each path's own wrapper. (The kernel tests also run every
// path through the dispatch: EverySimdPath in test_util.hpp.)
#if NORMKIT_X86_DISPATCH
TEST(Simd, EveryPathOfTheBlockKernelsGivesThePortableBits) {
  int paths = 0;
  for (SimdPath path : simd_paths()) {
    if (path == SimdPath::portable) continue;
    ++paths;
    SCOPED_TRACE(simd_path_name(path));
    const bool avx2 = path == SimdPath::avx2;
    for (std::int64_t n : {1, 5, 16, 17, 31, 32, 33, 47, 768, 1023, 1024, 1025, 1040, 1041, 1055, 1056, 1071, 4096, 4097}) {
      std::vector<float> x = normal_values(static_cast<std::size_t>(n), 100 + n, 1e3f, 3.0f);
      if (n > 3) x[3] = -0.0f;
      for (int sets : {1, 2}) {  // every length in one lane set and in two
        const Moments a = kernels::run_moments_portable(x.data(), n, 0, sets);
        const Moments b = avx2 ? kernels::run_moments_avx2(x.data(), n, n, sets)
                               : kernels::run_moments_avx512(x.data(), n, n, sets);
        EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0) << "run_moments n=" << n << " sets=" << sets;
        const double s = kernels::run_square_sum_portable(x.data(), n, sets);
        const double t = avx2 ? kernels::run_square_sum_avx2(x.data(), n, sets)
                              : kernels::run_square_sum_avx512(x.data(), n, sets);
        EXPECT_EQ(std::memcmp(&s, &t, sizeof s), 0) << "run_square_sum n=" << n << " sets=" << sets;
      }
    }
    const std::int64_t C = 40;
    for (std::int64_t rows : {1, 2, 7, 256}) {
      const std::vector<float> x = normal_values(static_cast<std::size_t>(rows * C), 7 + rows, -50.0f, 2.0f);
      Moments a[16], b[16];
      kernels::rows16_moments_portable(x.data() + 3, C, rows, 0, a);
      if (avx2) kernels::rows16_moments_avx2(x.data() + 3, C, rows, 0, b);
      else kernels::rows16_moments_avx512(x.data() + 3, C, rows, 0, b);
      EXPECT_EQ(std::memcmp(a, b, sizeof a), 0) << "rows16_moments rows=" << rows;
      // 64 channels at once: each group of 16 as rows16 gives it.
      const std::int64_t wide = 70;
      const std::vector<float> y = normal_values(static_cast<std::size_t>(rows * wide), 9 + rows, 3e3f, 1.0f);
      Moments c[64], d[64];
      for (int g = 0; g < 4; ++g) kernels::rows16_moments_portable(y.data() + 3 + 16 * g, wide, rows, 0, c + 16 * g);
      if (avx2) kernels::rows64_moments_avx2(y.data() + 3, wide, rows, 0, d);
      else kernels::rows64_moments_avx512(y.data() + 3, wide, rows, 0, d);
      EXPECT_EQ(std::memcmp(c, d, sizeof c), 0) << "rows64_moments rows=" << rows;
      kernels::rows64_moments_portable(y.data() + 3, wide, rows, 0, d);
      EXPECT_EQ(std::memcmp(c, d, sizeof c), 0) << "rows64_moments (portable) rows=" << rows;
      // 256 channels at once (whole rows read on AVX-512).
      const std::int64_t wider = 262;
      const std::vector<float> z = normal_values(static_cast<std::size_t>(rows * wider), 11 + rows, -7.0f, 4.0f);
      std::vector<Moments> e(256), f(256);
      for (int g = 0; g < 16; ++g) kernels::rows16_moments_portable(z.data() + 5 + 16 * g, wider, rows, 0, e.data() + 16 * g);
      if (avx2) kernels::rows256_moments_avx2(z.data() + 5, wider, rows, 0, f.data());
      else kernels::rows256_moments_avx512(z.data() + 5, wider, rows, 0, f.data());
      EXPECT_EQ(std::memcmp(e.data(), f.data(), 256 * sizeof(Moments)), 0) << "rows256_moments rows=" << rows;
      kernels::rows256_moments_portable(z.data() + 5, wider, rows, 0, f.data());
      EXPECT_EQ(std::memcmp(e.data(), f.data(), 256 * sizeof(Moments)), 0) << "rows256_moments (portable) rows=" << rows;
    }
  }
  RecordProperty("wider_paths_checked", paths);
}
#endif

// The interleaved row kernels give each row exactly what the single-run
// kernels give it, on every path (through the dispatch), whatever the
// length (tails of every size among them) and the stride between the rows.
TEST_P(MomentsKernel, InterleavedRowsGiveEachRowTheSingleRunBits) {
  for (std::int64_t n : {1, 5, 16, 17, 31, 32, 47, 63, 768, 1023, 1024, 1040, 1047, 1063, 4097}) {
    const std::int64_t stride = n + 3;
    std::vector<float> x =
        normal_values(static_cast<std::size_t>(kernels::kInterleavedRows * stride), 300 + n, 1e4f, 2.0f);
    if (n > 3) x[stride + 3] = -0.0f;
    for (int sets : {1, 2}) {
      Moments together[kernels::kInterleavedRows];
      double squares[kernels::kInterleavedRows];
      kernels::rows4_moments(x.data(), stride, n, kernels::kInterleavedRows * stride, together, sets);
      kernels::rows4_square_sums(x.data(), stride, n, kernels::kInterleavedRows * stride, squares, sets);
      for (int r = 0; r < kernels::kInterleavedRows; ++r) {
        const Moments alone = kernels::run_moments(x.data() + r * stride, n, n, sets);
        EXPECT_EQ(std::memcmp(&alone, &together[r], sizeof alone), 0)
            << "rows4_moments n=" << n << " sets=" << sets << " row " << r;
        const double square = kernels::run_square_sum(x.data() + r * stride, n, sets);
        EXPECT_EQ(std::memcmp(&square, &squares[r], sizeof square), 0)
            << "rows4_square_sums n=" << n << " sets=" << sets << " row " << r;
      }
    }
  }
}

// The short-run kernel computes 16 runs in its lanes and must still give
// each run exactly what the single-run kernel gives it: every length below
// 16, on every path, with runs whose values are large (mean 1e4), signed
// zeros, infinities and NaNs (as the first element, where it is the shift,
// and later), and the same in bfloat16.
TEST_P(MomentsKernel, ShortRunsGiveEachRunTheSingleRunBits) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (std::int64_t n = 1; n < kernels::kLanes; ++n) {
    const std::int64_t stride = 2 * n + 3;
    std::vector<float> x = normal_values(static_cast<std::size_t>(kernels::kShortRuns * stride), 700 + n, 0.0f, 2.0f);
    for (std::int64_t i = 3 * stride; i < 4 * stride; ++i) x[static_cast<std::size_t>(i)] += 1e4f;  // run 3: mean 1e4
    x[static_cast<std::size_t>(5 * stride)] = -0.0f;                 // run 5 starts at -0
    x[static_cast<std::size_t>(6 * stride)] = 0.0f;                  // run 6 starts at +0 ...
    x[static_cast<std::size_t>(6 * stride + n - 1)] = -0.0f;         // ... and ends at -0
    x[static_cast<std::size_t>(7 * stride)] = inf;                   // an infinite shift
    x[static_cast<std::size_t>(8 * stride)] = -inf;
    x[static_cast<std::size_t>(9 * stride)] = nan;                   // a NaN shift
    x[static_cast<std::size_t>(10 * stride + n - 1)] = nan;          // a NaN later
    x[static_cast<std::size_t>(11 * stride + n / 2)] = inf;          // an infinity later
    for (std::int64_t i = 12 * stride; i < 12 * stride + n; ++i) x[static_cast<std::size_t>(i)] = 0.0f;  // all +0
    for (std::int64_t i = 13 * stride; i < 13 * stride + n; ++i) x[static_cast<std::size_t>(i)] = -1.5f;  // constant
    // runs 2 and 14 (one in each half of the lanes): values far apart in
    // magnitude, whose sums in double depend on the order they are added in
    // (the lane totals' tree): 0, 1e20, 1, -1e20, 1e20, 1, ... (the 1 survives
    // one order and not another)
    for (const std::int64_t run : {2, 14})
      for (std::int64_t j = 0; j < n; ++j) {
        const float cycle[3] = {1e20f, 1.0f, -1e20f};
        x[static_cast<std::size_t>(run * stride + j)] = j == 0 ? 0.0f : cycle[(j - 1) % 3];
      }
    Moments together[kernels::kShortRuns];
    kernels::short_runs_moments(x.data(), stride, n, together);
    std::vector<kernels::Bf16> h(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) h[i] = kernels::Bf16{normkit::float_to_bfloat16(x[i])};
    Moments together_bf16[kernels::kShortRuns];
    kernels::short_runs_moments(h.data(), stride, n, together_bf16);
    for (int r = 0; r < kernels::kShortRuns; ++r) {
      const Moments alone = kernels::run_moments(x.data() + r * stride, n, n, 1);
      EXPECT_EQ(std::memcmp(&alone, &together[r], sizeof alone), 0)
          << "n=" << n << " run " << r << ": mean " << together[r].mean << " against " << alone.mean << ", m2 "
          << together[r].m2 << " against " << alone.m2;
      const Moments alone_bf16 = kernels::run_moments(h.data() + r * stride, n, n, 1);
      EXPECT_EQ(std::memcmp(&alone_bf16, &together_bf16[r], sizeof alone_bf16), 0) << "bfloat16 n=" << n << " run " << r;
    }
  }
}

// The same for the backward's sums: a channel's runs of consecutive samples
// taken kGradSumsRuns at a time (reduce_each_slice) get the single-run bits,
// centred or not, weighted or not.
TEST_P(MomentsKernel, InterleavedGradSumsGiveEachRunTheSingleRunBits) {
  for (std::int64_t n : {1, 4, 5, 16, 17, 33, 47, 64, 768, 4097}) {
    const std::int64_t stride = n + 5;
    const auto count = static_cast<std::size_t>(kernels::kGradSumsRuns * stride);
    const std::vector<float> dy = normal_values(count, 400 + n, 0.0f, 1.5f), x = normal_values(count, 500 + n, 3.0f, 2.0f);
    const std::vector<float> w = normal_values(static_cast<std::size_t>(n), 600 + n, 1.0f, 0.5f);
    for (const float* weight : {static_cast<const float*>(nullptr), w.data()})
      for (const auto& [hi, lo] : {std::pair{0.0f, 0.0f}, std::pair{3.25f, 1e-7f}}) {
        kernels::GradSums together[kernels::kGradSumsRuns];
        kernels::runs_grad_sums(dy.data(), x.data(), stride, weight, hi, lo, n, together);
        for (int r = 0; r < kernels::kGradSumsRuns; ++r) {
          const kernels::GradSums alone =
              kernels::run_grad_sums(dy.data() + r * stride, x.data() + r * stride, weight, hi, lo, n);
          EXPECT_EQ(std::memcmp(&alone, &together[r], sizeof alone), 0)
              << "n=" << n << " run " << r << (weight ? " weighted" : "") << " hi=" << hi;
        }
      }
  }
}

// lane_totals adds several lane sets' trees side by side (AVX-512) and
// must give each set exactly its total(): lanes of very different sizes
// and signs, where adding any other pairs first gives other bits, at every
// vector width and for four and eight sets at once.
template <int W, std::size_t N>
void expect_lane_totals_are_each_total(std::uint64_t seed) {
  std::vector<float> values = normal_values(static_cast<std::size_t>(N * kernels::kLanes), seed, 0.0f, 1.0f);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] *= std::ldexp(1.0f, static_cast<int>((i * 7) % 48) - 24);
  std::array<kernels::LaneSet<W>, N> sets;
  for (std::size_t k = 0; k < N; ++k) sets[k] = kernels::LaneSet<W>::load(values.data() + k * kernels::kLanes);
  double together[N];
  kernels::lane_totals<W>(sets, together);
  for (std::size_t k = 0; k < N; ++k) {
    const double alone = sets[k].total();
    EXPECT_EQ(std::memcmp(&alone, &together[k], sizeof alone), 0) << "W=" << W << " N=" << N << " set " << k;
  }
}

// The lane contract itself (lanes.hpp), written out one element at a time:
// element i of a run into lane i % 16 of set (i / 16) % S, S = 2 for the
// row norms' runs from kWideRun elements on, the sets added lane by lane in
// float, then the lanes' pairwise tree in double. The sum of squares is that sum with no
// other arithmetic, so every path must give exactly these bits.
// (sets: the lane sets to model, lane_sets(n) for the contract.)
double square_sum_by_the_lane_contract(const std::vector<float>& x, int sets) {
  const std::int64_t n = static_cast<std::int64_t>(x.size());
  float lane[2][kernels::kLanes] = {};
  for (std::int64_t i = 0; i < n; ++i) {
    const float square = x[static_cast<std::size_t>(i)] * x[static_cast<std::size_t>(i)];
    lane[(i / kernels::kLanes) % sets][i % kernels::kLanes] += square;
  }
  for (int l = 0; l < kernels::kLanes; ++l) lane[0][l] += lane[1][l];
  double t[8];
  for (int l = 0; l < 8; ++l) t[l] = static_cast<double>(lane[0][l]) + static_cast<double>(lane[0][l + 8]);
  for (int l = 0; l < 4; ++l) t[l] += t[l + 4];
  for (int l = 0; l < 2; ++l) t[l] += t[l + 2];
  return t[0] + t[1];
}

TEST_P(MomentsKernel, SquareSumFollowsTheLaneContract) {
  using kernels::LaneRule;
  EXPECT_EQ(kernels::lane_sets(LaneRule::long_rows, kernels::kWideRun - 1), 1);
  EXPECT_EQ(kernels::lane_sets(LaneRule::long_rows, kernels::kWideRun), 2);
  EXPECT_EQ(kernels::lane_sets(LaneRule::one_set, 4096), 1);
  for (std::int64_t n : {1, 17, 100, 1023, 1024, 1039, 1040, 1041, 1063, 4096}) {
    const std::vector<float> x = normal_values(static_cast<std::size_t>(n), 500 + n, 3.0f, 2.0f);
    const int sets = kernels::lane_sets(LaneRule::long_rows, n);
    const double expected = square_sum_by_the_lane_contract(x, sets);
    const double got = kernels::run_square_sum(x.data(), n, sets);
    EXPECT_EQ(std::memcmp(&expected, &got, sizeof got), 0) << "n=" << n << ": " << got << " against " << expected;
    // A long run in one set gives other bits here: the test can tell.
    if (n == 4096) {
      const double one_set = square_sum_by_the_lane_contract(x, 1);
      EXPECT_NE(std::memcmp(&one_set, &got, sizeof got), 0);
    }
  }
}

// RMSNorm's rows take that rule: a row's rstd is 1 / sqrt(square sum / n +
// eps) of the contract's sum, two sets from kWideRun features on, in a
// group of four rows and alone (rows 0-3 and 4), and one set below.
TEST_P(MomentsKernel, RmsNormRowsFollowTheLaneContract) {
  for (std::int64_t cols : {1000, 4096}) {
    const std::int64_t rows = 5;
    std::vector<float> x = normal_values(static_cast<std::size_t>(rows * cols), 700 + cols, 1.0f, 3.0f);
    std::vector<float> y(x.size()), rstd(static_cast<std::size_t>(rows));
    RMSNormOptions options;
    options.eps = 1e-5;
    rms_norm_forward({TensorView(x.data(), {rows, cols}), {cols}, TensorView()}, options,
                     {TensorView(y.data(), {rows, cols}), TensorView(rstd.data(), {rows, 1})});
    const int sets = cols >= kernels::kWideRun ? 2 : 1;
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::vector<float> row(x.begin() + r * cols, x.begin() + (r + 1) * cols);
      const double mean_square = square_sum_by_the_lane_contract(row, sets) / static_cast<double>(cols);
      const float expected = static_cast<float>(1.0 / std::sqrt(mean_square + 1e-5));
      EXPECT_EQ(std::memcmp(&expected, &rstd[static_cast<std::size_t>(r)], sizeof expected), 0)
          << "cols=" << cols << " row " << r << ": " << rstd[static_cast<std::size_t>(r)] << " against " << expected;
    }
  }
}

TEST(LaneTotals, SeveralAtOnceGiveEachSetItsTotal) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    expect_lane_totals_are_each_total<16, 8>(seed);
    expect_lane_totals_are_each_total<16, 4>(seed);
    expect_lane_totals_are_each_total<8, 8>(seed);
    expect_lane_totals_are_each_total<4, 4>(seed);
  }
}

// NORMKIT_ISA picks the starting path when the CPU has it; set_simd_path
// changes it for the process and refuses a path the CPU lacks.
TEST(Simd, RequestedPathRunsWhenTheCpuHasIt) {
  const std::vector<SimdPath> paths = simd_paths();
  ASSERT_FALSE(paths.empty());
  EXPECT_EQ(paths.front(), SimdPath::portable);
  EXPECT_EQ(paths.back(), best_simd_path());
  const char* asked = std::getenv("NORMKIT_ISA");
  if (asked == nullptr) EXPECT_EQ(current_simd_path(), best_simd_path());
  for (SimdPath path : paths) {
    ScopedSimdPath scoped(path);
    EXPECT_EQ(current_simd_path(), path);
    EXPECT_STREQ(simd_path(), simd_path_name(path));
  }
  const SimdPath before = current_simd_path();
  for (SimdPath path : {SimdPath::portable, SimdPath::avx2, SimdPath::avx512})
    if (path > best_simd_path())
      EXPECT_EQ(error_of([&] { set_simd_path(path); }),
                std::string("set_simd_path: path: this CPU has no ") + simd_path_name(path) + " (it has up to " +
                    simd_path_name(best_simd_path()) + ")");
  EXPECT_EQ(error_of([] { set_simd_path("sse9"); }),
            "set_simd_path: name: expected portable, avx2 or avx512, got 'sse9'");
  EXPECT_EQ(current_simd_path(), before);
}

}  // namespace
}  // namespace normkit::test
