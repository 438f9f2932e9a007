// RMSNorm front end: y = x * rsqrt(mean(x^2) + eps) * weight, on LayerNorm's
// fused row kernels without a centre (row_apply.hpp).
#include <cmath>
#include <optional>
#include <vector>

#include "normkit/layer_norm.hpp"
#include "planned_view.hpp"
#include "ref/layer_norm_ref.hpp"
#include "row_apply.hpp"
#include "row_norm_shape.hpp"
#include "row_operand.hpp"

namespace normkit {
namespace {

using kernels::Layout;
using kernels::RowOperand;

void fast_forward(const RMSNormInputs& in, double eps, const RowProblem& p, const RMSNormForwardOutputs& out) {
  const RowOperand x(in.x, p.rows, p.cols, RowOperand::Role::input);
  const kernels::PlannedInput gamma(in.weight, Layout::contiguous);
  // The kernel writes the statistics into their tensors (through a buffer
  // when they are not contiguous).
  kernels::PlannedOutput rstd(out.rstd, Layout::contiguous);
  RowOperand y(out.y, p.rows, p.cols, RowOperand::Role::output);
  kernels::row_norm_forward({.kind = kernels::RowNorm::rms,
                             .x = x.data(),
                             .y = y.mutable_data(),
                             .rows = p.rows,
                             .cols = p.cols,
                             .gamma = gamma.data(),
                             .eps = eps,
                             .rstd = rstd.data(),
                             .x_at = x.at(),
                             .y_at = y.at()});
  y.finish();
  rstd.finish();
}

void fast_backward(const RMSNormBackwardInputs& in, const RowProblem& p, const RMSNormGrads& g) {
  const RowOperand x(in.x, p.rows, p.cols, RowOperand::Role::input);
  const RowOperand dy(in.dy, p.rows, p.cols, RowOperand::Role::input);
  // Read in place (copied when not contiguous): no per-call conversion.
  const kernels::PlannedInput rstd(in.rstd, Layout::contiguous), gamma(in.weight, Layout::contiguous);
  RowOperand dx(g.dx, p.rows, p.cols, RowOperand::Role::output);
  // dweight[d] = sum_r dy * x * rstd: the column sums with no centre.
  kernels::row_norm_backward({.kind = kernels::RowNorm::rms,
                              .dy = dy.data(),
                              .x = x.data(),
                              .rows = p.rows,
                              .cols = p.cols,
                              .rstd = rstd.data(),
                              .gamma = gamma.data(),
                              .dx = dx.mutable_data(),
                              .dweight = g.dweight,
                              .dy_at = dy.at(),
                              .x_at = x.at(),
                              .dx_at = dx.at()});
  dx.finish();
}

}  // namespace

void rms_norm_forward(const RMSNormInputs& in, const RMSNormOptions& options,
                      const RMSNormForwardOutputs& out) {
  const RowProblem p = check_row_input(in.x, in.normalized_shape, "input");
  const double eps = resolved_rms_norm_eps(options.eps);
  check_optional_shape(in.weight, "weight", in.normalized_shape, in.x.dtype());
  check_required_shape(out.y, "y", in.x.shape(), "(the shape of the input)", in.x.dtype());
  check_required_shape(out.rstd, "rstd", p.stats_shape, "(the statistics)");
  RMSNormInputs used = in;
  Tensor offset;  // the weight with its offset, when there is one
  if (options.weight_offset != 0) used.weight = offset = offset_weight(in.weight, options.weight_offset, in.normalized_shape);
  if (options.impl == Impl::reference) {
    const ref::RMSNormForwardResult r =
        ref::rms_norm_forward({p.rows, p.cols}, read_values(used.x), read_values(used.weight), eps);
    write_values(r.y, out.y);
    write_values(r.rstd, out.rstd);
    return;
  }
  fast_forward(used, eps, p, out);
}

RMSNormForwardResult rms_norm_forward(const RMSNormInputs& in, const RMSNormOptions& options) {
  const RowProblem p = check_row_input(in.x, in.normalized_shape, "input");
  RMSNormForwardResult r{Tensor(in.x.shape(), in.x.dtype()), Tensor(p.stats_shape)};
  rms_norm_forward(in, options, {r.y, r.rstd});
  return r;
}

void rms_norm_backward(const RMSNormBackwardInputs& in, const RMSNormOptions& options,
                       const RMSNormGrads& grads) {
  const RowProblem p = check_row_input(in.x, in.normalized_shape, "input");
  resolved_rms_norm_eps(options.eps);
  check_required_shape(in.dy, "dy", in.x.shape(), "(the shape of the input)", in.x.dtype());
  check_required_shape(in.rstd, "rstd", p.stats_shape, "(from the forward pass)");
  check_optional_shape(in.weight, "weight", in.normalized_shape, in.x.dtype());
  if (grads.dx.defined())
    check_required_shape(grads.dx, "dx", in.x.shape(), "(the shape of the input)", in.x.dtype());
  check_optional_shape(grads.dweight, "dweight", in.normalized_shape, in.x.dtype());
  // With an offset, dx takes offset + weight; dweight is the gradient of the
  // weight alone, which the offset does not change.
  RMSNormBackwardInputs used = in;
  Tensor offset;
  if (options.weight_offset != 0) used.weight = offset = offset_weight(in.weight, options.weight_offset, in.normalized_shape);
  if (options.impl == Impl::reference) {
    const ref::RMSNormBackwardResult r =
        ref::rms_norm_backward({p.rows, p.cols}, read_values(used.dy), read_values(used.x),
                               read_values(used.rstd), read_values(used.weight));
    write_values(r.dx, grads.dx);
    write_values(r.dweight, grads.dweight);
    return;
  }
  fast_backward(used, p, grads);
}

RMSNormBackwardResult rms_norm_backward(const RMSNormBackwardInputs& in,
                                        const RMSNormOptions& options) {
  RMSNormBackwardResult r{Tensor(in.x.defined() ? in.x.shape() : Shape{0}, in.x.defined() ? in.x.dtype() : DType::float32),
                          {}};
  if (in.weight.defined()) r.dweight = Tensor(in.normalized_shape, in.weight.dtype());
  rms_norm_backward(in, options, {r.dx, r.dweight});
  return r;
}

}  // namespace normkit
