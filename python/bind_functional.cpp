// The functional API of DESIGN.md section 4 (names, argument order and return
// tuples as ATen's native ops): every function of the op table
// (kernels/op_table.hpp), bound by one generic binder; plus BN folding.
#include <pybind11/stl.h>

#include <array>
#include <optional>
#include <span>
#include <utility>

#include "kernels/op_table.hpp"
#include "dlpack.hpp"
#include "numpy_views.hpp"

namespace normkit::python {
namespace {

// A Python value of a scalar kind through pybind11's own conversion (an int
// for a float, NumPy scalars), or TypeError naming the argument.
template <typename T>
T scalar(const py::object& obj, const char* name, const char* expected) {
  try {
    return obj.cast<T>();
  } catch (const py::cast_error&) {
    throw py::type_error(std::string(name) + ": expected " + expected + ", got " + type_name(obj));
  }
}

// One argument as the table's value; `written` says whether an
// updated_tensor is written in this call.
ops::Value value_of(const ops::Arg& a, const py::object& obj, bool written) {
  const char* error_name = a.error_name != nullptr ? a.error_name : a.name;
  switch (a.kind) {
    case ops::ArgKind::tensor: return required_view(obj, error_name, true);
    case ops::ArgKind::optional_tensor:
      if (obj.is_none()) return std::monostate{};
      return view_of(obj, error_name, false, true);
    case ops::ArgKind::updated_tensor:
      if (obj.is_none()) return std::monostate{};
      return view_of(obj, error_name, written, true);
    case ops::ArgKind::shape: return shape_argument(obj, a.name);
    case ops::ArgKind::integer: return scalar<std::int64_t>(obj, a.name, "an int");
    case ops::ArgKind::number: return scalar<double>(obj, a.name, "a float");
    case ops::ArgKind::optional_number:
      if (obj.is_none()) return std::monostate{};
      return scalar<double>(obj, a.name, "a float or None");
    case ops::ArgKind::flag: return scalar<bool>(obj, a.name, "a bool");
  }
  return std::monostate{};
}

// The arguments of one call as the table's values. Flags first: an
// updated_tensor must be writable when its flag says it is written. Each
// value is appended as it is read: a vector of default values had zeroed
// each 168-byte variant first (`rep stos`), two fifths of this function's
// own time for LayerNorm (1, 16) (perf).
std::vector<ops::Value> values_of(const ops::Function& f, std::span<const py::object> objects) {
  std::vector<ops::Value> values;
  values.reserve(f.args.size());
  for (std::size_t i = 0; i < f.args.size(); ++i) {
    const ops::Arg& a = f.args[i];
    const bool written = a.kind == ops::ArgKind::updated_tensor && !objects[i].is_none() &&
                         scalar<bool>(objects[f.index_of(a.updated_when)], a.updated_when, "a bool");
    values.push_back(value_of(a, objects[i], written));
  }
  return values;
}

// Calls f without the GIL; its results as NumPy arrays (no copy), None for
// an undefined one: a tuple, or the array itself for a function of one
// result (DESIGN.md: dyt_forward(...) -> y).
py::object call(const ops::Function& f, std::span<const py::object> objects) {
  const std::vector<ops::Value> values = values_of(f, objects);
  std::vector<Tensor> results;
  {
    py::gil_scoped_release release;
    results = f.call(values, Impl::fast);
  }
  // Results of the kind of the first tensor argument (torch tensors for a
  // torch x, NumPy arrays otherwise).
  ResultKind kind = ResultKind::numpy;
  for (std::size_t i = 0; i < f.args.size(); ++i)
    if (f.args[i].kind == ops::ArgKind::tensor) {
      kind = result_kind_of(objects[i]);
      break;
    }
  if (results.size() == 1) return to_kind(std::move(results[0]), kind);
  py::tuple out(results.size());
  for (std::size_t i = 0; i < results.size(); ++i) out[i] = to_kind(std::move(results[i]), kind);
  return out;
}

// "Returns (y, mean, rstd)." and the arguments, for the docstring.
std::string docstring(const ops::Function& f) {
  std::string doc = std::string(f.doc) + "\n\nArguments:\n";
  for (const ops::Arg& a : f.args) doc += std::string("  ") + a.name + ": " + a.about + "\n";
  return doc;
}

template <std::size_t>
using Object = py::object;

// Binds f with a signature of its own, as pybind11 shows it: its arguments
// by name, the last D with their defaults.
template <std::size_t... I, std::size_t... J>
void bind(py::module_& m, const ops::Function& f, std::index_sequence<I...>, std::index_sequence<J...>) {
  constexpr std::size_t kRequired = sizeof...(I);
  m.def(
      f.name,
      [&f](Object<I>... required, Object<kRequired + J>... defaulted) {
        const std::array<py::object, kRequired + sizeof...(J)> objects{std::move(required)...,
                                                                       std::move(defaulted)...};
        return call(f, objects);
      },
      py::arg(f.args[I].name)..., py::arg_v(f.args[kRequired + J].name, *f.args[kRequired + J].default_number)...,
      docstring(f).c_str());
}

constexpr std::size_t kMostArguments = 10, kMostDefaults = 2;

template <std::size_t N, std::size_t D>
void bind_sized(py::module_& m, const ops::Function& f) {
  bind(m, f, std::make_index_sequence<N - D>(), std::make_index_sequence<D>());
}

using Binder = void (*)(py::module_&, const ops::Function&);

template <std::size_t N, std::size_t D>
constexpr Binder binder_for() {
  if constexpr (D <= N) return &bind_sized<N, D>;
  return nullptr;
}

// binders[N][D]: bind_sized<N, D>, for every N and D the binder takes.
template <std::size_t... N>
constexpr auto make_binders(std::index_sequence<N...>) {
  return std::array<std::array<Binder, kMostDefaults + 1>, sizeof...(N)>{
      {{binder_for<N, 0>(), binder_for<N, 1>(), binder_for<N, 2>()}...}};
}

// Binds f with bind_sized<N, D> for its own N and D.
void bind_function(py::module_& m, const ops::Function& f) {
  static constexpr auto binders = make_binders(std::make_index_sequence<kMostArguments + 1>());
  std::size_t defaults = 0;
  for (const ops::Arg& a : f.args) defaults += a.default_number.has_value() ? 1 : 0;
  NORMKIT_CHECK(f.args.size() <= kMostArguments && defaults <= kMostDefaults, f.name,
                ": more arguments or defaults than the binder takes");
  for (std::size_t k = f.args.size() - defaults; k < f.args.size(); ++k)
    NORMKIT_CHECK(f.args[k].default_number.has_value(), f.name, ": arguments with defaults must come last");
  binders[f.args.size()][defaults](m, f);
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

// eps and scale: a number or None.
std::optional<double> optional_number(const py::object& obj) {
  return obj.is_none() ? std::nullopt : std::optional<double>(obj.cast<double>());
}

py::tuple rms_norm_quant_forward_py(const py::object& x, const py::object& normalized_shape,
                                    const py::object& weight, const py::object& eps, const py::object& scale,
                                    double weight_offset) {
  const RMSNormQuantResult r = rms_norm_quant_forward(
      {required_view(x, "input", true), shape_argument(normalized_shape, "normalized_shape"),
       view_of(weight, "weight", false, true)},
      {.eps = optional_number(eps), .weight_offset = weight_offset}, optional_number(scale));
  const ResultKind kind = result_kind_of(x);
  return py::make_tuple(to_kind(r.q, kind), to_kind(r.scales, kind), to_kind(r.rstd, kind));
}

py::tuple layer_norm_quant_forward_py(const py::object& x, const py::object& normalized_shape,
                                      const py::object& weight, const py::object& bias, double eps,
                                      const py::object& scale) {
  const LayerNormQuantResult r = layer_norm_quant_forward(
      {required_view(x, "input", true), shape_argument(normalized_shape, "normalized_shape"),
       view_of(weight, "weight", false, true), view_of(bias, "bias", false, true)},
      {.eps = eps}, optional_number(scale));
  const ResultKind kind = result_kind_of(x);
  return py::make_tuple(to_kind(r.q, kind), to_kind(r.scales, kind), to_kind(r.mean, kind), to_kind(r.rstd, kind));
}

// Ghost BN and Batch Renorm in training, beyond DESIGN.md's functions (for
// normkit.torch's GhostBatchNorm and BatchRenorm modules): batch_norm's
// kernels with the options that select them.
py::tuple results(const std::vector<Tensor>& tensors, ResultKind kind) {
  py::tuple out(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) out[i] = to_kind(tensors[i], kind);
  return out;
}

py::tuple ghost_batch_norm_forward_py(const py::object& x, const py::object& weight, const py::object& bias,
                                      const py::object& running_mean, const py::object& running_var,
                                      std::int64_t virtual_batch_size, double momentum, double eps) {
  NORMKIT_CHECK(virtual_batch_size > 0, "virtual_batch_size: expected a positive int, got ", virtual_batch_size);
  BatchNormForwardResult r = batch_norm_forward(
      {required_view(x, "x", true), view_of(weight, "weight", false, true), view_of(bias, "bias", false, true),
       view_of(running_mean, "running_mean", true, true), view_of(running_var, "running_var", true, true)},
      {.training = true, .momentum = momentum, .eps = eps, .virtual_batch_size = virtual_batch_size});
  return results({r.y, r.save_mean, r.save_invstd}, result_kind_of(x));
}

py::tuple ghost_batch_norm_backward_py(const py::object& dy, const py::object& x, const py::object& weight,
                                       const py::object& save_mean, const py::object& save_invstd,
                                       std::int64_t virtual_batch_size, double eps) {
  BatchNormBackwardResult g = batch_norm_backward(
      {.dy = required_view(dy, "dy", true), .x = required_view(x, "x", true),
       .weight = view_of(weight, "weight", false, true), .save_mean = required_view(save_mean, "save_mean"),
       .save_invstd = required_view(save_invstd, "save_invstd")},
      {.training = true, .eps = eps, .virtual_batch_size = virtual_batch_size},
      {.weight = !weight.is_none()});
  return results({g.dx, g.dweight, g.dbias}, result_kind_of(dy));
}

py::tuple batch_renorm_forward_py(const py::object& x, const py::object& weight, const py::object& bias,
                                  const py::object& running_mean, const py::object& running_var, double rmax,
                                  double dmax, double momentum, double eps) {
  BatchNormForwardResult r = batch_norm_forward(
      {required_view(x, "x", true), view_of(weight, "weight", false, true), view_of(bias, "bias", false, true),
       view_of(running_mean, "running_mean", true, true), view_of(running_var, "running_var", true, true)},
      {.training = true, .momentum = momentum, .eps = eps, .renorm = BatchRenormLimits{rmax, dmax}});
  return results({r.y, r.save_mean, r.save_invstd, r.renorm_r, r.renorm_d}, result_kind_of(x));
}

py::tuple batch_renorm_backward_py(const py::object& dy, const py::object& x, const py::object& weight,
                                   const py::object& save_mean, const py::object& save_invstd, const py::object& r,
                                   const py::object& d, double eps) {
  BatchNormBackwardResult g = batch_norm_backward(
      {.dy = required_view(dy, "dy", true), .x = required_view(x, "x", true),
       .weight = view_of(weight, "weight", false, true), .save_mean = required_view(save_mean, "save_mean"),
       .save_invstd = required_view(save_invstd, "save_invstd"), .renorm_r = required_view(r, "r"),
       .renorm_d = required_view(d, "d")},
      {.training = true, .eps = eps, .renorm = BatchRenormLimits{}}, {.weight = !weight.is_none()});
  return results({g.dx, g.dweight, g.dbias}, result_kind_of(dy));
}

}  // namespace

void bind_functional(py::module_& m) {
  for (const ops::Op& op : ops::table()) {
    bind_function(m, op.forward);
    bind_function(m, op.backward);
  }
  m.def("fold_batch_norm", &fold_batch_norm_py, py::arg("weight"), py::arg("bias"),
        py::arg("running_mean"), py::arg("running_var"), py::arg("bn_weight"), py::arg("bn_bias"),
        py::arg("eps") = 1e-5, py::arg("layer") = "conv", py::arg("groups") = 1,
        "Folds an eval-mode BatchNorm into the preceding layer's weight and bias.\n"
        "layer: 'linear' (out, in), 'conv' (out, in/groups, *k) or 'conv_transpose'\n"
        "(in, out/groups, *k). Returns (weight, bias).");
  m.def("rms_norm_quant_forward", &rms_norm_quant_forward_py, py::arg("x"), py::arg("normalized_shape"),
        py::arg("weight"), py::arg("eps"), py::arg("scale") = py::none(), py::arg("weight_offset") = 0.0,
        "RMSNorm with an int8 output: q = clamp(round_half_even(y / scale), -128, 127), y never\n"
        "written. scale: a float (static; scales = [scale]) or None (per row: max|y| / 127).\n"
        "Returns (q, scales, rstd).");
  m.def("layer_norm_quant_forward", &layer_norm_quant_forward_py, py::arg("x"), py::arg("normalized_shape"),
        py::arg("weight"), py::arg("bias"), py::arg("eps"), py::arg("scale") = py::none(),
        "LayerNorm with an int8 output (as rms_norm_quant_forward). Returns (q, scales, mean, rstd).");
  m.def("ghost_batch_norm_forward", &ghost_batch_norm_forward_py, py::arg("x"), py::arg("weight"), py::arg("bias"),
        py::arg("running_mean"), py::arg("running_var"), py::arg("virtual_batch_size"), py::arg("momentum"),
        py::arg("eps"),
        "Ghost BN in training (Hoffer et al. 2017): each group of virtual_batch_size samples normalized\n"
        "with its own statistics; the running statistics (if given) move once, towards the groups' mean.\n"
        "Returns (y, save_mean, save_invstd), the statistics (N / virtual_batch_size, C).");
  m.def("ghost_batch_norm_backward", &ghost_batch_norm_backward_py, py::arg("dy"), py::arg("x"), py::arg("weight"),
        py::arg("save_mean"), py::arg("save_invstd"), py::arg("virtual_batch_size"), py::arg("eps"),
        "Ghost BN backward. Returns (dx, dweight, dbias).");
  m.def("batch_renorm_forward", &batch_renorm_forward_py, py::arg("x"), py::arg("weight"), py::arg("bias"),
        py::arg("running_mean"), py::arg("running_var"), py::arg("rmax"), py::arg("dmax"), py::arg("momentum"),
        py::arg("eps"),
        "Batch Renorm in training (Ioffe 2017): y = ((x - mean_B) / sigma_B * r + d) * weight + bias with\n"
        "r, d clipped by rmax, dmax against the running statistics (required; updated in place).\n"
        "Returns (y, save_mean, save_invstd, r, d).");
  m.def("batch_renorm_backward", &batch_renorm_backward_py, py::arg("dy"), py::arg("x"), py::arg("weight"),
        py::arg("save_mean"), py::arg("save_invstd"), py::arg("r"), py::arg("d"), py::arg("eps"),
        "Batch Renorm backward (r and d constants). Returns (dx, dweight, dbias).");
}

}  // namespace normkit::python
