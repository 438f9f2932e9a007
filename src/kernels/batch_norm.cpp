// Batch Normalization front end (with Ghost BN and Batch Renorm): checks every
// argument before anything is written, maps the input's memory layout onto a
// NormPlan (copying views that are neither contiguous nor channels-last), and
// runs either the fast kernels or the reference.
//
// Plan: (G, N/G, C, S) for contiguous x and (G, N/G*S, C, 1) for
// channels-last x, where G is the number of groups normalized separately: the
// ghost batches in Ghost BN training, 1 otherwise. Statistics and
// coefficients are per (g, c).
#include "normkit/batch_norm.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <type_traits>
#include <vector>

#include "batch_reduction.hpp"
#include "channel_apply.hpp"
#include "channel_coefficients.hpp"
#include "grad_sums.hpp"
#include "vectors.hpp"
#include "moments.hpp"
#include "planned_view.hpp"
#include "ref/batch_norm_ref.hpp"

namespace normkit {
namespace {

using kernels::NormPlan;

struct Problem {
  std::int64_t N = 0, C = 0, S = 1;
  std::int64_t groups = 1;  // ghost batches in Ghost BN training, else 1
  bool ghost = false;       // Ghost BN training: statistics are (groups, C)
  std::int64_t group_m() const { return N / std::max<std::int64_t>(groups, 1) * S; }
  std::int64_t m() const { return N * S; }  // values per channel
  Shape stats_shape() const { return ghost ? Shape{groups, C} : Shape{C}; }
};

Problem check_input(const TensorView& x, const char* name) {
  NORMKIT_CHECK(x.defined(), name, ": expected a tensor, got none");
  check_data_dtype(x, name);
  NORMKIT_CHECK(x.dim() >= 2, name, ": expected a tensor of rank >= 2 (N, C, *spatial), got shape ",
                shape_string(x.shape()));
  Problem p{x.size(0), x.size(1), 1};
  for (std::int64_t d = 2; d < x.dim(); ++d) p.S *= x.size(d);
  return p;
}

void check_same_shape(const TensorView& t, const char* name, const TensorView& x) {
  check_required_shape(t, name, x.shape(), "(the shape of x)", x.dtype());
}

// Checks the options and sets p.groups.
void check_options(const BatchNormOptions& o, Problem& p) {
  NORMKIT_CHECK(o.eps > 0 && std::isfinite(o.eps), "eps: expected a positive finite number, got ",
                o.eps);
  NORMKIT_CHECK(o.momentum >= 0 && o.momentum <= 1, "momentum: expected a value in [0, 1], got ",
                o.momentum);
  NORMKIT_CHECK(o.virtual_batch_size >= 0, "virtual_batch_size: expected >= 0 (0 is off), got ",
                o.virtual_batch_size);
  if (o.training && o.virtual_batch_size > 0) {
    NORMKIT_CHECK(p.N % o.virtual_batch_size == 0,
                  "virtual_batch_size: expected a divisor of the batch size N = ", p.N, ", got ",
                  o.virtual_batch_size);
    p.ghost = true;
    p.groups = std::max<std::int64_t>(p.N / o.virtual_batch_size, 1);
  }
  if (o.renorm) {
    NORMKIT_CHECK(o.renorm->rmax >= 1 && std::isfinite(o.renorm->rmax),
                  "rmax: expected a finite value >= 1, got ", o.renorm->rmax);
    NORMKIT_CHECK(o.renorm->dmax >= 0 && std::isfinite(o.renorm->dmax),
                  "dmax: expected a finite value >= 0, got ", o.renorm->dmax);
    NORMKIT_CHECK(o.virtual_batch_size == 0,
                  "virtual_batch_size: Batch Renorm and Ghost BN do not combine; expected 0, got ",
                  o.virtual_batch_size);
  }
}

void check_running_pair(const TensorView& mean, const TensorView& var, std::int64_t C, bool training,
                        DType x_dtype) {
  check_channel_vector(mean, "running_mean", C, x_dtype);
  check_channel_vector(var, "running_var", C, x_dtype);
  NORMKIT_CHECK(mean.defined() == var.defined(), mean.defined() ? "running_var" : "running_mean",
                ": expected a tensor, since ", mean.defined() ? "running_mean" : "running_var",
                " is given (pass both or neither)");
  NORMKIT_CHECK(training || mean.defined(),
                "running_mean: expected a tensor in eval mode (training=False), got none");
  if (training) check_updated_pair(mean, "running_mean", var, "running_var");
}

bool renorm_active(const BatchNormOptions& o) { return o.training && o.renorm.has_value(); }


// ---- reference path --------------------------------------------------------

void reference_forward(const BatchNormInputs& in, const BatchNormOptions& o, const Problem& p,
                       const BatchNormForwardOutputs& out) {
  ref::BatchNormForwardArgs args{.problem = {.N = p.N, .C = p.C, .S = p.S},
                                 .x = read_values(in.x),
                                 .weight = read_values(in.weight),
                                 .bias = read_values(in.bias),
                                 .running_mean = read_values(in.running_mean),
                                 .running_var = read_values(in.running_var),
                                 .training = o.training,
                                 .momentum = o.momentum,
                                 .eps = o.eps,
                                 .unbiased_running_var = o.unbiased_running_var,
                                 .virtual_batch_size = o.virtual_batch_size,
                                 .renorm = renorm_active(o),
                                 .rmax = o.renorm ? o.renorm->rmax : 1.0,
                                 .dmax = o.renorm ? o.renorm->dmax : 0.0};
  const ref::BatchNormForwardResult r = ref::batch_norm_forward(args);
  write_values(r.y, out.y);
  if (o.training) {
    write_values(r.save_mean, out.save_mean);
    write_values(r.save_invstd, out.save_invstd);
    write_values(r.renorm_r, out.renorm_r);
    write_values(r.renorm_d, out.renorm_d);
    write_values(args.running_mean, in.running_mean);
    write_values(args.running_var, in.running_var);
  }
}

void reference_backward(const BatchNormBackwardInputs& in, const BatchNormOptions& o,
                        const Problem& p, const BatchNormGrads& g) {
  const bool renorm = renorm_active(o);
  const ref::BatchNormBackwardResult r =
      ref::batch_norm_backward({.problem = {.N = p.N, .C = p.C, .S = p.S},
                                .dy = read_values(in.dy),
                                .x = read_values(in.x),
                                .weight = read_values(in.weight),
                                // Each mode's statistics only, as the fast path reads them:
                                // the other mode's are not checked (and may be anything).
                                .running_mean = o.training ? std::vector<double>{} : read_values(in.running_mean),
                                .running_var = o.training ? std::vector<double>{} : read_values(in.running_var),
                                .save_mean = o.training ? read_values(in.save_mean) : std::vector<double>{},
                                .save_invstd = o.training ? read_values(in.save_invstd) : std::vector<double>{},
                                .training = o.training,
                                .eps = o.eps,
                                .virtual_batch_size = o.virtual_batch_size,
                                .renorm_r = renorm ? read_values(in.renorm_r) : std::vector<double>{},
                                .renorm_d = renorm ? read_values(in.renorm_d) : std::vector<double>{}});
  write_values(r.dx, g.dx);
  write_values(r.dweight, g.dweight);
  write_values(r.dbias, g.dbias);
}

// ---- fast path -------------------------------------------------------------

NormPlan batch_norm_plan(const Problem& p, kernels::Layout layout, std::int64_t groups) {
  const std::int64_t per_group = p.N / groups;
  if (layout == kernels::Layout::channels_last)
    return {groups, per_group * p.S, p.C, 1, p.S};
  return {groups, per_group, p.C, p.S, 1};
}

// `across`: the batch is split between ranks (SyncBN), and the statistics
// and count are the whole batch's; null: this process holds the batch.
struct Across {
  kernels::BatchReduction* reduction = nullptr;
  kernels::BatchSlice slice;
};

// x in the layout every rank reduces in, or in its own.
kernels::Layout layout_for(const TensorView& x, const Across& across) {
  return across.reduction != nullptr ? across.slice.layout : kernels::layout_of(x);
}

// Where the data is read and written in 16 bits in place
// (planned_view.hpp): no reduction across ranks, which takes float32.
bool sixteen_bits_in_place(const Across& across, const TensorView& x,
                           std::initializer_list<const TensorView*> others) {
  return across.reduction == nullptr && kernels::sixteen_bits_in_place(x, others);
}

// Where the coefficients of the (g, c) indices from i0 go in k.
kernels::NormalizeCoefficientsOut coefficients_out(kernels::NormalizeCoefficients& k, std::int64_t i0) {
  return {.hi = k.center.hi.data() + i0,
          .lo = k.center.lo.data() + i0,
          .scale = k.scale.data() + i0,
          .shift = k.shift.data() + i0};
}

// f(i, count) for the pieces of the (g, c) indices [i0, i0 + n) that lie
// in one group of C channels each, in order.
template <typename F>
void for_each_group_span(std::int64_t i0, std::int64_t n, std::int64_t C, const F& f) {
  for (std::int64_t i = i0; i < i0 + n;) {
    const std::int64_t count = std::min(i0 + n - i, C - i % C);
    f(i, count);
    i += count;
  }
}

// The forward pass on x and y of element type T (float, or Bf16 or F16 in
// place) in `layout`.
template <typename T>
void forward_on(const BatchNormInputs& in, const BatchNormOptions& o, const Problem& p,
                const BatchNormForwardOutputs& out, const Across& across, const T* x, T* y,
                kernels::Layout layout) {
  const std::int64_t G = o.training ? p.groups : 1, C = p.C;
  const NormPlan plan = batch_norm_plan(p, layout, G);
  const std::vector<float> gamma = read_channels(in.weight, C, 1.0f);
  const std::vector<float> beta = read_channels(in.bias, C, 0.0f);
  kernels::NormalizeCoefficients k(G * C);
  const kernels::NormalizeArgsOf<T> apply = k.applied_to_data(kernels::NormalizeArgsOf<T>{.x = x, .y = y, .plan = plan});
  if (o.training) {
    const double m = static_cast<double>(across.reduction != nullptr ? across.slice.batch * p.S : p.group_m());
    std::vector<double> mean(G * C), var(G * C), invstd(G * C);
    // Batch Renorm's r and d come from the running statistics before their update.
    const bool renorm = renorm_active(o);
    std::vector<double> r(C, 1.0), d(C, 0.0), rm_before, rv_before;
    if (renorm) rm_before = read_values(in.running_mean), rv_before = read_values(in.running_var);
    // Channels [i0, i0 + n) of one group, from their statistics: their
    // batch statistics, then Batch Renorm's r and d (one group: i == c),
    // then their coefficients.
    auto set_group_channels = [&](std::int64_t i0, std::int64_t n, const kernels::Moments* stats) {
      kernels::batch_statistics({.stats = stats,
                                 .n = n,
                                 .empty = !(m > 0),
                                 .eps = o.eps,
                                 .mean = mean.data() + i0,
                                 .var = var.data() + i0,
                                 .invstd = invstd.data() + i0});
      const std::int64_t c0 = i0 % C;
      if (renorm)
        for (std::int64_t c = c0; c < c0 + n; ++c) {
          const double sigma = std::sqrt(rv_before[c] + o.eps);
          r[c] = std::clamp(std::sqrt(var[c] + o.eps) / sigma, 1 / o.renorm->rmax, o.renorm->rmax);
          d[c] = std::clamp((mean[c] - rm_before[c]) / sigma, -o.renorm->dmax, o.renorm->dmax);
        }
      kernels::train_coefficients(
          {.mean = mean.data() + i0,
           .invstd = invstd.data() + i0,
           .affine = {.gamma = gamma.data() + c0, .beta = beta.data() + c0, .r = r.data() + c0, .d = d.data() + c0},
           .n = n,
           .out = coefficients_out(k, i0)});
    };
    auto set_channels = [&](std::int64_t i0, std::int64_t n, const kernels::Moments* stats) {
      for_each_group_span(i0, n, C, [&](std::int64_t i, std::int64_t count) {
        set_group_channels(i, count, stats + (i - i0));
      });
    };
    if (across.reduction == nullptr && kernels::slice_fusion_fits(plan, 1)) {
      // A few channels' statistics, then their normalize pass while they are in cache.
      kernels::moments_each_slice(
          x, plan, set_channels,
          [&](std::int64_t i, std::int64_t s0, std::int64_t s1) { kernels::normalize_slice(apply, i, s0, s1); });
    } else {
      std::vector<kernels::Moments> stats(G * C);
      const auto reduce_stats = [&] {
        if constexpr (std::is_same_v<T, float>)
          if (across.reduction != nullptr) {  // the whole batch's, from every rank (G == 1)
            across.reduction->moments(x, plan, stats.data());
            return;
          }
        kernels::moments(kernels::MomentsArgsOf<T>{.x = x, .plan = plan, .out = stats.data()});
      };
      reduce_stats();
      set_channels(0, G * C, stats.data());
      kernels::normalize_apply(apply);
    }
    if (renorm) {
      write_values(r, out.renorm_r);
      write_values(d, out.renorm_d);
    }
    write_values(mean, out.save_mean);
    write_values(invstd, out.save_invstd);
    if (in.running_mean.defined() && m > 0)  // towards the mean over the (ghost) groups
      update_running_stats(in.running_mean, in.running_var, mean, var, G, m, o.unbiased_running_var, o.momentum);
  } else {
    const std::vector<double> rm = read_values(in.running_mean), rv = read_values(in.running_var);
    kernels::eval_coefficients({.running_mean = rm.data(),
                                .running_var = rv.data(),
                                .gamma = gamma.data(),
                                .beta = beta.data(),
                                .eps = o.eps,
                                .n = C,
                                .out = coefficients_out(k, 0)});
    kernels::NormalizeArgsOf<T> eval = apply;
    eval.single_pass = true;
    kernels::normalize_apply(eval);
  }
}

void fast_forward(const BatchNormInputs& in, const BatchNormOptions& o, const Problem& p,
                  const BatchNormForwardOutputs& out, const Across& across = {}) {
  kernels::with_input_output(in.x, out.y, sixteen_bits_in_place(across, in.x, {&out.y}), layout_for(in.x, across),
                             [&](const auto* x, auto* y, kernels::Layout layout) {
                               forward_on(in, o, p, out, across, x, y, layout);
                             });
}

// The backward pass on dy, x and dx of element type T (float, or Bf16 or
// F16 in place) in `layout`; dx_data is where dx goes (null when it is not wanted).
template <typename T>
void backward_on(const BatchNormBackwardInputs& in, const BatchNormOptions& o, const Problem& p,
                 const BatchNormGrads& g, const Across& across, const T* x, const T* dy, T* dx_data,
                 kernels::Layout layout) {
  const std::int64_t G = o.training ? p.groups : 1, C = p.C;
  const NormPlan plan = batch_norm_plan(p, layout, G);
  const std::vector<float> gamma = read_channels(in.weight, C, 1.0f);
  const bool renorm = renorm_active(o);
  const std::vector<double> r = renorm ? read_values(in.renorm_r) : std::vector<double>(C, 1.0);
  const std::vector<double> d = renorm ? read_values(in.renorm_d) : std::vector<double>(C, 0.0);

  // Per (g, c): the centre (mean) and invstd the forward pass used.
  kernels::InputGradCoefficients k(G * C);
  std::vector<double> invstd(G * C);
  {
    const std::vector<double> mean = read_values(o.training ? in.save_mean : in.running_mean);
    const std::vector<double> spread = read_values(o.training ? in.save_invstd : in.running_var);
    for (std::int64_t i = 0; i < G * C; ++i) k.center.set(i, mean[i]);
    if (o.training) std::copy(spread.begin(), spread.end(), invstd.begin());
    else kernels::inverse_std(spread.data(), o.eps, G * C, invstd.data());
  }

  std::vector<kernels::GradSums> sums(G * C);
  const std::int64_t values = across.reduction != nullptr ? across.slice.batch * p.S : p.m();  // per channel
  const double m = static_cast<double>(across.reduction != nullptr ? values : p.group_m());
  const bool batch_stats = o.training && m > 0;
  // The sums of channels [i0, i0 + n) of one group -> their dx coefficients:
  // dx = gamma*r*invstd * (dy - sum(dy)/m - (x - mean) * invstd^2 * sum(dy*(x - mean))/m)
  auto set_channels = [&](std::int64_t i0, std::int64_t n) {
    for_each_group_span(i0, n, C, [&](std::int64_t i, std::int64_t count) {
      const std::int64_t c0 = i % C;
      kernels::input_grad_coefficients({.invstd = invstd.data() + i,
                                        .sums = sums.data() + i,
                                        .gamma = gamma.data() + c0,
                                        .r = r.data() + c0,
                                        .m = m,
                                        .batch_stats = batch_stats,
                                        .n = count,
                                        .k_dy = k.k_dy.data() + i,
                                        .k_x = k.k_x.data() + i,
                                        .k_0 = k.k_0.data() + i});
    });
  };
  const kernels::GradSumsArgsOf<T> sum_args =
      k.center.centering_data(kernels::GradSumsArgsOf<T>{.dy = dy, .x = x, .plan = plan, .out = sums.data()});
  const bool need_sums = o.training || g.dweight.defined() || g.dbias.defined();
  auto reduce_sums = [&] {
    if constexpr (std::is_same_v<T, float>)
      if (across.reduction != nullptr) {  // the whole batch's, from every rank (G == 1)
        across.reduction->grad_sums(sum_args, sums.data());
        return;
      }
    kernels::grad_sums(sum_args);
  };
  if (dx_data != nullptr) {
    const kernels::InputGradArgsOf<T> apply =
        k.applied_to_data(kernels::InputGradArgsOf<T>{.dy = dy, .x = x, .dx = dx_data, .plan = plan});
    if (need_sums && across.reduction == nullptr && kernels::slice_fusion_fits(plan, 2)) {
      // Each channel's sums, then its dx pass while dy and x are in cache.
      kernels::grad_sums_each_slice(
          sum_args,
          [&](std::int64_t i0, std::int64_t n, const kernels::GradSums* channel_sums) {
            std::copy(channel_sums, channel_sums + n, sums.begin() + i0);
            set_channels(i0, n);
          },
          [&](std::int64_t i, std::int64_t s0, std::int64_t s1) { kernels::input_grad_slice(apply, i, s0, s1); });
    } else {
      if (need_sums) reduce_sums();
      set_channels(0, G * C);
      kernels::input_grad_apply(apply);
    }
  } else if (need_sums) {
    reduce_sums();
  }
  std::vector<double> dweight(C, 0.0), dbias(C, 0.0);
  if (values > 0) {  // an empty batch has no statistics (NaN) but sums over nothing: 0
    for (std::int64_t g = 0; g < G; ++g)  // each channel's groups in order
      for (std::int64_t c = 0; c < C; ++c) {
        const std::int64_t i = g * C + c;
        dweight[c] += r[c] * sums[i].sum_dy_xc * invstd[i] + d[c] * sums[i].sum_dy;
        dbias[c] += sums[i].sum_dy;
      }
  }
  write_values(dweight, g.dweight);
  write_values(dbias, g.dbias);
}

void fast_backward(const BatchNormBackwardInputs& in, const BatchNormOptions& o, const Problem& p,
                   const BatchNormGrads& g, const Across& across = {}) {
  kernels::with_input_grads(in.x, in.dy, g.dx, sixteen_bits_in_place(across, in.x, {&in.dy, &g.dx}) && in.dy.defined(),
                            layout_for(in.x, across), [&](const auto* x, const auto* dy, auto* dx, kernels::Layout layout) {
                              backward_on(in, o, p, g, across, x, dy, dx, layout);
                            });
}

// The count check: across ranks it is the whole batch's count, checked once
// the ranks have agreed.
void check_values_per_channel(bool training, std::int64_t values, const Shape& shape) {
  NORMKIT_CHECK(!training || values != 1, "Expected more than 1 value per channel when training, got input size ",
                shape_string(shape));
}

Problem check_forward(const BatchNormInputs& in, const BatchNormOptions& options,
                      const BatchNormForwardOutputs& out, bool check_count) {
  Problem p = check_input(in.x, "x");
  check_options(options, p);
  check_channel_vector(in.weight, "weight", p.C, in.x.dtype());
  check_channel_vector(in.bias, "bias", p.C, in.x.dtype());
  check_running_pair(in.running_mean, in.running_var, p.C, options.training, in.x.dtype());
  if (check_count) check_values_per_channel(options.training, p.group_m(), in.x.shape());
  check_same_shape(out.y, "y", in.x);
  if (options.training) {
    check_required_shape(out.save_mean, "save_mean", p.stats_shape(), "when training");
    check_required_shape(out.save_invstd, "save_invstd", p.stats_shape(), "when training");
  }
  if (renorm_active(options)) {
    NORMKIT_CHECK(in.running_mean.defined(),
                  "running_mean: Batch Renorm needs running statistics, got none");
    check_required_shape(out.renorm_r, "renorm_r", {p.C}, "for Batch Renorm");
    check_required_shape(out.renorm_d, "renorm_d", {p.C}, "for Batch Renorm");
  }
  return p;
}

Problem check_backward(const BatchNormBackwardInputs& in, const BatchNormOptions& options,
                       const BatchNormGrads& grads) {
  Problem p = check_input(in.x, "x");
  check_same_shape(in.dy, "dy", in.x);
  check_options(options, p);
  check_channel_vector(in.weight, "weight", p.C, in.x.dtype());
  if (options.training) {
    check_required_shape(in.save_mean, "save_mean", p.stats_shape(),
                         "when training (from the forward pass)");
    check_required_shape(in.save_invstd, "save_invstd", p.stats_shape(),
                         "when training (from the forward pass)");
  } else {
    check_running_pair(in.running_mean, in.running_var, p.C, false, in.x.dtype());
  }
  if (renorm_active(options)) {
    check_required_shape(in.renorm_r, "renorm_r", {p.C}, "for Batch Renorm (from the forward pass)");
    check_required_shape(in.renorm_d, "renorm_d", {p.C}, "for Batch Renorm (from the forward pass)");
  }
  if (grads.dx.defined()) check_same_shape(grads.dx, "dx", in.x);
  check_channel_vector(grads.dweight, "dweight", p.C, in.x.dtype());
  check_channel_vector(grads.dbias, "dbias", p.C, in.x.dtype());
  return p;
}

// What batch norm across ranks does not do, checked on each rank.
void check_across_options(const BatchNormOptions& options) {
  NORMKIT_CHECK(options.training, "training: batch norm across ranks is for training mode; eval mode is plain "
                "batch norm (expected training=true)");
  NORMKIT_CHECK(options.virtual_batch_size == 0,
                "virtual_batch_size: Synchronized BN does not do Ghost BN; expected 0, got ",
                options.virtual_batch_size);
  NORMKIT_CHECK(!options.renorm, "renorm: Synchronized BN does not do Batch Renorm; expected none");
  NORMKIT_CHECK(options.impl == Impl::fast,
                "impl: Synchronized BN runs the fast kernels only; expected Impl::fast");
}

// Every rank checks its own arguments, then they agree: an error on any rank
// is raised on every rank, so that none is left waiting for the others.
template <typename Check>
Across agree_across(kernels::BatchReduction& reduction, const TensorView& x, Problem& p, const Check& check) {
  std::string error;
  kernels::Layout layout = kernels::Layout::contiguous;
  try {
    p = check();
    layout = kernels::layout_of(x);
  } catch (const Error& e) {
    error = e.what();
  }
  return {&reduction, reduction.agree(error, p.N, p.C, p.S, layout)};
}

}  // namespace

void batch_norm_forward(const BatchNormInputs& in, const BatchNormOptions& options,
                        const BatchNormForwardOutputs& out) {
  const Problem p = check_forward(in, options, out, true);
  if (options.impl == Impl::reference) return reference_forward(in, options, p, out);
  fast_forward(in, options, p, out);
}

void kernels::batch_norm_forward_across(const BatchNormInputs& in, const BatchNormOptions& options,
                                        const BatchNormForwardOutputs& out, BatchReduction& reduction) {
  Problem p;
  const Across across = agree_across(reduction, in.x, p, [&] {
    check_across_options(options);
    return check_forward(in, options, out, false);
  });
  Shape whole = in.x.shape();
  whole[0] = across.slice.batch;
  check_values_per_channel(true, across.slice.batch * p.S, whole);  // the same on every rank
  fast_forward(in, options, p, out, across);
}

BatchNormForwardResult batch_norm_forward(const BatchNormInputs& in,
                                          const BatchNormOptions& options) {
  Problem p = check_input(in.x, "x");
  check_options(options, p);
  const Shape stats = options.training ? p.stats_shape() : Shape{0};
  BatchNormForwardResult r{Tensor(in.x.shape(), in.x.dtype(), in.x.memory_format()),
                           Tensor(stats), Tensor(stats), {}, {}};
  if (renorm_active(options)) {
    r.renorm_r = Tensor({p.C});
    r.renorm_d = Tensor({p.C});
  }
  batch_norm_forward(in, options,
                     {r.y, options.training ? r.save_mean.view() : TensorView{},
                      options.training ? r.save_invstd.view() : TensorView{}, r.renorm_r,
                      r.renorm_d});
  return r;
}

void batch_norm_backward(const BatchNormBackwardInputs& in, const BatchNormOptions& options,
                         const BatchNormGrads& grads) {
  const Problem p = check_backward(in, options, grads);
  if (options.impl == Impl::reference) return reference_backward(in, options, p, grads);
  fast_backward(in, options, p, grads);
}

void kernels::batch_norm_backward_across(const BatchNormBackwardInputs& in, const BatchNormOptions& options,
                                         const BatchNormGrads& grads, BatchReduction& reduction) {
  Problem p;
  const Across across = agree_across(reduction, in.x, p, [&] {
    check_across_options(options);
    return check_backward(in, options, grads);
  });
  fast_backward(in, options, p, grads, across);
}

BatchNormBackwardResult batch_norm_backward(const BatchNormBackwardInputs& in,
                                            const BatchNormOptions& options,
                                            BatchNormGradMask mask) {
  check_input(in.x, "x");
  const std::int64_t C = in.x.size(1);
  BatchNormBackwardResult r;
  if (mask.input) r.dx = Tensor(in.x.shape(), in.x.dtype(), in.x.memory_format());
  // The parameters' gradients in the weight's dtype, as PyTorch's.
  const DType parameter_dtype = in.weight.defined() ? in.weight.dtype() : DType::float32;
  if (mask.weight) r.dweight = Tensor({C}, parameter_dtype);
  if (mask.bias) r.dbias = Tensor({C}, parameter_dtype);
  batch_norm_backward(in, options, {r.dx, r.dweight, r.dbias});
  return r;
}

void channel_scale_shift(const TensorView& x, const TensorView& scale, const TensorView& shift,
                         const TensorView& y) {
  const Problem p = check_input(x, "x");
  check_required_shape(scale, "scale", {p.C}, "(one per channel)", x.dtype());
  check_required_shape(shift, "shift", {p.C}, "(one per channel)", x.dtype());
  check_same_shape(y, "y", x);
  const kernels::PlannedInput xp(x);
  const std::vector<float> scales = read_channels(scale, p.C, 1.0f);
  const std::vector<float> shifts = read_channels(shift, p.C, 0.0f);
  const std::vector<float> zero(p.C, 0.0f);
  kernels::PlannedOutput yp(y, xp);
  kernels::normalize_apply(kernels::NormalizeArgs{.x = xp.data(),
                            .y = yp.data(),
                            .center_hi = zero.data(),
                            .center_lo = zero.data(),
                            .scale = scales.data(),
                            .shift = shifts.data(),
                            .plan = batch_norm_plan(p, xp.layout(), 1),
                            .single_pass = true});
  yp.finish();
}

}  // namespace normkit
