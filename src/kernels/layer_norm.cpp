// LayerNorm front end: x as a (rows, cols) matrix (read in place when its
// rows are contiguous: row_operand.hpp) and the fused row kernels
// (row_apply.hpp).
#include "normkit/layer_norm.hpp"

#include <cmath>
#include <optional>
#include <vector>

#include "planned_view.hpp"
#include "ref/layer_norm_ref.hpp"
#include "row_apply.hpp"
#include "row_norm_shape.hpp"
#include "row_operand.hpp"

namespace normkit {
namespace {

using kernels::Layout;
using kernels::RowOperand;

void fast_forward(const LayerNormInputs& in, const LayerNormOptions& o, const RowProblem& p,
                  const LayerNormForwardOutputs& out) {
  const RowOperand x(in.x, p.rows, p.cols, RowOperand::Role::input);
  const kernels::PlannedInput gamma(in.weight, Layout::contiguous), beta(in.bias, Layout::contiguous);
  // The kernel writes the statistics into their tensors (through a buffer
  // when they are not contiguous).
  kernels::PlannedOutput mean(out.mean, Layout::contiguous), rstd(out.rstd, Layout::contiguous);
  RowOperand y(out.y, p.rows, p.cols, RowOperand::Role::output);
  kernels::row_norm_forward({.kind = kernels::RowNorm::layer,
                             .x = x.data(),
                             .y = y.mutable_data(),
                             .rows = p.rows,
                             .cols = p.cols,
                             .gamma = gamma.data(),
                             .beta = beta.data(),
                             .eps = o.eps,
                             .mean = mean.data(),
                             .rstd = rstd.data(),
                             .x_at = x.at(),
                             .y_at = y.at()});
  y.finish();
  mean.finish();
  rstd.finish();
}

void fast_backward(const LayerNormBackwardInputs& in, const RowProblem& p, const LayerNormGrads& g) {
  const RowOperand x(in.x, p.rows, p.cols, RowOperand::Role::input);
  const RowOperand dy(in.dy, p.rows, p.cols, RowOperand::Role::input);
  // Read in place (copied when not contiguous): no per-call conversion.
  const kernels::PlannedInput mean(in.mean, Layout::contiguous), rstd(in.rstd, Layout::contiguous);
  const kernels::PlannedInput gamma(in.weight, Layout::contiguous);
  RowOperand dx(g.dx, p.rows, p.cols, RowOperand::Role::output);
  kernels::row_norm_backward({.kind = kernels::RowNorm::layer,
                              .dy = dy.data(),
                              .x = x.data(),
                              .rows = p.rows,
                              .cols = p.cols,
                              .mean = mean.data(),
                              .rstd = rstd.data(),
                              .gamma = gamma.data(),
                              .dx = dx.mutable_data(),
                              .dweight = g.dweight,
                              .dbias = g.dbias,
                              .dy_at = dy.at(),
                              .x_at = x.at(),
                              .dx_at = dx.at()});
  dx.finish();
}

}  // namespace

void layer_norm_forward(const LayerNormInputs& in, const LayerNormOptions& options,
                        const LayerNormForwardOutputs& out) {
  const RowProblem p = check_row_input(in.x, in.normalized_shape, "input");
  check_layer_norm_eps(options.eps);
  check_optional_shape(in.weight, "weight", in.normalized_shape, in.x.dtype());
  check_optional_shape(in.bias, "bias", in.normalized_shape, in.x.dtype());
  check_required_shape(out.y, "y", in.x.shape(), "(the shape of the input)", in.x.dtype());
  check_required_shape(out.mean, "mean", p.stats_shape, "(the statistics)");
  check_required_shape(out.rstd, "rstd", p.stats_shape, "(the statistics)");
  if (options.impl == Impl::reference) {
    const ref::LayerNormForwardResult r = ref::layer_norm_forward(
        {p.rows, p.cols}, read_values(in.x), read_values(in.weight), read_values(in.bias), options.eps);
    write_values(r.y, out.y);
    write_values(r.mean, out.mean);
    write_values(r.rstd, out.rstd);
    return;
  }
  fast_forward(in, options, p, out);
}

LayerNormForwardResult layer_norm_forward(const LayerNormInputs& in,
                                          const LayerNormOptions& options) {
  const RowProblem p = check_row_input(in.x, in.normalized_shape, "input");
  LayerNormForwardResult r{Tensor(in.x.shape(), in.x.dtype()), Tensor(p.stats_shape), Tensor(p.stats_shape)};
  layer_norm_forward(in, options, {r.y, r.mean, r.rstd});
  return r;
}

void layer_norm_backward(const LayerNormBackwardInputs& in, const LayerNormOptions& options,
                         const LayerNormGrads& grads) {
  const RowProblem p = check_row_input(in.x, in.normalized_shape, "input");
  check_required_shape(in.dy, "dy", in.x.shape(), "(the shape of the input)", in.x.dtype());
  check_required_shape(in.mean, "mean", p.stats_shape, "(from the forward pass)");
  check_required_shape(in.rstd, "rstd", p.stats_shape, "(from the forward pass)");
  check_optional_shape(in.weight, "weight", in.normalized_shape, in.x.dtype());
  if (grads.dx.defined())
    check_required_shape(grads.dx, "dx", in.x.shape(), "(the shape of the input)", in.x.dtype());
  check_optional_shape(grads.dweight, "dweight", in.normalized_shape, in.x.dtype());
  check_optional_shape(grads.dbias, "dbias", in.normalized_shape, in.x.dtype());
  if (options.impl == Impl::reference) {
    const ref::LayerNormBackwardResult r = ref::layer_norm_backward(
        {p.rows, p.cols}, read_values(in.dy), read_values(in.x), read_values(in.mean),
        read_values(in.rstd), read_values(in.weight));
    write_values(r.dx, grads.dx);
    write_values(r.dweight, grads.dweight);
    write_values(r.dbias, grads.dbias);
    return;
  }
  fast_backward(in, p, grads);
}

LayerNormBackwardResult layer_norm_backward(const LayerNormBackwardInputs& in,
                                            const LayerNormOptions& options, bool with_weight,
                                            bool with_bias) {
  LayerNormBackwardResult r{Tensor(in.x.defined() ? in.x.shape() : Shape{0}, in.x.defined() ? in.x.dtype() : DType::float32),
                            {}, {}};
  // The parameters' gradients in the weight's dtype, as PyTorch's.
  const DType parameter_dtype = in.weight.defined() ? in.weight.dtype() : DType::float32;
  if (with_weight) r.dweight = Tensor(in.normalized_shape, parameter_dtype);
  if (with_bias) r.dbias = Tensor(in.normalized_shape, parameter_dtype);
  layer_norm_backward(in, options, {r.dx, r.dweight, r.dbias});
  return r;
}

}  // namespace normkit
