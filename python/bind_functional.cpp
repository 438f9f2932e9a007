// The functional API of DESIGN.md section 4 (names, argument order and return
// tuples as ATen's native ops), plus AdaIN and BN folding.
#include <pybind11/stl.h>

#include <optional>

#include "numpy_views.hpp"

namespace normkit::python {
namespace {

// Rank check before the shape is used to allocate outputs.
void require_rank(const TensorView& x, std::int64_t rank, const char* what) {
  NORMKIT_CHECK(x.dim() >= rank, "x: expected a tensor of rank >= ", rank, " ", what, ", got shape ",
                shape_string(x.shape()));
}

py::object optional_array(bool wanted, const Shape& shape, TensorView& view) {
  if (!wanted) return py::none();
  py::array_t<float> a = new_array(shape);
  view = view_of_new(a);
  return std::move(a);
}

py::tuple batch_norm_forward_py(const py::object& x, const py::object& weight, const py::object& bias,
                                const py::object& running_mean, const py::object& running_var,
                                bool training, double momentum, double eps) {
  const TensorView xv = required_view(x, "x");
  require_rank(xv, 2, "(N, C, *spatial)");
  const BatchNormInputs in{xv, view_of(weight, "weight"), view_of(bias, "bias"),
                           view_of(running_mean, "running_mean", training),
                           view_of(running_var, "running_var", training)};
  const std::int64_t stats = training ? xv.size(1) : 0;
  py::array_t<float> y = new_array(xv.shape(), xv.memory_format());
  py::array_t<float> save_mean = new_array({stats}), save_invstd = new_array({stats});
  const BatchNormForwardOutputs out{view_of_new(y), training ? view_of_new(save_mean) : TensorView{},
                                    training ? view_of_new(save_invstd) : TensorView{}};
  {
    py::gil_scoped_release release;
    batch_norm_forward(in, {.training = training, .momentum = momentum, .eps = eps}, out);
  }
  return py::make_tuple(y, save_mean, save_invstd);
}

py::tuple batch_norm_backward_py(const py::object& dy, const py::object& x, const py::object& weight,
                                 const py::object& running_mean, const py::object& running_var,
                                 const py::object& save_mean, const py::object& save_invstd,
                                 bool training, double eps) {
  const TensorView xv = required_view(x, "x");
  require_rank(xv, 2, "(N, C, *spatial)");
  const BatchNormBackwardInputs in{view_of(dy, "dy"), xv, view_of(weight, "weight"),
                                   view_of(running_mean, "running_mean"),
                                   view_of(running_var, "running_var"), view_of(save_mean, "save_mean"),
                                   view_of(save_invstd, "save_invstd")};
  const std::int64_t C = xv.size(1);
  py::array_t<float> dx = new_array(xv.shape(), xv.memory_format()), dbias = new_array({C});
  BatchNormGrads grads{view_of_new(dx), {}, view_of_new(dbias)};
  py::object dweight = optional_array(in.weight.defined(), {C}, grads.dweight);
  {
    py::gil_scoped_release release;
    batch_norm_backward(in, {.training = training, .eps = eps}, grads);
  }
  return py::make_tuple(dx, dweight, dbias);
}

// Statistics shape of the row norms: leading dims, then a 1 per normalized dim.
Shape row_stats_shape(const TensorView& x, const Shape& normalized_shape) {
  Shape shape;
  const std::size_t k = normalized_shape.size();
  for (std::size_t i = 0; i + k < x.shape().size(); ++i) shape.push_back(x.shape()[i]);
  for (std::size_t i = 0; i < k && i < x.shape().size(); ++i) shape.push_back(1);
  return shape;
}

py::tuple layer_norm_forward_py(const py::object& x, const py::object& normalized_shape,
                                const py::object& weight, const py::object& bias, double eps) {
  const TensorView xv = required_view(x, "input");
  const Shape ns = shape_argument(normalized_shape, "normalized_shape");
  const Shape stats = row_stats_shape(xv, ns);
  py::array_t<float> y = new_array(xv.shape()), mean = new_array(stats), rstd = new_array(stats);
  const LayerNormInputs in{xv, ns, view_of(weight, "weight"), view_of(bias, "bias")};
  const LayerNormForwardOutputs out{view_of_new(y), view_of_new(mean), view_of_new(rstd)};
  {
    py::gil_scoped_release release;
    layer_norm_forward(in, {.eps = eps}, out);
  }
  return py::make_tuple(y, mean, rstd);
}

py::tuple layer_norm_backward_py(const py::object& dy, const py::object& x,
                                 const py::object& normalized_shape, const py::object& mean,
                                 const py::object& rstd, const py::object& weight,
                                 const py::object& bias) {
  const TensorView xv = required_view(x, "input");
  const Shape ns = shape_argument(normalized_shape, "normalized_shape");
  const LayerNormBackwardInputs in{view_of(dy, "dy"), xv, ns, view_of(mean, "mean"),
                                   view_of(rstd, "rstd"), view_of(weight, "weight")};
  py::array_t<float> dx = new_array(xv.shape());
  LayerNormGrads grads{view_of_new(dx), {}, {}};
  py::object dweight = optional_array(in.weight.defined(), ns, grads.dweight);
  py::object dbias = optional_array(!bias.is_none(), ns, grads.dbias);
  {
    py::gil_scoped_release release;
    layer_norm_backward(in, {}, grads);
  }
  return py::make_tuple(dx, dweight, dbias);
}

py::tuple rms_norm_forward_py(const py::object& x, const py::object& normalized_shape,
                              const py::object& weight, std::optional<double> eps) {
  const TensorView xv = required_view(x, "input");
  const Shape ns = shape_argument(normalized_shape, "normalized_shape");
  py::array_t<float> y = new_array(xv.shape()), rstd = new_array(row_stats_shape(xv, ns));
  const RMSNormInputs in{xv, ns, view_of(weight, "weight")};
  const RMSNormForwardOutputs out{view_of_new(y), view_of_new(rstd)};
  {
    py::gil_scoped_release release;
    rms_norm_forward(in, {.eps = eps}, out);
  }
  return py::make_tuple(y, rstd);
}

py::tuple rms_norm_backward_py(const py::object& dy, const py::object& x,
                               const py::object& normalized_shape, const py::object& rstd,
                               const py::object& weight) {
  const TensorView xv = required_view(x, "input");
  const Shape ns = shape_argument(normalized_shape, "normalized_shape");
  const RMSNormBackwardInputs in{view_of(dy, "dy"), xv, ns, view_of(rstd, "rstd"), view_of(weight, "weight")};
  py::array_t<float> dx = new_array(xv.shape());
  RMSNormGrads grads{view_of_new(dx), {}};
  py::object dweight = optional_array(in.weight.defined(), ns, grads.dweight);
  {
    py::gil_scoped_release release;
    rms_norm_backward(in, {}, grads);
  }
  return py::make_tuple(dx, dweight);
}

py::tuple group_norm_forward_py(const py::object& x, const py::object& weight, const py::object& bias,
                                std::int64_t num_groups, double eps) {
  const TensorView xv = required_view(x, "x");
  require_rank(xv, 2, "(N, C, *spatial)");
  // A num_groups the call will refuse allocates nothing (2**40 groups would be
  // terabytes of statistics before the check).
  const bool valid = num_groups > 0 && xv.size(1) % num_groups == 0;
  const Shape stats{xv.size(0), valid ? num_groups : 0};
  py::array_t<float> y = new_array(xv.shape(), xv.memory_format()), mean = new_array(stats),
                     rstd = new_array(stats);
  const GroupNormInputs in{xv, view_of(weight, "weight"), view_of(bias, "bias")};
  const GroupNormForwardOutputs out{view_of_new(y), view_of_new(mean), view_of_new(rstd)};
  {
    py::gil_scoped_release release;
    group_norm_forward(in, {.num_groups = num_groups, .eps = eps}, out);
  }
  return py::make_tuple(y, mean, rstd);
}

py::tuple group_norm_backward_py(const py::object& dy, const py::object& x, const py::object& mean,
                                 const py::object& rstd, const py::object& weight,
                                 std::int64_t num_groups) {
  const TensorView xv = required_view(x, "x");
  require_rank(xv, 2, "(N, C, *spatial)");
  const GroupNormBackwardInputs in{view_of(dy, "dy"), xv, view_of(mean, "mean"), view_of(rstd, "rstd"),
                                   view_of(weight, "weight")};
  const std::int64_t C = xv.size(1);
  py::array_t<float> dx = new_array(xv.shape(), xv.memory_format()), dbias = new_array({C});
  GroupNormGrads grads{view_of_new(dx), {}, view_of_new(dbias)};
  py::object dweight = optional_array(in.weight.defined(), {C}, grads.dweight);
  {
    py::gil_scoped_release release;
    group_norm_backward(in, {.num_groups = num_groups}, grads);
  }
  return py::make_tuple(dx, dweight, dbias);
}

py::tuple instance_norm_forward_py(const py::object& x, const py::object& weight, const py::object& bias,
                                   const py::object& running_mean, const py::object& running_var,
                                   bool use_input_stats, double momentum, double eps) {
  const TensorView xv = required_view(x, "x");
  require_rank(xv, 3, "(N, C, *spatial) with a spatial dim");
  const Shape stats{xv.size(0), xv.size(1)};
  py::array_t<float> y = new_array(xv.shape(), xv.memory_format()), mean = new_array(stats),
                     rstd = new_array(stats);
  const InstanceNormInputs in{xv, view_of(weight, "weight"), view_of(bias, "bias"),
                              view_of(running_mean, "running_mean", use_input_stats),
                              view_of(running_var, "running_var", use_input_stats)};
  const InstanceNormForwardOutputs out{view_of_new(y), view_of_new(mean), view_of_new(rstd)};
  {
    py::gil_scoped_release release;
    instance_norm_forward(in, {.use_input_stats = use_input_stats, .momentum = momentum, .eps = eps}, out);
  }
  return py::make_tuple(y, mean, rstd);
}

py::tuple instance_norm_backward_py(const py::object& dy, const py::object& x, const py::object& weight,
                                    const py::object& mean, const py::object& rstd) {
  const TensorView xv = required_view(x, "x");
  require_rank(xv, 3, "(N, C, *spatial) with a spatial dim");
  const InstanceNormBackwardInputs in{view_of(dy, "dy"), xv, view_of(weight, "weight"),
                                      view_of(mean, "mean"), view_of(rstd, "rstd")};
  const std::int64_t C = xv.size(1);
  py::array_t<float> dx = new_array(xv.shape(), xv.memory_format()), dbias = new_array({C});
  GroupNormGrads grads{view_of_new(dx), {}, view_of_new(dbias)};
  py::object dweight = optional_array(in.weight.defined(), {C}, grads.dweight);
  {
    py::gil_scoped_release release;
    instance_norm_backward(in, {}, grads);
  }
  return py::make_tuple(dx, dweight, dbias);
}

py::tuple adain_forward_py(const py::object& content, const py::object& style, double eps) {
  const TensorView c = required_view(content, "content"), s = required_view(style, "style");
  AdaINForwardResult r;
  {
    py::gil_scoped_release release;
    r = adain_forward(c, s, {.eps = eps});
  }
  return py::make_tuple(to_numpy(r.y), to_numpy(r.stats.content_mean), to_numpy(r.stats.content_rstd),
                        to_numpy(r.stats.style_mean), to_numpy(r.stats.style_rstd));
}

py::tuple adain_backward_py(const py::object& dy, const py::object& content, const py::object& style,
                            const py::object& content_mean, const py::object& content_rstd,
                            const py::object& style_mean, const py::object& style_rstd, double eps) {
  const AdaINStats stats{Tensor::copy_of(required_view(content_mean, "content_mean")),
                         Tensor::copy_of(required_view(content_rstd, "content_rstd")),
                         Tensor::copy_of(required_view(style_mean, "style_mean")),
                         Tensor::copy_of(required_view(style_rstd, "style_rstd"))};
  const TensorView g = required_view(dy, "dy"), c = required_view(content, "content"),
                   s = required_view(style, "style");
  AdaINBackwardResult r;
  {
    py::gil_scoped_release release;
    r = adain_backward(g, c, s, stats, {.eps = eps});
  }
  return py::make_tuple(to_numpy(r.dcontent), to_numpy(r.dstyle));
}

py::tuple fold_batch_norm_py(const py::object& weight, const py::object& bias,
                             const py::object& running_mean, const py::object& running_var,
                             const py::object& bn_weight, const py::object& bn_bias, double eps,
                             const std::string& layer, std::int64_t groups) {
  const nn::FoldInto into = layer == "linear"           ? nn::FoldInto::linear
                            : layer == "conv"           ? nn::FoldInto::conv
                            : layer == "conv_transpose" ? nn::FoldInto::conv_transpose
                                                        : throw Error("layer: expected 'linear', 'conv' or "
                                                                      "'conv_transpose', got '" + layer + "'");
  const nn::FoldedLayer f = nn::fold_batch_norm(
      required_view(weight, "weight"), view_of(bias, "bias"),
      {view_of(running_mean, "running_mean"), view_of(running_var, "running_var"),
       view_of(bn_weight, "bn_weight"), view_of(bn_bias, "bn_bias"), eps},
      into, groups);
  return py::make_tuple(to_numpy(f.weight), to_numpy(f.bias));
}

}  // namespace

void bind_functional(py::module_& m) {
  m.def("batch_norm_forward", &batch_norm_forward_py, py::arg("x"), py::arg("weight"), py::arg("bias"),
        py::arg("running_mean"), py::arg("running_var"), py::arg("training"), py::arg("momentum"),
        py::arg("eps"),
        "Batch Normalization forward, as ATen's native_batch_norm.\n\n"
        "x: (N, C, *spatial) float32; weight, bias, running_mean, running_var: (C,) or None.\n"
        "Running statistics are updated in place when training.\n"
        "Returns (y, save_mean, save_invstd); the last two are empty in eval mode.");
  m.def("batch_norm_backward", &batch_norm_backward_py, py::arg("dy"), py::arg("x"), py::arg("weight"),
        py::arg("running_mean"), py::arg("running_var"), py::arg("save_mean"), py::arg("save_invstd"),
        py::arg("training"), py::arg("eps"),
        "Batch Normalization backward, as ATen's native_batch_norm_backward.\n\n"
        "Returns (dx, dweight, dbias); dweight is None when weight is None.");
  m.def("layer_norm_forward", &layer_norm_forward_py, py::arg("x"), py::arg("normalized_shape"),
        py::arg("weight"), py::arg("bias"), py::arg("eps"),
        "LayerNorm forward, as ATen's native_layer_norm.\n\n"
        "Returns (y, mean, rstd); mean and rstd have x's leading dims then a 1 per normalized dim.");
  m.def("layer_norm_backward", &layer_norm_backward_py, py::arg("dy"), py::arg("x"),
        py::arg("normalized_shape"), py::arg("mean"), py::arg("rstd"), py::arg("weight"), py::arg("bias"),
        "LayerNorm backward. Returns (dx, dweight, dbias); dweight is None when weight is None,\n"
        "dbias None when bias is None.");
  m.def("rms_norm_forward", &rms_norm_forward_py, py::arg("x"), py::arg("normalized_shape"),
        py::arg("weight"), py::arg("eps"),
        "RMSNorm forward: y = x * rsqrt(mean(x^2) + eps) * weight. eps None means float32's\n"
        "machine epsilon, as torch.nn.RMSNorm. Returns (y, rstd).");
  m.def("rms_norm_backward", &rms_norm_backward_py, py::arg("dy"), py::arg("x"),
        py::arg("normalized_shape"), py::arg("rstd"), py::arg("weight"),
        "RMSNorm backward. Returns (dx, dweight); dweight is None when weight is None.");
  m.def("group_norm_forward", &group_norm_forward_py, py::arg("x"), py::arg("weight"), py::arg("bias"),
        py::arg("num_groups"), py::arg("eps"),
        "GroupNorm forward, as ATen's native_group_norm. Returns (y, mean, rstd), mean and rstd (N, G).");
  m.def("group_norm_backward", &group_norm_backward_py, py::arg("dy"), py::arg("x"), py::arg("mean"),
        py::arg("rstd"), py::arg("weight"), py::arg("num_groups"),
        "GroupNorm backward. Returns (dx, dweight, dbias); dweight is None when weight is None.");
  m.def("instance_norm_forward", &instance_norm_forward_py, py::arg("x"), py::arg("weight"),
        py::arg("bias"), py::arg("running_mean"), py::arg("running_var"), py::arg("use_input_stats"),
        py::arg("momentum"), py::arg("eps"),
        "InstanceNorm forward, as torch.nn.functional.instance_norm. Returns (y, mean, rstd), (N, C):\n"
        "the statistics used. With use_input_stats the running statistics (if given) are updated\n"
        "in place; without, they normalize.");
  m.def("instance_norm_backward", &instance_norm_backward_py, py::arg("dy"), py::arg("x"),
        py::arg("weight"), py::arg("mean"), py::arg("rstd"),
        "InstanceNorm backward for instance statistics (use_input_stats=True).\n"
        "Returns (dx, dweight, dbias); dweight is None when weight is None.");
  m.def("adain_forward", &adain_forward_py, py::arg("content"), py::arg("style"), py::arg("eps") = 1e-5,
        "AdaIN: y = sigma_style * (content - mu_content) / sigma_content + mu_style, per (n, c).\n"
        "Returns (y, content_mean, content_rstd, style_mean, style_rstd).");
  m.def("adain_backward", &adain_backward_py, py::arg("dy"), py::arg("content"), py::arg("style"),
        py::arg("content_mean"), py::arg("content_rstd"), py::arg("style_mean"), py::arg("style_rstd"),
        py::arg("eps") = 1e-5, "AdaIN backward. Returns (dcontent, dstyle).");
  m.def("fold_batch_norm", &fold_batch_norm_py, py::arg("weight"), py::arg("bias"),
        py::arg("running_mean"), py::arg("running_var"), py::arg("bn_weight"), py::arg("bn_bias"),
        py::arg("eps") = 1e-5, py::arg("layer") = "conv", py::arg("groups") = 1,
        "Folds an eval-mode BatchNorm into the preceding layer's weight and bias.\n"
        "layer: 'linear' (out, in), 'conv' (out, in/groups, *k) or 'conv_transpose'\n"
        "(in, out/groups, *k). Returns (weight, bias).");
}

}  // namespace normkit::python
