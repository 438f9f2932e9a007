#include "channel_apply.hpp"

#include <algorithm>
#include <cstdint>

#include "elementwise.hpp"
#include "parallel.hpp"
#include "stream_store.hpp"

namespace normkit::kernels {
namespace {

// Software prefetch pays only for inputs read from memory: those of the
// sizes whose outputs are streamed. Over a cache-resident input it only
// added requests: BatchNorm eval 64x256x14x14 NCHW, 2 threads, 0.222
// against 0.265 ms without it (after a 96 MiB read 1 thread 0.54 against
// 0.62 ms), while 32x64x56x56 from memory kept its gain (0.50 against 0.55
// ms). A run asks for the run after it; rows of channels (D == 1, often a
// few vectors each) ask kRowPrefetchBytes ahead: BatchNorm 32x64x56x56
// channels-last from memory, 1 thread, eval 1.00 against 1.20 ms without
// (1.07 at a quarter of the distance), training forward+backward 3.92
// against 4.31 ms; 2 threads 5-7%.
inline std::int64_t run_prefetch(bool stream, std::int64_t D) { return stream ? D : 0; }
template <typename T>
std::int64_t row_prefetch(bool stream) {
  constexpr std::int64_t kRowPrefetchBytes = 4096;
  return stream ? kRowPrefetchBytes / static_cast<std::int64_t>(sizeof(T)) : 0;
}

// Calls runs(view_runs) for blocks of consecutive runs of D elements when
// D > 1 (about kElementsPerCall elements, at least one run: one dispatch for
// many short runs), or rows(a, offset, count) for blocks of up to
// kRowsPerCall rows of C channels of one a when D == 1; in parallel, each
// thread fencing its streaming stores before the region ends.
template <typename RunsBody, typename RowBody>
void for_each_run(const NormPlan& p, bool stream, const RunsBody& runs, const RowBody& row) {
  if (p.numel() == 0) return;
  parallel_region(threads_for(p.numel()), [&] {
    if (p.D > 1) {
      constexpr std::int64_t kElementsPerCall = 4096;
      const std::int64_t items = p.A * p.B * p.C, per_call = std::max<std::int64_t>(1, kElementsPerCall / p.D);
#pragma omp for schedule(static) nowait
      for (std::int64_t block = 0; block < (items + per_call - 1) / per_call; ++block) {
        const std::int64_t first = block * per_call;
        runs(ViewRuns{.first = first, .count = std::min(per_call, items - first), .B = p.B, .C = p.C, .D = p.D});
      }
    } else {
      constexpr std::int64_t kRowsPerCall = 64;  // one dispatch for many short rows
      const std::int64_t blocks = (p.B + kRowsPerCall - 1) / kRowsPerCall;
#pragma omp for schedule(static) nowait
      for (std::int64_t item = 0; item < p.A * blocks; ++item) {
        const std::int64_t a = item / blocks, b0 = (item % blocks) * kRowsPerCall;
        row(a, (a * p.B + b0) * p.C, std::min(kRowsPerCall, p.B - b0));
      }
    }
    stream_fence(stream);
  });
}

// The forward pass over `runs` runs of D elements of (a, c) = ac, `stride`
// apart from offset, in one call; each asks for the D elements after it
// (prefetch: see elementwise.hpp).
template <typename T>
void normalize_run(const NormalizeArgsOf<T>& args, bool stream, std::int64_t ac, std::int64_t offset,
                   std::int64_t runs, std::int64_t stride) {
  const std::int64_t n = args.plan.D, prefetch = args.plan.D;
  normalize_span(NormalizeSpanOf<T>{.x = args.x + offset,
                  .y = args.y + offset,
                  .n = n,
                  .hi = args.center_hi[ac],
                  .lo = args.center_lo[ac],
                  .scale = args.scale[ac],
                  .shift = args.shift[ac],
                  .runs = runs,
                  .stride = stride},
                 stream, prefetch);
}

// The backward pass over runs of (a, c) = ac, as normalize_run.
template <typename T>
void input_grad_run(const InputGradArgsOf<T>& args, bool stream, std::int64_t ac, std::int64_t offset,
                    std::int64_t runs, std::int64_t stride) {
  const std::int64_t n = args.plan.D, prefetch = args.plan.D;
  input_grad_span(InputGradSpanOf<T>{.dy = args.dy + offset,
                   .x = args.x + offset,
                   .dx = args.dx + offset,
                   .n = n,
                   .hi = args.center_hi[ac],
                   .lo = args.center_lo[ac],
                   .k_dy = args.k_dy[ac],
                   .k_x = args.k_x[ac],
                   .k_0 = args.k_0[ac],
                   .runs = runs,
                   .stride = stride},
                  stream, prefetch);
}

// Calls runs(offset, count, stride) once for the runs of D elements of slice
// ac in samples [s0, s1): count runs from offset, stride elements apart (one
// dispatch for all of them: on small maps a run is a vector or less).
template <typename Runs>
void runs_of_slice(const NormPlan& p, std::int64_t ac, std::int64_t s0, std::int64_t s1, const Runs& runs) {
  const std::int64_t a = ac / p.C, c = ac % p.C;
  const std::int64_t b0 = s0 * p.rows_per_sample, b1 = std::min(p.B, s1 * p.rows_per_sample);
  if (b0 < b1) runs(((a * p.B + b0) * p.C + c) * p.D, b1 - b0, p.C * p.D);
}

template <typename T>
bool stream_y(const NormalizeArgsOf<T>& args) {
  const std::int64_t n = args.plan.numel();
  return (args.single_pass ? stream_single_pass_output(n, threads_for(n)) : stream_output(n)) && args.y != args.x;
}
template <typename T>
bool stream_dx(const InputGradArgsOf<T>& args) {
  return stream_output(args.plan.numel()) && args.dx != args.dy && args.dx != args.x;
}

template <typename T>
void normalize_apply_to(const NormalizeArgsOf<T>& args) {
  const std::int64_t C = args.plan.C;
  const bool stream = stream_y(args);
  for_each_run(
      args.plan, stream,
      [&](const ViewRuns& runs) {
        normalize_runs(NormalizeRunsOf<T>{.x = args.x,
                                          .y = args.y,
                                          .runs = runs,
                                          .hi = args.center_hi,
                                          .lo = args.center_lo,
                                          .scale = args.scale,
                                          .shift = args.shift},
                       stream, run_prefetch(stream, runs.D));
      },
      [&](std::int64_t a, std::int64_t offset, std::int64_t rows) {
        normalize_rows(NormalizeRowsOf<T>{.x = args.x + offset,
                        .y = args.y + offset,
                        .rows = rows,
                        .n = C,
                        .hi = args.center_hi + a * C,
                        .lo = args.center_lo + a * C,
                        .scale = args.scale + a * C,
                        .shift = args.shift + a * C},
                       stream, row_prefetch<T>(stream));
      });
}

// While a slice (in cache) is written, each run asks for the same sample's
// run of the next channel, D elements on: the slice this thread reduces next.
// The streamed stores are fenced once the slice's last sample is written.
template <typename T>
void normalize_slice_of(const NormalizeArgsOf<T>& args, std::int64_t ac, std::int64_t s0, std::int64_t s1) {
  const bool stream = stream_y(args);
  runs_of_slice(args.plan, ac, s0, s1, [&](std::int64_t offset, std::int64_t count, std::int64_t stride) {
    normalize_run(args, stream, ac, offset, count, stride);
  });
  if (s1 >= args.plan.samples()) stream_fence(stream);
}

template <typename T>
void input_grad_apply_to(const InputGradArgsOf<T>& args) {
  const std::int64_t C = args.plan.C;
  const bool stream = stream_dx(args);
  for_each_run(
      args.plan, stream,
      [&](const ViewRuns& runs) {
        input_grad_runs(InputGradRunsOf<T>{.dy = args.dy,
                                           .x = args.x,
                                           .dx = args.dx,
                                           .runs = runs,
                                           .hi = args.center_hi,
                                           .lo = args.center_lo,
                                           .k_dy = args.k_dy,
                                           .k_x = args.k_x,
                                           .k_0 = args.k_0},
                        stream, run_prefetch(stream, runs.D));
      },
      [&](std::int64_t a, std::int64_t offset, std::int64_t rows) {
        input_grad_rows(InputGradRowsOf<T>{.dy = args.dy + offset,
                         .x = args.x + offset,
                         .dx = args.dx + offset,
                         .rows = rows,
                         .n = C,
                         .hi = args.center_hi + a * C,
                         .lo = args.center_lo + a * C,
                         .k_dy = args.k_dy + a * C,
                         .k_x = args.k_x + a * C,
                         .k_0 = args.k_0 + a * C},
                        stream, row_prefetch<T>(stream));
      });
}

template <typename T>
void input_grad_slice_of(const InputGradArgsOf<T>& args, std::int64_t ac, std::int64_t s0, std::int64_t s1) {
  const bool stream = stream_dx(args);
  runs_of_slice(args.plan, ac, s0, s1, [&](std::int64_t offset, std::int64_t count, std::int64_t stride) {
    input_grad_run(args, stream, ac, offset, count, stride);
  });
  if (s1 >= args.plan.samples()) stream_fence(stream);
}

}  // namespace

template <typename T>
void normalize_apply(const NormalizeArgsOf<T>& args) {
  normalize_apply_to(args);
}
template <typename T>
void input_grad_apply(const InputGradArgsOf<T>& args) {
  input_grad_apply_to(args);
}
template <typename T>
void normalize_slice(const NormalizeArgsOf<T>& args, std::int64_t ac, std::int64_t s0, std::int64_t s1) {
  normalize_slice_of(args, ac, s0, s1);
}
template <typename T>
void input_grad_slice(const InputGradArgsOf<T>& args, std::int64_t ac, std::int64_t s0, std::int64_t s1) {
  input_grad_slice_of(args, ac, s0, s1);
}

#define NORMKIT_CHANNEL_PASSES(T)                                                                   \
  template void normalize_apply<T>(const NormalizeArgsOf<T>&);                                      \
  template void input_grad_apply<T>(const InputGradArgsOf<T>&);                                     \
  template void normalize_slice<T>(const NormalizeArgsOf<T>&, std::int64_t, std::int64_t, std::int64_t); \
  template void input_grad_slice<T>(const InputGradArgsOf<T>&, std::int64_t, std::int64_t, std::int64_t);
NORMKIT_CHANNEL_PASSES(float)
NORMKIT_CHANNEL_PASSES(Bf16)
NORMKIT_CHANNEL_PASSES(F16)
#undef NORMKIT_CHANNEL_PASSES

}  // namespace normkit::kernels
