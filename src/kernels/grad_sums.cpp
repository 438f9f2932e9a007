#include "grad_sums.hpp"

#include <array>
#include <cstring>
#include <vector>

#include "blocked_reduce.hpp"
#include "slice_reduce.hpp"
#include "lanes.hpp"
#include "core/simd_dispatch.hpp"

namespace normkit::kernels {
namespace {

// One contiguous run of n elements at vector width W (a run never crosses a
// d-row, so w, when given, is the run's slice of the per-d weight).
// Scalar math: g = dy * w[d];  sum_g += g;  sum_gx += g * ((x - hi) - lo)
// T: float, or Bf16 for bfloat16 dy and x (widened as loaded: the bits of
// the runs widened).
template <int W, bool kCentred, typename T = float>
[[gnu::always_inline]] inline GradSums run_grad_sums_body(const T* dy, const T* x, const float* w, float hi,
                                                          float lo, std::int64_t n) {
  using V = vfloat<W>;
  constexpr int K = kLanes / W;
  const std::int64_t body = n / kLanes * kLanes, rest = n - body;
  LaneSet<W> g, gx;
  auto add = [&](const LaneSet<W>& d, const LaneSet<W>& v, const LaneSet<W>* weight,
                 const LaneSet<W>* mask) __attribute__((always_inline)) {
#pragma GCC unroll 4
    for (int k = 0; k < K; ++k) {
      V gi = weight != nullptr ? d.v[k] * weight->v[k] : d.v[k];
      if (mask != nullptr) gi *= mask->v[k];
      g.v[k] += gi;
      gx.v[k] += gi * centred<kCentred>(v.v[k], hi, lo);
    }
  };
  if (w != nullptr) {
    for (std::int64_t i = 0; i < body; i += kLanes) {
      const LaneSet<W> wi = LaneSet<W>::load(w + i);
      add(LaneSet<W>::load(dy + i), LaneSet<W>::load(x + i), &wi, nullptr);
    }
  } else {
    for (std::int64_t i = 0; i < body; i += kLanes)
      add(LaneSet<W>::load(dy + i), LaneSet<W>::load(x + i), nullptr, nullptr);
  }
  if (rest > 0) {
    const LaneSet<W> wt = w != nullptr ? LaneSet<W>::load_tail(w + body, rest) : LaneSet<W>{};
    const LaneSet<W> mask = LaneSet<W>::tail_mask(rest);
    add(LaneSet<W>::load_tail(dy + body, rest), LaneSet<W>::load_tail(x + body, rest),
        w != nullptr ? &wt : nullptr, &mask);
  }
  return {g.total(), gx.total()};
}

// kRunsAtOnce runs of n elements, `stride` apart, all of one (a, c) (the
// same centre, and w, when given, the same per-d weight): each run's sums
// with the bits run_grad_sums_body gives it alone (the same operations in
// the same order; the runs interleaved, so that their chains are
// independent and their fixed costs, the lane totals and the tail, overlap).
// Small maps are where it matters: BatchNorm backward on 4x4 maps made one
// call per 16-float run.
constexpr int kRunsAtOnce = kGradSumsRuns;

template <int W, bool kCentred, typename T>
[[gnu::always_inline]] inline void runs_grad_sums_body(const T* dy, const T* x, std::int64_t stride,
                                                       const float* w, float hi, float lo, std::int64_t n,
                                                       GradSums* out) {
  using V = vfloat<W>;
  constexpr int K = kLanes / W;
  const std::int64_t body = n / kLanes * kLanes, rest = n - body;
  LaneSet<W> g[kRunsAtOnce], gx[kRunsAtOnce];
  auto add = [&](int r, const LaneSet<W>& d, const LaneSet<W>& v, const LaneSet<W>* weight,
                 const LaneSet<W>* mask) __attribute__((always_inline)) {
#pragma GCC unroll 4
    for (int k = 0; k < K; ++k) {
      V gi = weight != nullptr ? d.v[k] * weight->v[k] : d.v[k];
      if (mask != nullptr) gi *= mask->v[k];
      g[r].v[k] += gi;
      gx[r].v[k] += gi * centred<kCentred>(v.v[k], hi, lo);
    }
  };
  for (std::int64_t i = 0; i < body; i += kLanes) {
    const LaneSet<W> wi = w != nullptr ? LaneSet<W>::load(w + i) : LaneSet<W>{};
#pragma GCC unroll 4
    for (int r = 0; r < kRunsAtOnce; ++r)
      add(r, LaneSet<W>::load(dy + r * stride + i), LaneSet<W>::load(x + r * stride + i), w != nullptr ? &wi : nullptr,
          nullptr);
  }
  if (rest > 0) {
    const LaneSet<W> wt = w != nullptr ? LaneSet<W>::load_tail(w + body, rest) : LaneSet<W>{};
    const LaneSet<W> mask = LaneSet<W>::tail_mask(rest);
#pragma GCC unroll 4
    for (int r = 0; r < kRunsAtOnce; ++r)
      add(r, LaneSet<W>::load_tail(dy + r * stride + body, rest), LaneSet<W>::load_tail(x + r * stride + body, rest),
          w != nullptr ? &wt : nullptr, &mask);
  }
  static_assert(kRunsAtOnce == 4);
  double t[8];
  lane_totals<W>(std::array{g[0], gx[0], g[1], gx[1], g[2], gx[2], g[3], gx[3]}, t);
  for (int r = 0; r < kRunsAtOnce; ++r) out[r] = {t[2 * r], t[2 * r + 1]};
}

template <int W, typename T>
[[gnu::always_inline]] inline void runs_grad_sums_w(const T* dy, const T* x, std::int64_t stride,
                                                    const float* w, float hi, float lo, std::int64_t n,
                                                    GradSums* out) {
  if (has_centre(hi, lo)) runs_grad_sums_body<W, true>(dy, x, stride, w, hi, lo, n, out);
  else runs_grad_sums_body<W, false>(dy, x, stride, w, hi, lo, n, out);
}

// (hi, lo) both +0 (RMSNorm): the version without the centring subtractions.
template <int W, typename T = float>
[[gnu::always_inline]] inline GradSums run_grad_sums_w(const T* dy, const T* x, const float* w, float hi,
                                                       float lo, std::int64_t n) {
  return has_centre(hi, lo) ? run_grad_sums_body<W, true, T>(dy, x, w, hi, lo, n)
                            : run_grad_sums_body<W, false, T>(dy, x, w, hi, lo, n);
}

// 16 * G contiguous channels over `rows` rows of stride C (per channel over
// the rows in order), at vector width W; hi, lo: the channels' centres. G
// groups of 16 side by side, each with the bits of G = 1, a row's channels
// read as one run.
// Scalar math: g = dy * w;  sum_g += g;  sum_gx += g * ((x - hi) - lo)
template <int W, int G, typename T = float>
[[gnu::always_inline]] inline void rows16_grad_sums_w(const T* dy, const T* x, const float* hi_c,
                                                      const float* lo_c, std::int64_t C, std::int64_t rows,
                                                      const float* w, GradSums* out) {
  constexpr int K = kLanes / W;
  LaneSet<W> hi[G], lo[G], g[G], gx[G];
  for (int q = 0; q < G; ++q) {
    hi[q] = LaneSet<W>::load(hi_c + q * kLanes);
    lo[q] = LaneSet<W>::load(lo_c + q * kLanes);
  }
  for (std::int64_t r = 0; r < rows; ++r) {
#pragma GCC unroll 16
    for (int q = 0; q < G; ++q) {
      LaneSet<W> d = LaneSet<W>::load(dy + r * C + q * kLanes);
      const LaneSet<W> v = LaneSet<W>::load(x + r * C + q * kLanes);
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) {
        if (w != nullptr) d.v[k] *= *w;
        g[q].v[k] += d.v[k];
        gx[q].v[k] += d.v[k] * ((v.v[k] - hi[q].v[k]) - lo[q].v[k]);
      }
    }
  }
  for (int q = 0; q < G; ++q) {
    float tg[kLanes], tgx[kLanes];
    g[q].store(tg);
    gx[q].store(tgx);
    for (int l = 0; l < kLanes; ++l) out[q * kLanes + l] = {tg[l], tgx[l]};
  }
}

template <typename T>
GradSums run_grad_sums_portable(const T* dy, const T* x, const float* w, float hi, float lo,
                                std::int64_t n) {
  return run_grad_sums_w<4>(dy, x, w, hi, lo, n);
}
template <typename T>
void runs_grad_sums_portable(const T* dy, const T* x, std::int64_t stride, const float* w, float hi,
                             float lo, std::int64_t n, GradSums* out) {
  runs_grad_sums_w<4>(dy, x, stride, w, hi, lo, n, out);
}
template <typename T>
void rows16_grad_sums_portable(const T* dy, const T* x, const float* hi, const float* lo, std::int64_t C,
                               std::int64_t rows, const float* w, GradSums* out) {
  rows16_grad_sums_w<4, 1>(dy, x, hi, lo, C, rows, w, out);
}
template <typename T>
void rows64_grad_sums_portable(const T* dy, const T* x, const float* hi, const float* lo, std::int64_t C,
                               std::int64_t rows, const float* w, GradSums* out) {
  rows16_grad_sums_w<4, 4>(dy, x, hi, lo, C, rows, w, out);
}
// 256 channels: four groups of 64 where registers are few; AVX-512 reads the
// 256 channels of each row at once (see rows256_moments).
template <typename T>
void rows256_grad_sums_portable(const T* dy, const T* x, const float* hi, const float* lo, std::int64_t C,
                                std::int64_t rows, const float* w, GradSums* out) {
  for (int q = 0; q < 4; ++q)
    rows64_grad_sums_portable(dy + 64 * q, x + 64 * q, hi + 64 * q, lo + 64 * q, C, rows, w, out + 64 * q);
}
#if NORMKIT_X86_DISPATCH
template <typename T>
NORMKIT_TARGET_AVX2 GradSums run_grad_sums_avx2(const T* dy, const T* x, const float* w, float hi,
                                                float lo, std::int64_t n) {
  return run_grad_sums_w<8>(dy, x, w, hi, lo, n);
}
template <typename T>
NORMKIT_TARGET_AVX2 void runs_grad_sums_avx2(const T* dy, const T* x, std::int64_t stride, const float* w,
                                             float hi, float lo, std::int64_t n, GradSums* out) {
  runs_grad_sums_w<8>(dy, x, stride, w, hi, lo, n, out);
}
template <typename T>
NORMKIT_TARGET_AVX2 void rows16_grad_sums_avx2(const T* dy, const T* x, const float* hi, const float* lo,
                                               std::int64_t C, std::int64_t rows, const float* w, GradSums* out) {
  rows16_grad_sums_w<8, 1>(dy, x, hi, lo, C, rows, w, out);
}
template <typename T>
NORMKIT_TARGET_AVX2 void rows64_grad_sums_avx2(const T* dy, const T* x, const float* hi, const float* lo,
                                               std::int64_t C, std::int64_t rows, const float* w, GradSums* out) {
  rows16_grad_sums_w<8, 4>(dy, x, hi, lo, C, rows, w, out);
}
template <typename T>
NORMKIT_TARGET_AVX2 void rows256_grad_sums_avx2(const T* dy, const T* x, const float* hi, const float* lo,
                                                std::int64_t C, std::int64_t rows, const float* w, GradSums* out) {
  for (int q = 0; q < 4; ++q)
    rows64_grad_sums_avx2(dy + 64 * q, x + 64 * q, hi + 64 * q, lo + 64 * q, C, rows, w, out + 64 * q);
}
template <typename T>
NORMKIT_TARGET_AVX512 GradSums run_grad_sums_avx512(const T* dy, const T* x, const float* w, float hi,
                                                    float lo, std::int64_t n) {
  return run_grad_sums_w<16>(dy, x, w, hi, lo, n);
}
template <typename T>
NORMKIT_TARGET_AVX512 void runs_grad_sums_avx512(const T* dy, const T* x, std::int64_t stride,
                                                 const float* w, float hi, float lo, std::int64_t n, GradSums* out) {
  runs_grad_sums_w<16>(dy, x, stride, w, hi, lo, n, out);
}
template <typename T>
NORMKIT_TARGET_AVX512 void rows16_grad_sums_avx512(const T* dy, const T* x, const float* hi,
                                                   const float* lo, std::int64_t C, std::int64_t rows,
                                                   const float* w, GradSums* out) {
  rows16_grad_sums_w<16, 1>(dy, x, hi, lo, C, rows, w, out);
}
template <typename T>
NORMKIT_TARGET_AVX512 void rows64_grad_sums_avx512(const T* dy, const T* x, const float* hi,
                                                   const float* lo, std::int64_t C, std::int64_t rows,
                                                   const float* w, GradSums* out) {
  rows16_grad_sums_w<16, 4>(dy, x, hi, lo, C, rows, w, out);
}
template <typename T>
NORMKIT_TARGET_AVX512 void rows256_grad_sums_avx512(const T* dy, const T* x, const float* hi,
                                                    const float* lo, std::int64_t C, std::int64_t rows,
                                                    const float* w, GradSums* out) {
  rows16_grad_sums_w<16, 16>(dy, x, hi, lo, C, rows, w, out);
}
#endif

}  // namespace

GradSums run_grad_sums(const float* dy, const float* x, const float* w, float hi, float lo, std::int64_t n) {
  return NORMKIT_DISPATCH(run_grad_sums, dy, x, w, hi, lo, n);
}
GradSums run_grad_sums(const Bf16* dy, const Bf16* x, const float* w, float hi, float lo, std::int64_t n) {
  return NORMKIT_DISPATCH(run_grad_sums, dy, x, w, hi, lo, n);
}
void runs_grad_sums(const Bf16* dy, const Bf16* x, std::int64_t stride, const float* w, float hi, float lo,
                    std::int64_t n, GradSums* out) {
  NORMKIT_DISPATCH(runs_grad_sums, dy, x, stride, w, hi, lo, n, out);
}
GradSums run_grad_sums(const F16* dy, const F16* x, const float* w, float hi, float lo, std::int64_t n) {
  return NORMKIT_DISPATCH(run_grad_sums, dy, x, w, hi, lo, n);
}
void runs_grad_sums(const F16* dy, const F16* x, std::int64_t stride, const float* w, float hi, float lo,
                    std::int64_t n, GradSums* out) {
  NORMKIT_DISPATCH(runs_grad_sums, dy, x, stride, w, hi, lo, n, out);
}

void runs_grad_sums(const float* dy, const float* x, std::int64_t stride, const float* w, float hi, float lo,
                    std::int64_t n, GradSums* out) {
  NORMKIT_DISPATCH(runs_grad_sums, dy, x, stride, w, hi, lo, n, out);
}

namespace {

// T: float, or a 16-bit type (dy and x widened as loaded: the same bits).
template <typename T>
struct GradSumsOps {
  const GradSumsArgsOf<T>& args;

  // Scalar math: g = dy * w[d];  sum_g += g;  sum_gx += g * ((x - hi) - lo)
  GradSums run(std::int64_t a, std::int64_t c, std::int64_t offset, std::int64_t n) const {
    const std::int64_t ac = a * args.plan.C + c;
    const float* w = args.d_weight != nullptr ? args.d_weight + offset % args.plan.D : nullptr;
    return run_grad_sums(args.dy + offset, args.x + offset, w, args.center_hi[ac], args.center_lo[ac], n);
  }

  // kRuns consecutive samples' runs of one (a, c), each the whole of its
  // d-row (offset: the first's, ((a * B + s) * C + c) * D; stride: the next
  // sample's), each with the bits of run(): blocked_reduce.hpp's
  // reduce_each_slice takes them so.
  static constexpr int kRuns = kRunsAtOnce;
  void runs(std::int64_t offset, std::int64_t stride, std::int64_t n, GradSums* out) const {
    const std::int64_t D = args.plan.D, C = args.plan.C;
    const std::int64_t row = offset / D, c = row % C, a = row / C / args.plan.B, ac = a * C + c;
    const float* w = args.d_weight;  // a run starts its d-row: w from d = 0
    runs_grad_sums(args.dy + offset, args.x + offset, stride, w, args.center_hi[ac], args.center_lo[ac], n, out);
  }

  // Channels contiguous: per channel over the rows in order; 256, 64 or 16
  // channels at a time in registers, the rest one by one with the same
  // arithmetic.
  // Scalar math: g = dy * w;  sum_g += g;  sum_gx += g * ((x - hi) - lo)
  void rows(std::int64_t a, std::int64_t offset, std::int64_t rows, std::int64_t first, std::int64_t n,
            GradSums* out) const {
    const std::int64_t C = args.plan.C;
    const float w = args.d_weight != nullptr ? args.d_weight[0] : 1.0f;  // D == 1 here
    const bool weighted = args.d_weight != nullptr;
    std::int64_t j = 0;
    for (; j + 16 * kLanes <= n; j += 16 * kLanes) {
      const std::int64_t c = first + j;
      NORMKIT_DISPATCH(rows256_grad_sums, args.dy + offset + c, args.x + offset + c, args.center_hi + a * C + c,
                       args.center_lo + a * C + c, C, rows, weighted ? &w : nullptr, out + j);
    }
    for (; j + 4 * kLanes <= n; j += 4 * kLanes) {
      const std::int64_t c = first + j;
      NORMKIT_DISPATCH(rows64_grad_sums, args.dy + offset + c, args.x + offset + c, args.center_hi + a * C + c,
                       args.center_lo + a * C + c, C, rows, weighted ? &w : nullptr, out + j);
    }
    for (; j + kLanes <= n; j += kLanes) {
      const std::int64_t c = first + j;
      NORMKIT_DISPATCH(rows16_grad_sums, args.dy + offset + c, args.x + offset + c, args.center_hi + a * C + c,
                       args.center_lo + a * C + c, C, rows, weighted ? &w : nullptr, out + j);
    }
    for (; j < n; ++j) {
      const std::int64_t c = first + j;
      const float hi = args.center_hi[a * C + c], lo = args.center_lo[a * C + c];
      float g = 0, gx = 0;
      for (std::int64_t r = 0; r < rows; ++r) {
        const float dy = load1(args.dy + offset + r * C + c);
        const float d = weighted ? dy * w : dy;
        g += d;
        gx += d * ((load1(args.x + offset + r * C + c) - hi) - lo);
      }
      out[j] = {g, gx};
    }
  }
};

}  // namespace

template <typename T>
void grad_sums(const GradSumsArgsOf<T>& args) {
  blocked_reduce(args.plan, GradSumsOps<T>{args}, args.out);
}
template void grad_sums<float>(const GradSumsArgs&);
template void grad_sums<Bf16>(const GradSumsArgsOf<Bf16>&);
template void grad_sums<F16>(const GradSumsArgsOf<F16>&);

void grad_sums_of_whole_nodes(const GradSumsArgs& local, const SampleTree& tree, std::int64_t first,
                              const LeafList& nodes, GradSums* out) {
  reduce_whole_nodes(local.plan, GradSumsOps<float>{local}, tree, first, nodes, out);
}

template <typename T>
void grad_sums_each_slice(const GradSumsArgsOf<T>& args,
                          const SlicesFinish<GradSums>& finish, const SlicePass& pass) {
  reduce_each_slice<GradSums>(args.plan, GradSumsOps<T>{args}, finish, pass);
}
#define NORMKIT_GRAD_SUMS_EACH_SLICE(T)                                                                   \
  template void grad_sums_each_slice<T>(const GradSumsArgsOf<T>&,                                         \
                                        const SlicesFinish<GradSums>&, const SlicePass&);
NORMKIT_GRAD_SUMS_EACH_SLICE(float)
NORMKIT_GRAD_SUMS_EACH_SLICE(Bf16)
NORMKIT_GRAD_SUMS_EACH_SLICE(F16)
#undef NORMKIT_GRAD_SUMS_EACH_SLICE

}  // namespace normkit::kernels
