// LayerNorm front end: x as a (rows, cols) matrix (copied to contiguous when
// it is not), statistics per row through the reduction engine with the plan
// (rows, 1, 1, cols), the row kernels for the elementwise passes, and the
// column reductions for the parameter gradients.
#include "normkit/layer_norm.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "grad_sums.hpp"
#include "moments.hpp"
#include "planned_view.hpp"
#include "ref/layer_norm_ref.hpp"
#include "row_apply.hpp"
#include "row_norm_shape.hpp"

namespace normkit {
namespace {

using kernels::Layout;
using kernels::NormPlan;

void check_eps(double eps) {
  NORMKIT_CHECK(eps > 0 && std::isfinite(eps), "eps: expected a positive finite number, got ", eps);
}

// Splits a double per row into the float pair (hi, lo) the kernels centre on.
void split_centers(const std::vector<double>& mean, std::vector<float>& hi, std::vector<float>& lo) {
  hi.resize(mean.size());
  lo.resize(mean.size());
  for (std::size_t i = 0; i < mean.size(); ++i) {
    hi[i] = static_cast<float>(mean[i]);
    lo[i] = static_cast<float>(mean[i] - hi[i]);
  }
}

std::vector<float> to_floats(const std::vector<double>& v) { return {v.begin(), v.end()}; }

void fast_forward(const LayerNormInputs& in, const LayerNormOptions& o, const RowProblem& p,
                  const LayerNormForwardOutputs& out) {
  const kernels::PlannedInput x(in.x, Layout::contiguous);
  std::vector<kernels::Moments> stats(p.rows);
  kernels::moments({x.data(), NormPlan{p.rows, 1, 1, p.cols, 1}, stats.data()});
  std::vector<double> mean(p.rows), rstd(p.rows);
  for (std::int64_t r = 0; r < p.rows; ++r) {
    const bool empty = p.cols == 0;
    mean[r] = empty ? std::numeric_limits<double>::quiet_NaN() : stats[r].mean;
    rstd[r] = 1.0 / std::sqrt((empty ? mean[r] : stats[r].biased_var()) + o.eps);
  }
  std::vector<float> hi, lo;
  split_centers(mean, hi, lo);
  const std::vector<float> rstd_f = to_floats(rstd);
  const std::vector<double> weight = read_values(in.weight), bias = read_values(in.bias);
  const std::vector<float> gamma = to_floats(weight), beta = to_floats(bias);
  kernels::PlannedOutput y(out.y, x);
  kernels::row_normalize_apply({x.data(), y.data(), p.rows, p.cols, hi.data(), lo.data(),
                                rstd_f.data(), gamma.empty() ? nullptr : gamma.data(),
                                beta.empty() ? nullptr : beta.data()});
  y.finish();
  write_values(mean, out.mean);
  write_values(rstd, out.rstd);
}

void fast_backward(const LayerNormBackwardInputs& in, const RowProblem& p,
                   const LayerNormGrads& g) {
  const kernels::PlannedInput x(in.x, Layout::contiguous);
  const kernels::PlannedInput dy(in.dy, Layout::contiguous);
  std::vector<float> hi, lo;
  split_centers(read_values(in.mean), hi, lo);
  const std::vector<double> rstd = read_values(in.rstd);
  const std::vector<float> rstd_f = to_floats(rstd);
  const std::vector<float> gamma = to_floats(read_values(in.weight));
  const float* gamma_or_null = gamma.empty() ? nullptr : gamma.data();
  if (g.dx.defined()) {
    // Per row, with g = dy * weight:
    //   dx = rstd * g - rstd * sum(g)/D - (x - mean) * rstd^3 * sum(g * (x - mean))/D
    std::vector<kernels::GradSums> sums(p.rows);
    kernels::grad_sums({dy.data(), x.data(), hi.data(), lo.data(), gamma_or_null,
                        NormPlan{p.rows, 1, 1, p.cols, 1}, sums.data()});
    std::vector<float> k_dy(p.rows), k_x(p.rows), k_0(p.rows);
    const double D = static_cast<double>(p.cols);
    for (std::int64_t r = 0; r < p.rows; ++r) {
      k_dy[r] = rstd_f[r];
      k_x[r] = static_cast<float>(-rstd[r] * rstd[r] * rstd[r] * sums[r].sum_dy_xc / D);
      k_0[r] = static_cast<float>(-rstd[r] * sums[r].sum_dy / D);
    }
    kernels::PlannedOutput dx(g.dx, x);
    kernels::row_input_grad_apply({dy.data(), x.data(), dx.data(), p.rows, p.cols, hi.data(),
                                   lo.data(), k_dy.data(), k_x.data(), k_0.data(), gamma_or_null});
    dx.finish();
  }
  if (g.dweight.defined() || g.dbias.defined()) {
    std::vector<kernels::GradSums> columns(p.cols);
    kernels::column_grad_sums({dy.data(), x.data(), p.rows, p.cols, hi.data(), lo.data(),
                               rstd_f.data(), columns.data()});
    std::vector<double> dweight(p.cols), dbias(p.cols);
    for (std::int64_t d = 0; d < p.cols; ++d) {
      dweight[d] = columns[d].sum_dy_xc;
      dbias[d] = columns[d].sum_dy;
    }
    write_values(dweight, g.dweight);
    write_values(dbias, g.dbias);
  }
}

}  // namespace

void layer_norm_forward(const LayerNormInputs& in, const LayerNormOptions& options,
                        const LayerNormForwardOutputs& out) {
  const RowProblem p = check_row_input(in.x, in.normalized_shape, "input");
  check_eps(options.eps);
  check_optional_shape(in.weight, "weight", in.normalized_shape);
  check_optional_shape(in.bias, "bias", in.normalized_shape);
  check_required_shape(out.y, "y", in.x.shape(), "(the shape of the input)");
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
  LayerNormForwardResult r{Tensor(in.x.shape()), Tensor(p.stats_shape), Tensor(p.stats_shape)};
  layer_norm_forward(in, options, {r.y, r.mean, r.rstd});
  return r;
}

void layer_norm_backward(const LayerNormBackwardInputs& in, const LayerNormOptions& options,
                         const LayerNormGrads& grads) {
  const RowProblem p = check_row_input(in.x, in.normalized_shape, "input");
  check_required_shape(in.dy, "dy", in.x.shape(), "(the shape of the input)");
  check_required_shape(in.mean, "mean", p.stats_shape, "(from the forward pass)");
  check_required_shape(in.rstd, "rstd", p.stats_shape, "(from the forward pass)");
  check_optional_shape(in.weight, "weight", in.normalized_shape);
  if (grads.dx.defined()) check_required_shape(grads.dx, "dx", in.x.shape(), "(the shape of the input)");
  check_optional_shape(grads.dweight, "dweight", in.normalized_shape);
  check_optional_shape(grads.dbias, "dbias", in.normalized_shape);
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
  LayerNormBackwardResult r{Tensor(in.x.defined() ? in.x.shape() : Shape{0}), {}, {}};
  if (with_weight) r.dweight = Tensor(in.normalized_shape);
  if (with_bias) r.dbias = Tensor(in.normalized_shape);
  layer_norm_backward(in, options, {r.dx, r.dweight, r.dbias});
  return r;
}

}  // namespace normkit
