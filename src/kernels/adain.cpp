// AdaIN front end: per-(n, c) statistics of content and style (group_stats
// with one channel per group), then per-(n, c) elementwise passes:
//
//   y        = (c - mu_c) * (rstd_c * sigma_s) + mu_s
//   dcontent = instance-norm backward with gamma = sigma_s
//   dstyle   = (s - mu_s) * (sum(dy * chat) * rstd_s / Ss) + sum(dy) / Ss
#include "normkit/adain.hpp"

#include <cmath>
#include <vector>

#include "channel_apply.hpp"
#include "grad_sums.hpp"
#include "group_stats.hpp"
#include "planned_view.hpp"
#include "ref/adain_ref.hpp"

namespace normkit {
namespace {

using kernels::GroupShape;

struct AdaINShapes {
  GroupShape content, style;
};

AdaINShapes check_inputs(const TensorView& content, const TensorView& style, double eps) {
  for (const auto& [t, name] : {std::pair{content, "content"}, std::pair{style, "style"}}) {
    NORMKIT_CHECK(t.defined(), name, ": expected a tensor, got none");
    check_data_dtype(t, name);
    NORMKIT_CHECK(t.dim() >= 3, name, ": expected a tensor of rank >= 3 (N, C, *spatial), got shape ",
                  shape_string(t.shape()));
  }
  NORMKIT_CHECK(style.size(0) == content.size(0) && style.size(1) == content.size(1),
                "style: expected the content's N and C (", content.size(0), ", ", content.size(1),
                "), got shape ", shape_string(style.shape()));
  NORMKIT_CHECK(style.dtype() == content.dtype(), "style: expected the content's dtype (",
                dtype_name(content.dtype()), "), got ", dtype_name(style.dtype()));
  NORMKIT_CHECK(eps > 0 && std::isfinite(eps), "eps: expected a positive finite number, got ", eps);
  auto shape_of = [](const TensorView& t) {
    GroupShape s{t.size(0), t.size(1), 1, t.size(1)};
    for (std::int64_t d = 2; d < t.dim(); ++d) s.S *= t.size(d);
    return s;
  };
  return {shape_of(content), shape_of(style)};
}

std::vector<double> ratio(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> r(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) r[i] = a[i] / b[i];
  return r;
}

Tensor nc_tensor(const std::vector<double>& v, const GroupShape& s) {
  Tensor t({s.N, s.C});
  write_values(v, t);
  return t;
}

// Runs normalize_apply from x into out with per-(n, c) centre, scale and
// shift; a 16-bit x and out in place (planned_view.hpp).
void apply_per_channel(const TensorView& x, const GroupShape& s, const std::vector<double>& center,
                       const std::vector<double>& scale, const std::vector<double>& shift, const TensorView& out) {
  const auto n = static_cast<std::int64_t>(center.size());
  kernels::NormalizeCoefficients k(n);
  for (std::int64_t i = 0; i < n; ++i) {
    k.center.set(i, center[i]);
    k.scale[i] = static_cast<float>(scale[i]);
    k.shift[i] = static_cast<float>(shift[i]);
  }
  kernels::with_input_output(x, out, kernels::sixteen_bits_in_place(x, {&out}), kernels::layout_of(x),
                             [&](const auto* x_data, auto* y_data, kernels::Layout layout) {
                               using T = std::remove_const_t<std::remove_pointer_t<decltype(x_data)>>;
                               kernels::normalize_apply(k.applied_to_data(kernels::NormalizeArgsOf<T>{
                                   .x = x_data, .y = y_data, .plan = kernels::per_channel_plan(s, layout)}));
                             });
}

// mean and rstd per (n, c) of x, read in place when it is 16-bit.
void channel_statistics(const TensorView& x, const GroupShape& s, double eps, std::vector<double>& mean,
                        std::vector<double>& rstd) {
  if (kernels::sixteen_bits_in_place(x, {})) {
    kernels::with_sixteen_bits(
        x, [&](const auto* data) { kernels::group_statistics(data, kernels::layout_of(x), s, eps, mean, rstd); });
    return;
  }
  const kernels::PlannedInput x32(x);
  kernels::group_statistics(x32.data(), x32.layout(), s, eps, mean, rstd);
}

}  // namespace

AdaINForwardResult adain_forward(const TensorView& content, const TensorView& style,
                                 const AdaINOptions& options) {
  const AdaINShapes s = check_inputs(content, style, options.eps);
  AdaINForwardResult r{Tensor(content.shape(), content.dtype(), content.memory_format()), {}};
  if (options.impl == Impl::reference) {
    const ref::AdaINForwardResult f = ref::adain_forward(
        {s.content.N, s.content.C, s.content.S, s.style.S}, read_values(content), read_values(style),
        options.eps);
    write_values(f.y, r.y);
    r.stats = {nc_tensor(f.content_mean, s.content), nc_tensor(f.content_rstd, s.content),
               nc_tensor(f.style_mean, s.content), nc_tensor(f.style_rstd, s.content)};
    return r;
  }
  std::vector<double> mean_c, rstd_c, mean_s, rstd_s;
  channel_statistics(content, s.content, options.eps, mean_c, rstd_c);
  channel_statistics(style, s.style, options.eps, mean_s, rstd_s);
  apply_per_channel(content, s.content, mean_c, ratio(rstd_c, rstd_s), mean_s, r.y);  // rstd_c * sigma_s
  r.stats = {nc_tensor(mean_c, s.content), nc_tensor(rstd_c, s.content), nc_tensor(mean_s, s.content),
             nc_tensor(rstd_s, s.content)};
  return r;
}

AdaINBackwardResult adain_backward(const TensorView& dy, const TensorView& content,
                                   const TensorView& style, const AdaINStats& stats,
                                   const AdaINOptions& options) {
  const AdaINShapes s = check_inputs(content, style, options.eps);
  check_required_shape(dy, "dy", content.shape(), "(the shape of content)", content.dtype());
  const Shape nc{s.content.N, s.content.C};
  check_required_shape(stats.content_mean, "content_mean", nc, "(from the forward pass)");
  check_required_shape(stats.content_rstd, "content_rstd", nc, "(from the forward pass)");
  check_required_shape(stats.style_mean, "style_mean", nc, "(from the forward pass)");
  check_required_shape(stats.style_rstd, "style_rstd", nc, "(from the forward pass)");
  AdaINBackwardResult r{Tensor(content.shape(), content.dtype(), content.memory_format()),
                        Tensor(style.shape(), style.dtype(), style.memory_format())};
  if (options.impl == Impl::reference) {
    // At the caller's statistics, as the fast path (eps only entered them).
    const ref::AdaINBackwardResult g = ref::adain_backward(
        {s.content.N, s.content.C, s.content.S, s.style.S}, read_values(dy), read_values(content),
        read_values(style),
        ref::AdaINForwardResult{.content_mean = read_values(stats.content_mean),
                                .content_rstd = read_values(stats.content_rstd),
                                .style_mean = read_values(stats.style_mean),
                                .style_rstd = read_values(stats.style_rstd)});
    write_values(g.dcontent, r.dcontent);
    write_values(g.dstyle, r.dstyle);
    return r;
  }
  const std::vector<double> mean_c = read_values(stats.content_mean), rstd_c = read_values(stats.content_rstd);
  const std::vector<double> mean_s = read_values(stats.style_mean), rstd_s = read_values(stats.style_rstd);
  const auto NC = static_cast<std::int64_t>(mean_c.size());
  kernels::InputGradCoefficients k(NC);
  for (std::int64_t i = 0; i < NC; ++i) k.center.set(i, mean_c[i]);
  std::vector<kernels::GradSums> sums(NC);  // sum(dy), sum(dy * (c - mu_c)) per (n, c)
  const double Sc = static_cast<double>(s.content.S), Ss = static_cast<double>(s.style.S);
  std::vector<double> style_center(NC), style_scale(NC), style_shift(NC);
  // The content's sums, then its gradient's coefficients and pass.
  const auto content_grads = [&](const auto* c, const auto* g, auto* dc, kernels::Layout layout) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(c)>>;
    const kernels::NormPlan plan = kernels::per_channel_plan(s.content, layout);
    kernels::grad_sums(
        k.center.centering_data(kernels::GradSumsArgsOf<T>{.dy = g, .x = c, .plan = plan, .out = sums.data()}));
    for (std::int64_t i = 0; i < NC; ++i) {
      const double scale = rstd_c[i] / rstd_s[i];  // sigma_s * rstd_c
      const double sum_dy_chat = sums[i].sum_dy_xc * rstd_c[i];
      k.k_dy[i] = static_cast<float>(scale);
      k.k_x[i] = static_cast<float>(-scale * rstd_c[i] * sum_dy_chat / Sc);
      k.k_0[i] = static_cast<float>(-scale * sums[i].sum_dy / Sc);
      style_center[i] = mean_s[i];
      style_scale[i] = sum_dy_chat * rstd_s[i] / Ss;
      style_shift[i] = sums[i].sum_dy / Ss;
    }
    kernels::input_grad_apply(
        k.applied_to_data(kernels::InputGradArgsOf<T>{.dy = g, .x = c, .dx = dc, .plan = plan}));
  };
  const TensorView dcontent = r.dcontent;
  kernels::with_input_grads(content, dy, dcontent, kernels::sixteen_bits_in_place(content, {&dy, &dcontent}),
                            kernels::layout_of(content), content_grads);
  apply_per_channel(style, s.style, style_center, style_scale, style_shift, r.dstyle);
  return r;
}

}  // namespace normkit
