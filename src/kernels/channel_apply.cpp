#include "channel_apply.hpp"

#include <cstdint>

#include "stream_store.hpp"

namespace normkit::kernels {
namespace {

// Calls body(ac, offset, n) for each contiguous run of one (a, c) when D > 1,
// or row(a, offset) for each row of C channels when D == 1; in parallel, each
// thread fencing its streaming stores before the region ends.
template <typename RunBody, typename RowBody>
void for_each_run(const NormPlan& p, bool stream, const RunBody& run, const RowBody& row) {
  if (p.numel() == 0) return;
#pragma omp parallel
  {
    if (p.D > 1) {
#pragma omp for schedule(static) nowait
      for (std::int64_t item = 0; item < p.A * p.B * p.C; ++item) {
        const std::int64_t c = item % p.C, a = item / (p.B * p.C);
        run(a * p.C + c, item * p.D, p.D);
      }
    } else {
#pragma omp for schedule(static) nowait
      for (std::int64_t item = 0; item < p.A * p.B; ++item) row(item / p.B, item * p.C);
    }
    stream_fence(stream);
  }
}

// The forward pass over one contiguous run of (a, c) = ac.
// Scalar math: y = ((x - hi) - lo) * scale + shift
void normalize_run(const NormalizeArgs& args, bool stream, std::int64_t ac, std::int64_t offset, std::int64_t n) {
  const float hi = args.center_hi[ac], lo = args.center_lo[ac];
  const float scale = args.scale[ac], shift = args.shift[ac];
  const float* x = args.x + offset;
  write_elements(
      args.y + offset, n, stream, [&](std::int64_t i) { return ((load4(x + i) - hi) - lo) * scale + shift; },
      [&](std::int64_t i) { return ((x[i] - hi) - lo) * scale + shift; });
}

// The backward pass over one contiguous run of (a, c) = ac.
// Scalar math: dx = dy * k_dy + ((x - hi) - lo) * k_x + k_0
void input_grad_run(const InputGradArgs& args, bool stream, std::int64_t ac, std::int64_t offset, std::int64_t n) {
  const float hi = args.center_hi[ac], lo = args.center_lo[ac];
  const float k_dy = args.k_dy[ac], k_x = args.k_x[ac], k_0 = args.k_0[ac];
  const float* dy = args.dy + offset;
  const float* x = args.x + offset;
  write_elements(
      args.dx + offset, n, stream,
      [&](std::int64_t i) { return load4(dy + i) * k_dy + ((load4(x + i) - hi) - lo) * k_x + k_0; },
      [&](std::int64_t i) { return dy[i] * k_dy + ((x[i] - hi) - lo) * k_x + k_0; });
}

// Calls run(offset) for each of the B runs of D elements of slice ac.
template <typename Run>
void for_each_run_of_slice(const NormPlan& p, std::int64_t ac, const Run& run) {
  const std::int64_t a = ac / p.C, c = ac % p.C;
  for (std::int64_t b = 0; b < p.B; ++b) run(((a * p.B + b) * p.C + c) * p.D);
}

bool stream_y(const NormalizeArgs& args) { return stream_output(args.plan.numel()) && args.y != args.x; }
bool stream_dx(const InputGradArgs& args) {
  return stream_output(args.plan.numel()) && args.dx != args.dy && args.dx != args.x;
}

}  // namespace

void normalize_apply(const NormalizeArgs& args) {
  const std::int64_t C = args.plan.C;
  const bool stream = stream_y(args);
  for_each_run(
      args.plan, stream,
      [&](std::int64_t ac, std::int64_t offset, std::int64_t n) { normalize_run(args, stream, ac, offset, n); },
      [&](std::int64_t a, std::int64_t offset) {
        const float* hi = args.center_hi + a * C;
        const float* lo = args.center_lo + a * C;
        const float* scale = args.scale + a * C;
        const float* shift = args.shift + a * C;
        const float* x = args.x + offset;
        write_elements(
            args.y + offset, C, stream,
            [&](std::int64_t c) {
              return ((load4(x + c) - load4(hi + c)) - load4(lo + c)) * load4(scale + c) + load4(shift + c);
            },
            [&](std::int64_t c) { return ((x[c] - hi[c]) - lo[c]) * scale[c] + shift[c]; });
      });
}

void input_grad_apply(const InputGradArgs& args) {
  const std::int64_t C = args.plan.C;
  const bool stream = stream_dx(args);
  for_each_run(
      args.plan, stream,
      [&](std::int64_t ac, std::int64_t offset, std::int64_t n) { input_grad_run(args, stream, ac, offset, n); },
      [&](std::int64_t a, std::int64_t offset) {
        const float* hi = args.center_hi + a * C;
        const float* lo = args.center_lo + a * C;
        const float* k_dy = args.k_dy + a * C;
        const float* k_x = args.k_x + a * C;
        const float* k_0 = args.k_0 + a * C;
        const float* dy = args.dy + offset;
        const float* x = args.x + offset;
        float* dx = args.dx + offset;
        for (std::int64_t c = 0; c < C; ++c)
          dx[c] = dy[c] * k_dy[c] + ((x[c] - hi[c]) - lo[c]) * k_x[c] + k_0[c];
      });
}

void normalize_slice(const NormalizeArgs& args, std::int64_t ac) {
  const bool stream = stream_y(args);
  for_each_run_of_slice(args.plan, ac, [&](std::int64_t offset) { normalize_run(args, stream, ac, offset, args.plan.D); });
  stream_fence(stream);
}

void input_grad_slice(const InputGradArgs& args, std::int64_t ac) {
  const bool stream = stream_dx(args);
  for_each_run_of_slice(args.plan, ac, [&](std::int64_t offset) { input_grad_run(args, stream, ac, offset, args.plan.D); });
  stream_fence(stream);
}

}  // namespace normkit::kernels
