// The residual add fused with LayerNorm or RMSNorm (normkit/add_norm.hpp).
//
// Fast: one pass over memory, in the row kernels (row_apply.hpp): each row
// of x + residual is written to residual_out (rounded once when it is
// 16-bit) and the stored row normalized while it is in cache, whatever the
// dtypes and strides (row_operand.hpp). The reference sums into a float32
// buffer, stores it into residual_out and normalizes the stored values with
// the norm's own reference, rounding y once into x's dtype.
#include "normkit/add_norm.hpp"

#include <cmath>
#include <optional>
#include <type_traits>
#include <vector>

#include "elementwise.hpp"
#include "planned_view.hpp"
#include "row_apply.hpp"
#include "row_norm_shape.hpp"
#include "row_operand.hpp"

namespace normkit {
namespace {

enum class NormKind { layer, rms };

// A float32 copy of t (exact), or t itself when it is float32 (or undefined).
TensorView as_float32(const TensorView& t, Tensor& keep) {
  if (!t.defined() || t.dtype() == DType::float32) return t;
  keep = Tensor(t.shape());
  copy_into(t, keep);
  return keep;
}

// The checks every forward makes, past x's own.
void check_forward(const AddNormInputs& in, const TensorView& y, const TensorView& residual_out) {
  check_required_shape(in.residual, "residual", in.x.shape(), "(the shape of x)", in.x.dtype());
  check_optional_shape(in.weight, "weight", in.normalized_shape, in.x.dtype());
  check_optional_shape(in.bias, "bias", in.normalized_shape, in.x.dtype());
  check_required_shape(y, "y", in.x.shape(), "(the shape of x)", in.x.dtype());
  check_required_shape(residual_out, "residual_out", in.x.shape(), "(the shape of x)", in.residual.dtype());
  NORMKIT_CHECK(residual_out.dtype() == in.residual.dtype(), "residual_out: expected residual's dtype (",
                dtype_name(in.residual.dtype()), "), got ", dtype_name(residual_out.dtype()));
}

// The float32 values residual_out holds: x + residual in float32, stored
// into residual_out (rounded there when it is 16-bit) and read back.
Tensor stored_sum(const AddNormInputs& in, const TensorView& residual_out) {
  Tensor x_keep, r_keep;
  const kernels::PlannedInput x(as_float32(in.x, x_keep), kernels::Layout::contiguous);
  const kernels::PlannedInput r(as_float32(in.residual, r_keep), kernels::Layout::contiguous);
  Tensor sum(in.x.shape());
  if (sum.numel() > 0) kernels::add_span(x.data(), r.data(), sum.data<float>(), sum.numel());
  copy_into(sum, residual_out);
  if (residual_out.dtype() != DType::float32) copy_into(residual_out, sum);
  return sum;
}

// y of the norm of `rows` (float32), written into y (rounded once when it
// is 16-bit); the statistics into mean (LayerNorm) and rstd.
template <typename Options>
void norm_forward(const Tensor& rows, const AddNormInputs& in, const Options& options,
                  const TensorView& y, const TensorView& mean, const TensorView& rstd) {
  Tensor w_keep, b_keep, y_keep;
  const TensorView w = as_float32(in.weight, w_keep), b = as_float32(in.bias, b_keep);
  TensorView y32 = y;
  if (y.dtype() != DType::float32) y32 = y_keep = Tensor(y.shape());
  if constexpr (std::is_same_v<Options, LayerNormOptions>)
    layer_norm_forward({rows, in.normalized_shape, w, b}, options, {y32, mean, rstd});
  else
    rms_norm_forward({rows, in.normalized_shape, w}, options, {y32, rstd});
  if (y_keep.defined()) copy_into(y_keep, y);
}

template <typename Options>
void add_norm_forward(NormKind kind, const AddNormInputs& in, const Options& options, const TensorView& y,
                      const TensorView& residual_out, const TensorView& mean, const TensorView& rstd) {
  const RowProblem p = check_row_input(in.x, in.normalized_shape, "x");
  check_forward(in, y, residual_out);
  if (kind == NormKind::rms && in.bias.defined()) detail::throw_error("bias: RMSNorm has none: expected None");
  // The checks the norm's own front end makes, before residual_out is
  // written on either path.
  double eps = 0;
  if constexpr (std::is_same_v<Options, LayerNormOptions>) {
    check_layer_norm_eps(options.eps);
    check_required_shape(mean, "mean", p.stats_shape, "(the statistics)");
    eps = options.eps;
  } else {
    eps = resolved_rms_norm_eps(options.eps);
  }
  check_required_shape(rstd, "rstd", p.stats_shape, "(the statistics)");
  Tensor offset;
  TensorView weight = in.weight;
  if constexpr (std::is_same_v<Options, RMSNormOptions>)
    if (options.weight_offset != 0) weight = offset = offset_weight(in.weight, options.weight_offset, in.normalized_shape);
  if (options.impl == Impl::reference || in.x.numel() == 0) {
    norm_forward(stored_sum(in, residual_out), in, options, y, mean, rstd);
    return;
  }
  // One pass: the row kernels add, store and normalize each row.
  using kernels::RowOperand;
  const RowOperand x(in.x, p.rows, p.cols, RowOperand::Role::input);
  const RowOperand residual(in.residual, p.rows, p.cols, RowOperand::Role::input);
  RowOperand y_rows(y, p.rows, p.cols, RowOperand::Role::output);
  RowOperand residual_out_rows(residual_out, p.rows, p.cols, RowOperand::Role::output);
  const kernels::PlannedInput gamma(weight, kernels::Layout::contiguous), beta(in.bias, kernels::Layout::contiguous);
  // The kernel writes the statistics into their tensors (through a buffer
  // when they are not contiguous); RMSNorm has no mean.
  std::optional<kernels::PlannedOutput> means;
  if (mean.defined()) means.emplace(mean, kernels::Layout::contiguous);
  kernels::PlannedOutput rstds(rstd, kernels::Layout::contiguous);
  kernels::row_norm_forward({.kind = kind == NormKind::layer ? kernels::RowNorm::layer : kernels::RowNorm::rms,
                             .x = x.data(),
                             .y = y_rows.mutable_data(),
                             .rows = p.rows,
                             .cols = p.cols,
                             .gamma = gamma.data(),
                             .beta = beta.data(),
                             .eps = eps,
                             .mean = means ? means->data() : nullptr,
                             .rstd = rstds.data(),
                             .residual = residual.data(),
                             .residual_out = residual_out_rows.mutable_data(),
                             .x_at = x.at(),
                             .y_at = y_rows.at(),
                             .residual_at = residual.at(),
                             .residual_out_at = residual_out_rows.at()});
  y_rows.finish();
  residual_out_rows.finish();
  if (means) means->finish();
  rstds.finish();
}

// One pass: the row kernels' backward at residual_out, dresidual_out added
// as each row of dsum is written.
template <typename Options>
void fused_backward(NormKind kind, const AddNormBackwardInputs& in, const Options& options, const RowProblem& p,
                    const AddNormGrads& g) {
  if constexpr (std::is_same_v<Options, LayerNormOptions>)
    check_required_shape(in.mean, "mean", p.stats_shape, "(from the forward pass)");
  check_required_shape(in.rstd, "rstd", p.stats_shape, "(from the forward pass)");
  Tensor offset;
  TensorView weight = in.weight;
  if constexpr (std::is_same_v<Options, RMSNormOptions>)
    if (options.weight_offset != 0) weight = offset = offset_weight(in.weight, options.weight_offset, in.normalized_shape);
  const kernels::PlannedInput gamma(weight, kernels::Layout::contiguous);
  // Read in place (copied when not contiguous); RMSNorm reads no mean.
  const TensorView no_mean;
  const kernels::PlannedInput mean(kind == NormKind::layer ? in.mean : no_mean, kernels::Layout::contiguous);
  const kernels::PlannedInput rstd(in.rstd, kernels::Layout::contiguous);
  using kernels::RowOperand;
  const RowOperand dy(in.dy, p.rows, p.cols, RowOperand::Role::input);
  const RowOperand rows(in.residual_out, p.rows, p.cols, RowOperand::Role::input);
  const RowOperand dresidual_out(in.dresidual_out, p.rows, p.cols, RowOperand::Role::input);
  RowOperand dsum(g.dsum, p.rows, p.cols, RowOperand::Role::output);
  kernels::row_norm_backward({.kind = kind == NormKind::layer ? kernels::RowNorm::layer : kernels::RowNorm::rms,
                              .dy = dy.data(),
                              .x = rows.data(),
                              .rows = p.rows,
                              .cols = p.cols,
                              .mean = mean.data(),
                              .rstd = rstd.data(),
                              .gamma = gamma.data(),
                              .dx = dsum.mutable_data(),
                              .dweight = g.dweight,
                              .dbias = g.dbias,
                              .dx_addend = dresidual_out.data(),
                              .dy_at = dy.at(),
                              .x_at = rows.at(),
                              .dx_at = dsum.at(),
                              .dx_addend_at = dresidual_out.at()});
  dsum.finish();
}

// dsum = the norm's dx at residual_out + dresidual_out; dweight, dbias.
template <typename Options>
void add_norm_backward(NormKind kind, const AddNormBackwardInputs& in, const Options& options,
                       const AddNormGrads& g) {
  const RowProblem p = check_row_input(in.residual_out, in.normalized_shape, "residual_out");
  check_required_shape(in.dy, "dy", in.residual_out.shape(), "(the shape of residual_out)", in.dy.dtype());
  NORMKIT_CHECK(is_floating(in.dy.dtype()), "dy: expected float32, bfloat16 or float16, got ",
                dtype_name(in.dy.dtype()));
  check_optional_shape(in.dresidual_out, "dresidual_out", in.residual_out.shape(), in.residual_out.dtype());
  check_optional_shape(in.weight, "weight", in.normalized_shape, in.dy.dtype());
  if (g.dsum.defined())
    check_required_shape(g.dsum, "dsum", in.residual_out.shape(), "(the shape of residual_out)", in.dy.dtype());
  check_optional_shape(g.dweight, "dweight", in.normalized_shape, in.dy.dtype());
  check_optional_shape(g.dbias, "dbias", in.normalized_shape, in.dy.dtype());
  if (options.impl == Impl::fast && in.residual_out.numel() > 0) {
    fused_backward(kind, in, options, p, g);
    return;
  }
  Tensor dy_keep, rows_keep, w_keep, dx_keep, dw_keep, db_keep;
  const TensorView dy = as_float32(in.dy, dy_keep), rows = as_float32(in.residual_out, rows_keep);
  const TensorView w = as_float32(in.weight, w_keep);
  const auto float32_output = [](const TensorView& t, Tensor& keep) -> TensorView {
    if (!t.defined() || t.dtype() == DType::float32) return t;
    return keep = Tensor(t.shape());
  };
  TensorView dx = g.dsum.defined() ? TensorView(dx_keep = Tensor(in.residual_out.shape())) : TensorView{};
  const TensorView dw = float32_output(g.dweight, dw_keep), db = float32_output(g.dbias, db_keep);
  if constexpr (std::is_same_v<Options, LayerNormOptions>)
    layer_norm_backward({dy, rows, in.normalized_shape, in.mean, in.rstd, w}, options, {dx, dw, db});
  else
    rms_norm_backward({dy, rows, in.normalized_shape, in.rstd, w}, options, {dx, dw});
  if (g.dsum.defined()) {
    if (in.dresidual_out.defined()) {
      Tensor d_keep;
      const kernels::PlannedInput d(as_float32(in.dresidual_out, d_keep), kernels::Layout::contiguous);
      kernels::add_span(dx_keep.data<float>(), d.data(), dx_keep.data<float>(), dx_keep.numel());
    }
    copy_into(dx_keep, g.dsum);
  }
  if (dw_keep.defined()) copy_into(dw_keep, g.dweight);
  if (db_keep.defined()) copy_into(db_keep, g.dbias);
}

// The results' tensors: dsum in dy's dtype, the parameters' in the weight's.
AddNormBackwardResult backward_result(const AddNormBackwardInputs& in, bool with_bias) {
  const DType parameter_dtype = in.weight.defined() ? in.weight.dtype() : DType::float32;
  AddNormBackwardResult r;
  r.dsum = Tensor(in.residual_out.defined() ? in.residual_out.shape() : Shape{0},
                  in.dy.defined() ? in.dy.dtype() : DType::float32);
  if (in.weight.defined()) r.dweight = Tensor(in.normalized_shape, parameter_dtype);
  if (with_bias) r.dbias = Tensor(in.normalized_shape, parameter_dtype);
  return r;
}

}  // namespace

void add_rms_norm_forward(const AddNormInputs& in, const RMSNormOptions& options, const AddRMSNormForwardOutputs& out) {
  add_norm_forward(NormKind::rms, in, options, out.y, out.residual_out, TensorView{}, out.rstd);
}

AddRMSNormForwardResult add_rms_norm_forward(const AddNormInputs& in, const RMSNormOptions& options) {
  const RowProblem p = check_row_input(in.x, in.normalized_shape, "x");
  NORMKIT_CHECK(in.residual.defined(), "residual: expected a tensor of x's shape, got none");
  AddRMSNormForwardResult r{Tensor(in.x.shape(), in.x.dtype()), Tensor(in.x.shape(), in.residual.dtype()),
                            Tensor(p.stats_shape)};
  add_rms_norm_forward(in, options, {r.y, r.residual_out, r.rstd});
  return r;
}

void add_layer_norm_forward(const AddNormInputs& in, const LayerNormOptions& options,
                            const AddLayerNormForwardOutputs& out) {
  add_norm_forward(NormKind::layer, in, options, out.y, out.residual_out, out.mean, out.rstd);
}

AddLayerNormForwardResult add_layer_norm_forward(const AddNormInputs& in, const LayerNormOptions& options) {
  const RowProblem p = check_row_input(in.x, in.normalized_shape, "x");
  NORMKIT_CHECK(in.residual.defined(), "residual: expected a tensor of x's shape, got none");
  AddLayerNormForwardResult r{Tensor(in.x.shape(), in.x.dtype()), Tensor(in.x.shape(), in.residual.dtype()),
                              Tensor(p.stats_shape), Tensor(p.stats_shape)};
  add_layer_norm_forward(in, options, {r.y, r.residual_out, r.mean, r.rstd});
  return r;
}

void add_rms_norm_backward(const AddNormBackwardInputs& in, const RMSNormOptions& options, const AddNormGrads& grads) {
  NORMKIT_CHECK(!grads.dbias.defined(), "dbias: RMSNorm has no bias: expected none");
  add_norm_backward(NormKind::rms, in, options, grads);
}

AddNormBackwardResult add_rms_norm_backward(const AddNormBackwardInputs& in, const RMSNormOptions& options) {
  AddNormBackwardResult r = backward_result(in, false);
  add_rms_norm_backward(in, options, {r.dsum, r.dweight, {}});
  return r;
}

void add_layer_norm_backward(const AddNormBackwardInputs& in, const LayerNormOptions& options,
                             const AddNormGrads& grads) {
  add_norm_backward(NormKind::layer, in, options, grads);
}

AddNormBackwardResult add_layer_norm_backward(const AddNormBackwardInputs& in, const LayerNormOptions& options,
                                              bool with_bias) {
  AddNormBackwardResult r = backward_result(in, with_bias);
  add_layer_norm_backward(in, options, {r.dsum, r.dweight, r.dbias});
  return r;
}

}  // namespace normkit
