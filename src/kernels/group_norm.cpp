// GroupNorm and InstanceNorm front ends, on per-(n, c) plans (group_stats.hpp):
// per-(n, group) statistics, then elementwise passes and backward sums per
// (n, c) with the group's mean as the centre. InstanceNorm is the case G = C.
#include "normkit/group_norm.hpp"

#include <cmath>
#include <vector>

#include "channel_apply.hpp"
#include "grad_sums.hpp"
#include "group_stats.hpp"
#include "moments.hpp"
#include "planned_view.hpp"
#include "ref/group_norm_ref.hpp"

namespace normkit {
namespace {

using kernels::NormPlan;

struct GroupProblem {
  std::int64_t N = 0, C = 0, S = 1, G = 1;
  // G is 0 only for InstanceNorm of 0 channels: no groups.
  std::int64_t group_channels() const { return G > 0 ? C / G : 0; }
  double m() const { return static_cast<double>(group_channels() * S); }  // values per group
};

GroupProblem check_group_input(const TensorView& x, const char* name, std::int64_t min_rank) {
  NORMKIT_CHECK(x.defined(), name, ": expected a tensor, got none");
  check_data_dtype(x, name);
  NORMKIT_CHECK(x.dim() >= min_rank, name, ": expected a tensor of rank >= ", min_rank,
                min_rank == 2 ? " (N, C, *spatial)" : " (N, C, *spatial) with a spatial dim",
                ", got shape ", shape_string(x.shape()));
  GroupProblem p{x.size(0), x.size(1), 1, 1};
  for (std::int64_t d = 2; d < x.dim(); ++d) p.S *= x.size(d);
  return p;
}

void check_num_groups(GroupProblem& p, std::int64_t num_groups, const TensorView& x) {
  NORMKIT_CHECK(num_groups > 0, "num_groups: expected a positive number, got ", num_groups);
  NORMKIT_CHECK(p.C % num_groups == 0,
                "num_groups: expected number of channels in input to be divisible by num_groups, "
                "but got input of shape ", shape_string(x.shape()), " and num_groups=", num_groups);
  p.G = num_groups;
}

void check_eps(double eps) {
  NORMKIT_CHECK(eps > 0 && std::isfinite(eps), "eps: expected a positive finite number, got ", eps);
}

kernels::GroupShape shape_of(const GroupProblem& p) { return {p.N, p.C, p.S, p.G}; }

NormPlan per_channel_plan(const GroupProblem& p, kernels::Layout layout) {
  return kernels::per_channel_plan(shape_of(p), layout);
}


// The passes below take the data (x, y, dy, dx) of element type T in
// `layout`: float32, or bfloat16 or float16 in place
// (planned_view.hpp's with_input_output and with_input_grads).

// Normalizes with per-(n, group) mean and rstd (both N*G) into y.
template <typename T>
void apply_groups(const T* x, T* y, kernels::Layout layout, const GroupProblem& p, const std::vector<double>& mean,
                  const std::vector<double>& rstd, const TensorView& weight, const TensorView& bias) {
  const std::vector<float> gamma = read_channels(weight, p.C, 1.0f);
  const std::vector<float> beta = read_channels(bias, p.C, 0.0f);
  kernels::NormalizeCoefficients k(p.N * p.C);
  for (std::int64_t n = 0; n < p.N; ++n)
    for (std::int64_t c = 0; c < p.C; ++c) {
      const std::int64_t i = n * p.C + c, group = n * p.G + c / p.group_channels();
      k.center.set(i, mean[group]);
      k.scale[i] = static_cast<float>(rstd[group] * gamma[c]);
      k.shift[i] = beta[c];
    }
  kernels::normalize_apply(
      k.applied_to_data(kernels::NormalizeArgsOf<T>{.x = x, .y = y, .plan = per_channel_plan(p, layout)}));
}

// Statistics per (n, group) from the input: mean and rstd, N*G each.
template <typename T>
void group_statistics(const T* x, kernels::Layout layout, const GroupProblem& p, double eps, std::vector<double>& mean,
                      std::vector<double>& rstd, std::vector<double>* biased_var = nullptr) {
  kernels::group_statistics(x, layout, shape_of(p), eps, mean, rstd, biased_var);
}

// Statistics and normalization in one pass over memory when the layout and
// sizes allow it (group_stats.hpp); false when the caller must use the two
// passes.
template <typename T>
bool normalize_fused(const T* x, T* y, kernels::Layout layout, const GroupProblem& p, double eps, const TensorView& weight,
                     const TensorView& bias, std::vector<double>& mean, std::vector<double>& rstd,
                     std::vector<double>* biased_var) {
  if (!kernels::fuses_groups(shape_of(p), layout)) return false;
  const std::vector<float> gamma = read_channels(weight, p.C, 1.0f);
  const std::vector<float> beta = read_channels(bias, p.C, 0.0f);
  mean.assign(p.N * p.G, 0.0);
  rstd.assign(p.N * p.G, 0.0);
  if (biased_var != nullptr) biased_var->assign(p.N * p.G, 0.0);
  kernels::fused_group_norm(kernels::FusedGroupArgs<T>{.x = x,
                             .y = y,
                             .shape = shape_of(p),
                             .eps = eps,
                             .gamma = gamma.data(),
                             .beta = beta.data(),
                             .mean = mean.data(),
                             .rstd = rstd.data(),
                             .biased_var = biased_var != nullptr ? biased_var->data() : nullptr});
  return true;
}

// The backward pass for input statistics, per (n, group) with g = dy * weight:
//   dx = rstd * g - rstd * sum(g)/m - (x - mean) * rstd^3 * sum(g * (x - mean))/m
// dy in x's layout and dtype; dx_data where dx goes (null when not wanted).
template <typename T>
void backward_groups(const T* x, const T* dy, T* dx_data, kernels::Layout layout, const GroupProblem& p,
                     const std::vector<double>& mean, const std::vector<double>& rstd,
                     const TensorView& weight, const GroupNormGrads& g) {
  const NormPlan plan = per_channel_plan(p, layout);
  const std::vector<float> gamma = read_channels(weight, p.C, 1.0f);
  const std::int64_t Cg = p.group_channels(), NC = p.N * p.C;
  kernels::InputGradCoefficients k(NC);
  for (std::int64_t i = 0; i < NC; ++i) {
    const std::int64_t group = (i / p.C) * p.G + (i % p.C) / Cg;
    k.center.set(i, mean[group]);
  }
  std::vector<kernels::GradSums> sums(NC);  // per (n, c): sum(dy), sum(dy * (x - mean))
  kernels::grad_sums(
      k.center.centering_data(kernels::GradSumsArgsOf<T>{.dy = dy, .x = x, .plan = plan, .out = sums.data()}));
  if (dx_data != nullptr) {
    const double m = p.m();
    for (std::int64_t n = 0; n < p.N; ++n)
      for (std::int64_t grp = 0; grp < p.G; ++grp) {
        double sum_g = 0, sum_g_xc = 0;  // over the group's channels, in order
        for (std::int64_t c = grp * Cg; c < (grp + 1) * Cg; ++c) {
          sum_g += gamma[c] * sums[n * p.C + c].sum_dy;
          sum_g_xc += gamma[c] * sums[n * p.C + c].sum_dy_xc;
        }
        const double rs = rstd[n * p.G + grp];
        for (std::int64_t c = grp * Cg; c < (grp + 1) * Cg; ++c) {
          const std::int64_t i = n * p.C + c;
          k.k_dy[i] = static_cast<float>(gamma[c] * rs);
          k.k_x[i] = static_cast<float>(-rs * rs * rs * sum_g_xc / m);
          k.k_0[i] = static_cast<float>(-rs * sum_g / m);
        }
      }
    kernels::input_grad_apply(
        k.applied_to_data(kernels::InputGradArgsOf<T>{.dy = dy, .x = x, .dx = dx_data, .plan = plan}));
  }
  std::vector<double> dweight(p.C, 0.0), dbias(p.C, 0.0);
  if (p.S > 0)  // an empty batch has no statistics (NaN) but sums over nothing: 0
    for (std::int64_t n = 0; n < p.N; ++n)
      for (std::int64_t c = 0; c < p.C; ++c) {
        dweight[c] += sums[n * p.C + c].sum_dy_xc * rstd[n * p.G + c / Cg];
        dbias[c] += sums[n * p.C + c].sum_dy;
      }
  write_values(dweight, g.dweight);
  write_values(dbias, g.dbias);
}

void check_backward(const TensorView& dy, const TensorView& x, const TensorView& mean,
                    const TensorView& rstd, const TensorView& weight, const GroupNormGrads& g,
                    const GroupProblem& p) {
  check_required_shape(dy, "dy", x.shape(), "(the shape of x)", x.dtype());
  check_required_shape(mean, "mean", {p.N, p.G}, "(from the forward pass)");
  check_required_shape(rstd, "rstd", {p.N, p.G}, "(from the forward pass)");
  check_channel_vector(weight, "weight", p.C, x.dtype());
  if (g.dx.defined()) check_required_shape(g.dx, "dx", x.shape(), "(the shape of x)", x.dtype());
  check_channel_vector(g.dweight, "dweight", p.C, x.dtype());
  check_channel_vector(g.dbias, "dbias", p.C, x.dtype());
}

void reference_backward(const TensorView& dy, const TensorView& x, const TensorView& mean,
                        const TensorView& rstd, const TensorView& weight, const GroupProblem& p,
                        const GroupNormGrads& g) {
  const ref::GroupNormBackwardResult r = ref::group_norm_backward(
      {p.N, p.C, p.S, p.G}, read_values(dy), read_values(x), read_values(mean), read_values(rstd),
      read_values(weight));
  write_values(r.dx, g.dx);
  write_values(r.dweight, g.dweight);
  write_values(r.dbias, g.dbias);
}

GroupNormBackwardResult allocate_grads(const TensorView& x, const TensorView& weight) {
  const std::int64_t C = x.dim() >= 2 ? x.size(1) : 0;
  // The parameters' gradients in the weight's dtype, as PyTorch's.
  const DType parameter_dtype = weight.defined() ? weight.dtype() : DType::float32;
  return {Tensor(x.shape(), x.dtype(), x.memory_format()),
          weight.defined() ? Tensor({C}, parameter_dtype) : Tensor(), Tensor({C}, parameter_dtype)};
}

}  // namespace

void group_norm_forward(const GroupNormInputs& in, const GroupNormOptions& options,
                        const GroupNormForwardOutputs& out) {
  GroupProblem p = check_group_input(in.x, "x", 2);
  check_num_groups(p, options.num_groups, in.x);
  check_eps(options.eps);
  check_channel_vector(in.weight, "weight", p.C, in.x.dtype());
  check_channel_vector(in.bias, "bias", p.C, in.x.dtype());
  check_required_shape(out.y, "y", in.x.shape(), "(the shape of x)", in.x.dtype());
  check_required_shape(out.mean, "mean", {p.N, p.G}, "(N, num_groups)");
  check_required_shape(out.rstd, "rstd", {p.N, p.G}, "(N, num_groups)");
  if (options.impl == Impl::reference) {
    const ref::GroupNormForwardResult r = ref::group_norm_forward(
        {p.N, p.C, p.S, p.G}, read_values(in.x), read_values(in.weight), read_values(in.bias),
        options.eps);
    write_values(r.y, out.y);
    write_values(r.mean, out.mean);
    write_values(r.rstd, out.rstd);
    return;
  }
  std::vector<double> mean, rstd;
  kernels::with_input_output(in.x, out.y, kernels::sixteen_bits_in_place(in.x, {&out.y}), kernels::layout_of(in.x),
                             [&](const auto* x, auto* y, kernels::Layout layout) {
                               if (normalize_fused(x, y, layout, p, options.eps, in.weight, in.bias, mean, rstd, nullptr))
                                 return;
                               group_statistics(x, layout, p, options.eps, mean, rstd);
                               apply_groups(x, y, layout, p, mean, rstd, in.weight, in.bias);
                             });
  write_values(mean, out.mean);
  write_values(rstd, out.rstd);
}

GroupNormForwardResult group_norm_forward(const GroupNormInputs& in, const GroupNormOptions& options) {
  GroupProblem p = check_group_input(in.x, "x", 2);
  check_num_groups(p, options.num_groups, in.x);
  GroupNormForwardResult r{Tensor(in.x.shape(), in.x.dtype(), in.x.memory_format()),
                           Tensor({p.N, p.G}), Tensor({p.N, p.G})};
  group_norm_forward(in, options, {r.y, r.mean, r.rstd});
  return r;
}

namespace {

// The backward of GroupNorm, or of InstanceNorm (its groups set to C), once
// the problem is known: every check, then the reference or the fast path.
template <typename Inputs>
void checked_backward(const Inputs& in, Impl impl, const GroupProblem& p, const GroupNormGrads& grads) {
  check_backward(in.dy, in.x, in.mean, in.rstd, in.weight, grads, p);
  if (impl == Impl::reference) return reference_backward(in.dy, in.x, in.mean, in.rstd, in.weight, p, grads);
  const std::vector<double> mean = read_values(in.mean), rstd = read_values(in.rstd);
  kernels::with_input_grads(in.x, in.dy, grads.dx, kernels::sixteen_bits_in_place(in.x, {&in.dy, &grads.dx}),
                            kernels::layout_of(in.x), [&](const auto* x, const auto* dy, auto* dx, kernels::Layout layout) {
                              backward_groups(x, dy, dx, layout, p, mean, rstd, in.weight, grads);
                            });
}

}  // namespace

void group_norm_backward(const GroupNormBackwardInputs& in, const GroupNormOptions& options,
                         const GroupNormGrads& grads) {
  GroupProblem p = check_group_input(in.x, "x", 2);
  check_num_groups(p, options.num_groups, in.x);
  checked_backward(in, options.impl, p, grads);
}

GroupNormBackwardResult group_norm_backward(const GroupNormBackwardInputs& in,
                                            const GroupNormOptions& options) {
  check_group_input(in.x, "x", 2);
  GroupNormBackwardResult r = allocate_grads(in.x, in.weight);
  group_norm_backward(in, options, {r.dx, r.dweight, r.dbias});
  return r;
}

void instance_norm_forward(const InstanceNormInputs& in, const InstanceNormOptions& options,
                           const InstanceNormForwardOutputs& out) {
  GroupProblem p = check_group_input(in.x, "x", 3);
  p.G = p.C;
  check_eps(options.eps);
  NORMKIT_CHECK(options.momentum >= 0 && options.momentum <= 1,
                "momentum: expected a value in [0, 1], got ", options.momentum);
  check_channel_vector(in.weight, "weight", p.C, in.x.dtype());
  check_channel_vector(in.bias, "bias", p.C, in.x.dtype());
  check_channel_vector(in.running_mean, "running_mean", p.C, in.x.dtype());
  check_channel_vector(in.running_var, "running_var", p.C, in.x.dtype());
  NORMKIT_CHECK(in.running_mean.defined() == in.running_var.defined(),
                in.running_mean.defined() ? "running_var" : "running_mean",
                ": expected a tensor, since the other running statistic is given (pass both or neither)");
  NORMKIT_CHECK(options.use_input_stats || in.running_mean.defined(),
                "running_mean: expected a tensor when use_input_stats=False, got none");
  if (options.use_input_stats) check_updated_pair(in.running_mean, "running_mean", in.running_var, "running_var");
  NORMKIT_CHECK(!options.use_input_stats || p.S != 1,
                "Expected more than 1 spatial element when training, got input size ",
                shape_string(in.x.shape()));
  check_required_shape(out.y, "y", in.x.shape(), "(the shape of x)", in.x.dtype());
  check_required_shape(out.mean, "mean", {p.N, p.C}, "(N, C)");
  check_required_shape(out.rstd, "rstd", {p.N, p.C}, "(N, C)");
  if (options.impl == Impl::reference) {
    std::vector<double> rm = read_values(in.running_mean), rv = read_values(in.running_var);
    const ref::GroupNormForwardResult r = ref::instance_norm_forward(
        {p.N, p.C, p.S, p.C}, read_values(in.x), read_values(in.weight), read_values(in.bias), rm, rv,
        options.use_input_stats, options.momentum, options.eps);
    write_values(r.y, out.y);
    write_values(r.mean, out.mean);
    write_values(r.rstd, out.rstd);
    if (options.use_input_stats) {
      write_values(rm, in.running_mean);
      write_values(rv, in.running_var);
    }
    return;
  }
  std::vector<double> mean, rstd;
  kernels::with_input_output(
      in.x, out.y, kernels::sixteen_bits_in_place(in.x, {&out.y}), kernels::layout_of(in.x),
      [&](const auto* x, auto* y, kernels::Layout layout) {
        if (options.use_input_stats) {
          std::vector<double> var;
          const bool normalized = normalize_fused(x, y, layout, p, options.eps, in.weight, in.bias, mean, rstd, &var);
          if (!normalized) group_statistics(x, layout, p, options.eps, mean, rstd, &var);
          if (in.running_mean.defined() && p.N > 0 && p.S > 0)  // unbiased per instance, averaged over the batch
            update_running_stats(in.running_mean, in.running_var, mean, var, p.N, static_cast<double>(p.S), true,
                                 options.momentum);
          if (normalized) return;
        } else {
          const std::vector<double> rm = read_values(in.running_mean), rv = read_values(in.running_var);
          mean.resize(p.N * p.C);
          rstd.resize(p.N * p.C);
          for (std::int64_t n = 0; n < p.N; ++n)
            for (std::int64_t c = 0; c < p.C; ++c) {
              mean[n * p.C + c] = rm[c];
              rstd[n * p.C + c] = kernels::inverse_std_of(rv[c], options.eps);
            }
        }
        apply_groups(x, y, layout, p, mean, rstd, in.weight, in.bias);
      });
  write_values(mean, out.mean);
  write_values(rstd, out.rstd);
}

InstanceNormForwardResult instance_norm_forward(const InstanceNormInputs& in,
                                                const InstanceNormOptions& options) {
  const GroupProblem p = check_group_input(in.x, "x", 3);
  InstanceNormForwardResult r{Tensor(in.x.shape(), in.x.dtype(), in.x.memory_format()),
                              Tensor({p.N, p.C}), Tensor({p.N, p.C})};
  instance_norm_forward(in, options, {r.y, r.mean, r.rstd});
  return r;
}

void instance_norm_backward(const InstanceNormBackwardInputs& in, const InstanceNormOptions& options,
                            const GroupNormGrads& grads) {
  GroupProblem p = check_group_input(in.x, "x", 3);
  p.G = p.C;
  checked_backward(in, options.impl, p, grads);
}

GroupNormBackwardResult instance_norm_backward(const InstanceNormBackwardInputs& in,
                                               const InstanceNormOptions& options) {
  check_group_input(in.x, "x", 3);
  GroupNormBackwardResult r = allocate_grads(in.x, in.weight);
  instance_norm_backward(in, options, {r.dx, r.dweight, r.dbias});
  return r;
}

}  // namespace normkit
