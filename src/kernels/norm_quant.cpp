// LayerNorm and RMSNorm with an int8 output (normkit/norm_quant.hpp): the
// fast path quantizes each row in the row kernels (row_apply.hpp, `q`); the
// reference quantizes the double reference's y.
#include "normkit/norm_quant.hpp"

#include <cmath>
#include <vector>

#include "planned_view.hpp"
#include "ref/layer_norm_ref.hpp"
#include "row_apply.hpp"
#include "row_norm_shape.hpp"
#include "row_operand.hpp"

namespace normkit {
namespace {

float checked_scale(std::optional<double> scale) {
  if (!scale) return 0;
  NORMKIT_CHECK(std::isfinite(*scale) && *scale > 0 && static_cast<float>(*scale) > 0, "scale: expected a positive finite number (float32) or None, got ",
                *scale);
  return static_cast<float>(*scale);
}

// The reference's y quantized as the fast path quantizes: per row, or with
// the static scale; the scales used.
std::vector<double> quantize_reference(const std::vector<double>& y, const RowProblem& p, float scale,
                                       std::int8_t* q) {
  std::vector<double> scales;
  for (std::int64_t r = 0; r < p.rows; ++r) {
    std::vector<float> row(y.begin() + r * p.cols, y.begin() + (r + 1) * p.cols);
    scales.push_back(kernels::quantize_row(row.data(), q + r * p.cols, p.cols, scale));
  }
  return scales;
}

template <typename Result>
void allocate(Result& r, const RowProblem& p, const TensorView& x, float scale) {
  r.q = Tensor(x.shape(), DType::int8);
  r.scales = scale > 0 ? Tensor::full({1}, scale) : Tensor(p.stats_shape);
  r.rstd = Tensor(p.stats_shape);
}

template <typename Inputs>
void run_fast(kernels::RowNorm kind, const Inputs& in, const TensorView& weight, const TensorView& bias,
              const RowProblem& p, double eps, float scale, Tensor& q, Tensor& scales, float* mean, float* rstd) {
  const kernels::RowOperand x(in.x, p.rows, p.cols, kernels::RowOperand::Role::input);
  const kernels::PlannedInput gamma(weight, kernels::Layout::contiguous), beta(bias, kernels::Layout::contiguous);
  std::vector<float> row_scales(static_cast<std::size_t>(scale > 0 ? 0 : p.rows));
  kernels::row_norm_forward({.kind = kind,
                             .x = x.data(),
                             .rows = p.rows,
                             .cols = p.cols,
                             .gamma = gamma.data(),
                             .beta = beta.data(),
                             .eps = eps,
                             .mean = mean,
                             .rstd = rstd,
                             .q = q.data<std::int8_t>(),
                             .quant_scale = scale,
                             .row_scales = row_scales.empty() ? nullptr : row_scales.data(),
                             .x_at = x.at()});
  if (scale <= 0) std::copy(row_scales.begin(), row_scales.end(), scales.data<float>());
}

}  // namespace

RMSNormQuantResult rms_norm_quant_forward(const RMSNormInputs& in, const RMSNormOptions& options,
                                          std::optional<double> scale) {
  const RowProblem p = check_row_input(in.x, in.normalized_shape, "input");
  const double eps = resolved_rms_norm_eps(options.eps);
  check_optional_shape(in.weight, "weight", in.normalized_shape, in.x.dtype());
  const float s = checked_scale(scale);
  Tensor offset;
  TensorView weight = in.weight;
  if (options.weight_offset != 0) weight = offset = offset_weight(in.weight, options.weight_offset, in.normalized_shape);
  RMSNormQuantResult r;
  allocate(r, p, in.x, s);
  if (options.impl == Impl::reference) {
    const ref::RMSNormForwardResult f = ref::rms_norm_forward({p.rows, p.cols}, read_values(in.x), read_values(weight), eps);
    const std::vector<double> scales = quantize_reference(f.y, p, s, r.q.data<std::int8_t>());
    if (s <= 0) write_values(scales, r.scales);
    write_values(f.rstd, r.rstd);
  } else {
    run_fast(kernels::RowNorm::rms, in, weight, {}, p, eps, s, r.q, r.scales, nullptr, r.rstd.data<float>());
  }
  return r;
}

LayerNormQuantResult layer_norm_quant_forward(const LayerNormInputs& in, const LayerNormOptions& options,
                                              std::optional<double> scale) {
  const RowProblem p = check_row_input(in.x, in.normalized_shape, "input");
  check_layer_norm_eps(options.eps);
  check_optional_shape(in.weight, "weight", in.normalized_shape, in.x.dtype());
  check_optional_shape(in.bias, "bias", in.normalized_shape, in.x.dtype());
  const float s = checked_scale(scale);
  LayerNormQuantResult r;
  allocate(r, p, in.x, s);
  r.mean = Tensor(p.stats_shape);
  if (options.impl == Impl::reference) {
    const ref::LayerNormForwardResult f = ref::layer_norm_forward(
        {p.rows, p.cols}, read_values(in.x), read_values(in.weight), read_values(in.bias), options.eps);
    const std::vector<double> scales = quantize_reference(f.y, p, s, r.q.data<std::int8_t>());
    if (s <= 0) write_values(scales, r.scales);
    write_values(f.mean, r.mean);
    write_values(f.rstd, r.rstd);
  } else {
    // The statistics straight into their new (contiguous) tensors.
    run_fast(kernels::RowNorm::layer, in, in.weight, in.bias, p, options.eps, s, r.q, r.scales, r.mean.data<float>(),
             r.rstd.data<float>());
  }
  return r;
}

}  // namespace normkit
