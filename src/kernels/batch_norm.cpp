// Batch Normalization front end: checks every argument before anything is
// written, maps the input's memory layout onto a NormPlan (copying views that
// are neither contiguous nor channels-last), and runs either the fast kernels
// or the reference.
#include "normkit/batch_norm.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "channel_apply.hpp"
#include "grad_sums.hpp"
#include "moments.hpp"
#include "planned_view.hpp"
#include "ref/batch_norm_ref.hpp"

namespace normkit {
namespace {

using kernels::NormPlan;

struct Problem {
  std::int64_t N = 0, C = 0, S = 1;
  std::int64_t m() const { return N * S; }  // values per channel
};

Problem check_input(const TensorView& x, const char* name) {
  NORMKIT_CHECK(x.defined(), name, ": expected a tensor, got none");
  NORMKIT_CHECK(x.dtype() == DType::float32, name, ": expected float32, got ",
                dtype_name(x.dtype()));
  NORMKIT_CHECK(x.dim() >= 2, name, ": expected a tensor of rank >= 2 (N, C, *spatial), got shape ",
                shape_string(x.shape()));
  Problem p{x.size(0), x.size(1), 1};
  for (std::int64_t d = 2; d < x.dim(); ++d) p.S *= x.size(d);
  return p;
}

void check_same_shape(const TensorView& t, const char* name, const TensorView& x) {
  NORMKIT_CHECK(t.defined(), name, ": expected a tensor of shape ", shape_string(x.shape()),
                ", got none");
  NORMKIT_CHECK(t.dtype() == DType::float32, name, ": expected float32, got ",
                dtype_name(t.dtype()));
  NORMKIT_CHECK(t.shape() == x.shape(), name, ": expected shape ", shape_string(x.shape()),
                " (the shape of x), got ", shape_string(t.shape()));
}

void check_options(const BatchNormOptions& o) {
  NORMKIT_CHECK(o.eps > 0 && std::isfinite(o.eps), "eps: expected a positive finite number, got ",
                o.eps);
  NORMKIT_CHECK(o.momentum >= 0 && o.momentum <= 1, "momentum: expected a value in [0, 1], got ",
                o.momentum);
}

void check_running_pair(const TensorView& mean, const TensorView& var, std::int64_t C,
                        bool training) {
  check_channel_vector(mean, "running_mean", C);
  check_channel_vector(var, "running_var", C);
  NORMKIT_CHECK(mean.defined() == var.defined(), mean.defined() ? "running_var" : "running_mean",
                ": expected a tensor, since ", mean.defined() ? "running_mean" : "running_var",
                " is given (pass both or neither)");
  NORMKIT_CHECK(training || mean.defined(),
                "running_mean: expected a tensor in eval mode (training=False), got none");
}

// Per-channel coefficients of the elementwise passes, (C) each.
struct ChannelCoeffs {
  std::vector<float> center_hi, center_lo, a, b, c;
  explicit ChannelCoeffs(std::int64_t C)
      : center_hi(C), center_lo(C), a(C), b(C), c(C) {}
  void set_center(std::int64_t ch, double mean) {
    center_hi[ch] = static_cast<float>(mean);
    center_lo[ch] = static_cast<float>(mean - center_hi[ch]);
  }
};

// ---- reference path --------------------------------------------------------

std::vector<double> to_doubles(const TensorView& t) {
  if (!t.defined()) return {};
  Tensor contiguous = Tensor::copy_of(t);
  const float* p = contiguous.data<float>();
  return std::vector<double>(p, p + contiguous.numel());
}

void write_doubles(const std::vector<double>& values, const TensorView& dst) {
  if (!dst.defined()) return;
  Tensor contiguous(dst.shape());
  for (std::size_t i = 0; i < values.size(); ++i)
    contiguous.data<float>()[i] = static_cast<float>(values[i]);
  copy_into(contiguous, dst);
}

void reference_forward(const BatchNormInputs& in, const BatchNormOptions& o, const Problem& p,
                       const BatchNormForwardOutputs& out) {
  ref::BatchNormForwardArgs args{{p.N, p.C, p.S}, to_doubles(in.x), to_doubles(in.weight),
                                 to_doubles(in.bias), to_doubles(in.running_mean),
                                 to_doubles(in.running_var), o.training, o.momentum, o.eps,
                                 o.unbiased_running_var};
  const ref::BatchNormForwardResult r = ref::batch_norm_forward(args);
  write_doubles(r.y, out.y);
  if (o.training) {
    write_doubles(r.save_mean, out.save_mean);
    write_doubles(r.save_invstd, out.save_invstd);
    write_doubles(args.running_mean, in.running_mean);
    write_doubles(args.running_var, in.running_var);
  }
}

void reference_backward(const BatchNormBackwardInputs& in, const BatchNormOptions& o,
                        const Problem& p, const BatchNormGrads& g) {
  const ref::BatchNormBackwardResult r = ref::batch_norm_backward(
      {{p.N, p.C, p.S}, to_doubles(in.dy), to_doubles(in.x), to_doubles(in.weight),
       to_doubles(in.running_mean), to_doubles(in.running_var), to_doubles(in.save_mean),
       to_doubles(in.save_invstd), o.training, o.eps});
  write_doubles(r.dx, g.dx);
  write_doubles(r.dweight, g.dweight);
  write_doubles(r.dbias, g.dbias);
}

// ---- fast path -------------------------------------------------------------

// BN maps onto the plan as (1, N, C, S) for contiguous x and (1, N*S, C, 1)
// for channels-last x.
NormPlan batch_norm_plan(const Problem& p, kernels::Layout layout) {
  if (layout == kernels::Layout::channels_last) return {1, p.N * p.S, p.C, 1, p.S};
  return {1, p.N, p.C, p.S, 1};
}

void fast_forward(const BatchNormInputs& in, const BatchNormOptions& o, const Problem& p,
                  const BatchNormForwardOutputs& out) {
  const kernels::PlannedInput x(in.x);
  const NormPlan plan = batch_norm_plan(p, x.layout());
  const std::vector<float> gamma = read_channels(in.weight, p.C, 1.0f);
  const std::vector<float> beta = read_channels(in.bias, p.C, 0.0f);
  ChannelCoeffs k(p.C);  // a = scale, b = shift
  if (o.training) {
    std::vector<double> mean(p.C), var(p.C);
    kernels::moments({x.data(), plan, mean.data(), var.data()});
    std::vector<double> invstd(p.C);
    for (std::int64_t c = 0; c < p.C; ++c) {
      if (p.m() == 0) mean[c] = var[c] = std::numeric_limits<double>::quiet_NaN();
      invstd[c] = 1.0 / std::sqrt(var[c] + o.eps);
      k.set_center(c, mean[c]);
      k.a[c] = static_cast<float>(invstd[c] * gamma[c]);
      k.b[c] = beta[c];
    }
    write_channels(mean, out.save_mean);
    write_channels(invstd, out.save_invstd);
    if (in.running_mean.defined() && p.m() > 0) {
      const double m = static_cast<double>(p.m());
      std::vector<double> rm = to_channel_doubles(in.running_mean);
      std::vector<double> rv = to_channel_doubles(in.running_var);
      for (std::int64_t c = 0; c < p.C; ++c) {
        const double batch_var = o.unbiased_running_var ? var[c] * m / (m - 1) : var[c];
        rm[c] = (1 - o.momentum) * rm[c] + o.momentum * mean[c];
        rv[c] = (1 - o.momentum) * rv[c] + o.momentum * batch_var;
      }
      write_channels(rm, in.running_mean);
      write_channels(rv, in.running_var);
    }
  } else {
    const std::vector<double> rm = to_channel_doubles(in.running_mean);
    const std::vector<double> rv = to_channel_doubles(in.running_var);
    for (std::int64_t c = 0; c < p.C; ++c) {
      k.set_center(c, rm[c]);
      k.a[c] = static_cast<float>(gamma[c] / std::sqrt(rv[c] + o.eps));
      k.b[c] = beta[c];
    }
  }
  kernels::PlannedOutput y(out.y, x);
  kernels::normalize_apply(
      {x.data(), y.data(), k.center_hi.data(), k.center_lo.data(), k.a.data(), k.b.data(), plan});
  y.finish();
}

void fast_backward(const BatchNormBackwardInputs& in, const BatchNormOptions& o, const Problem& p,
                   const BatchNormGrads& g) {
  const kernels::PlannedInput x(in.x);
  const kernels::PlannedInput dy(in.dy, x);  // in x's layout
  const NormPlan plan = batch_norm_plan(p, x.layout());
  const std::vector<float> gamma = read_channels(in.weight, p.C, 1.0f);

  // Per channel: the centre (mean) and invstd the forward pass used.
  ChannelCoeffs k(p.C);  // a = k_dy, b = k_x, c = k_out
  std::vector<double> invstd(p.C);
  {
    const std::vector<double> mean =
        to_channel_doubles(o.training ? in.save_mean : in.running_mean);
    const std::vector<double> spread =
        to_channel_doubles(o.training ? in.save_invstd : in.running_var);
    for (std::int64_t c = 0; c < p.C; ++c) {
      k.set_center(c, mean[c]);
      invstd[c] = o.training ? spread[c] : 1.0 / std::sqrt(spread[c] + o.eps);
    }
  }

  std::vector<kernels::GradSums> sums(p.C);
  if (o.training || g.dweight.defined() || g.dbias.defined())
    kernels::grad_sums({dy.data(), x.data(), k.center_hi.data(), k.center_lo.data(), plan,
                        sums.data()});

  if (g.dx.defined()) {
    const double m = static_cast<double>(p.m());
    for (std::int64_t c = 0; c < p.C; ++c) {
      // dx = gamma*invstd * (dy - sum(dy)/m - (x - mean) * invstd^2 * sum(dy*(x - mean))/m)
      const bool batch_stats = o.training && m > 0;
      k.a[c] = batch_stats ? static_cast<float>(sums[c].sum_dy / m) : 0.0f;
      k.b[c] = batch_stats ? static_cast<float>(invstd[c] * invstd[c] * sums[c].sum_dy_xc / m)
                           : 0.0f;
      k.c[c] = static_cast<float>(gamma[c] * invstd[c]);
    }
    kernels::PlannedOutput dx(g.dx, x);
    kernels::input_grad_apply({dy.data(), x.data(), dx.data(), k.center_hi.data(),
                               k.center_lo.data(), k.a.data(), k.b.data(), k.c.data(), plan});
    dx.finish();
  }
  std::vector<double> dweight(p.C), dbias(p.C);
  for (std::int64_t c = 0; c < p.C; ++c) {
    // An empty batch has no statistics (invstd NaN) but sums over nothing: 0.
    dweight[c] = p.m() > 0 ? sums[c].sum_dy_xc * invstd[c] : 0.0;
    dbias[c] = sums[c].sum_dy;
  }
  write_channels(dweight, g.dweight);
  write_channels(dbias, g.dbias);
}

}  // namespace

void batch_norm_forward(const BatchNormInputs& in, const BatchNormOptions& options,
                        const BatchNormForwardOutputs& out) {
  const Problem p = check_input(in.x, "x");
  check_options(options);
  check_channel_vector(in.weight, "weight", p.C);
  check_channel_vector(in.bias, "bias", p.C);
  check_running_pair(in.running_mean, in.running_var, p.C, options.training);
  NORMKIT_CHECK(!options.training || p.m() != 1,
                "Expected more than 1 value per channel when training, got input size ",
                shape_string(in.x.shape()));
  check_same_shape(out.y, "y", in.x);
  if (options.training) {
    NORMKIT_CHECK(out.save_mean.defined(), "save_mean: expected a tensor when training, got none");
    NORMKIT_CHECK(out.save_invstd.defined(),
                  "save_invstd: expected a tensor when training, got none");
    check_channel_vector(out.save_mean, "save_mean", p.C);
    check_channel_vector(out.save_invstd, "save_invstd", p.C);
  }
  if (options.impl == Impl::reference) return reference_forward(in, options, p, out);
  fast_forward(in, options, p, out);
}

BatchNormForwardResult batch_norm_forward(const BatchNormInputs& in,
                                          const BatchNormOptions& options) {
  check_input(in.x, "x");
  const std::int64_t stats = options.training ? in.x.size(1) : 0;
  BatchNormForwardResult r{Tensor(in.x.shape(), DType::float32, in.x.memory_format()),
                           Tensor({stats}), Tensor({stats})};
  batch_norm_forward(in, options,
                     {r.y, options.training ? r.save_mean.view() : TensorView{},
                      options.training ? r.save_invstd.view() : TensorView{}});
  return r;
}

void batch_norm_backward(const BatchNormBackwardInputs& in, const BatchNormOptions& options,
                         const BatchNormGrads& grads) {
  const Problem p = check_input(in.x, "x");
  check_same_shape(in.dy, "dy", in.x);
  NORMKIT_CHECK(options.eps > 0 && std::isfinite(options.eps),
                "eps: expected a positive finite number, got ", options.eps);
  check_channel_vector(in.weight, "weight", p.C);
  if (options.training) {
    NORMKIT_CHECK(in.save_mean.defined() && in.save_invstd.defined(),
                  in.save_mean.defined() ? "save_invstd" : "save_mean",
                  ": expected a tensor when training (from the forward pass), got none");
    check_channel_vector(in.save_mean, "save_mean", p.C);
    check_channel_vector(in.save_invstd, "save_invstd", p.C);
  } else {
    check_running_pair(in.running_mean, in.running_var, p.C, false);
  }
  if (grads.dx.defined()) check_same_shape(grads.dx, "dx", in.x);
  check_channel_vector(grads.dweight, "dweight", p.C);
  check_channel_vector(grads.dbias, "dbias", p.C);
  if (options.impl == Impl::reference) return reference_backward(in, options, p, grads);
  fast_backward(in, options, p, grads);
}

BatchNormBackwardResult batch_norm_backward(const BatchNormBackwardInputs& in,
                                            const BatchNormOptions& options,
                                            BatchNormGradMask mask) {
  check_input(in.x, "x");
  const std::int64_t C = in.x.size(1);
  BatchNormBackwardResult r;
  if (mask.input) r.dx = Tensor(in.x.shape(), DType::float32, in.x.memory_format());
  if (mask.weight) r.dweight = Tensor({C});
  if (mask.bias) r.dbias = Tensor({C});
  batch_norm_backward(in, options,
                      {mask.input ? r.dx.view() : TensorView{},
                       mask.weight ? r.dweight.view() : TensorView{},
                       mask.bias ? r.dbias.view() : TensorView{}});
  return r;
}

void channel_scale_shift(const TensorView& x, const TensorView& scale, const TensorView& shift,
                         const TensorView& y) {
  const Problem p = check_input(x, "x");
  NORMKIT_CHECK(scale.defined(), "scale: expected a tensor of shape (", p.C, ",), got none");
  NORMKIT_CHECK(shift.defined(), "shift: expected a tensor of shape (", p.C, ",), got none");
  check_channel_vector(scale, "scale", p.C);
  check_channel_vector(shift, "shift", p.C);
  check_same_shape(y, "y", x);
  const kernels::PlannedInput xp(x);
  const std::vector<float> a = read_channels(scale, p.C, 1.0f);
  const std::vector<float> b = read_channels(shift, p.C, 0.0f);
  const std::vector<float> zero(p.C, 0.0f);
  kernels::PlannedOutput yp(y, xp);
  kernels::normalize_apply({xp.data(), yp.data(), zero.data(), zero.data(), a.data(), b.data(),
                            batch_norm_plan(p, xp.layout())});
  yp.finish();
}

}  // namespace normkit
