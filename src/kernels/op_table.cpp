#include "op_table.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "normkit/adain.hpp"
#include "normkit/add_norm.hpp"
#include "normkit/dyt.hpp"
#include "normkit/error.hpp"
#include "normkit/group_norm.hpp"
#include "normkit/layer_norm.hpp"

namespace normkit::ops {
namespace {

// The arguments of one call, read by position with the kind the table gives.
struct Values {
  const std::vector<Value>& v;

  TensorView tensor(std::size_t i) const {
    return std::holds_alternative<TensorView>(v.at(i)) ? std::get<TensorView>(v[i]) : TensorView{};
  }
  bool none(std::size_t i) const { return std::holds_alternative<std::monostate>(v.at(i)); }
  const Shape& shape(std::size_t i) const { return std::get<Shape>(v.at(i)); }
  std::int64_t integer(std::size_t i) const { return std::get<std::int64_t>(v.at(i)); }
  double number(std::size_t i) const { return std::get<double>(v.at(i)); }
  std::optional<double> optional_number(std::size_t i) const {
    return none(i) ? std::nullopt : std::optional<double>(number(i));
  }
  bool flag(std::size_t i) const { return std::get<bool>(v.at(i)); }
};

// A call's results, moved into the vector (a braced list would copy each
// tensor, two atomic updates of its reference count apiece).
template <typename... T>
std::vector<Tensor> moved(T&... tensors) {
  std::vector<Tensor> out;
  out.reserve(sizeof...(T));
  (out.push_back(std::move(tensors)), ...);
  return out;
}

// Checks the values against a function's arguments: as many, each of its kind.
void check_values(const char* function, const std::vector<Arg>& args, const std::vector<Value>& values) {
  NORMKIT_CHECK(values.size() == args.size(), function, ": expected ", args.size(), " arguments, got ",
                values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const Value& v = values[i];
    bool ok = false;
    switch (args[i].kind) {
      case ArgKind::tensor: ok = std::holds_alternative<TensorView>(v); break;
      case ArgKind::optional_tensor:
      case ArgKind::updated_tensor:
        ok = std::holds_alternative<TensorView>(v) || std::holds_alternative<std::monostate>(v);
        break;
      case ArgKind::shape: ok = std::holds_alternative<Shape>(v); break;
      case ArgKind::integer: ok = std::holds_alternative<std::int64_t>(v); break;
      case ArgKind::number: ok = std::holds_alternative<double>(v); break;
      case ArgKind::optional_number:
        ok = std::holds_alternative<double>(v) || std::holds_alternative<std::monostate>(v);
        break;
      case ArgKind::flag: ok = std::holds_alternative<bool>(v); break;
    }
    NORMKIT_CHECK(ok, function, ": ", args[i].name, ": a value of another kind than the table's");
  }
}

// The function with its values checked against its arguments before each call.
Function checked(Function f) {
  f.call = [call = std::move(f.call), name = f.name, args = f.args](const std::vector<Value>& values, Impl impl) {
    check_values(name, args, values);
    return call(values, impl);
  };
  f.run = [run = std::move(f.run), name = f.name, args = f.args](const std::vector<Value>& values,
                                                                  const std::vector<TensorView>& out, Impl impl) {
    check_values(name, args, values);
    NORMKIT_CHECK(out.size() >= 1, name, ": out: expected a view per result");
    run(values, out, impl);
  };
  return f;
}

// The view at i, or undefined past the end.
TensorView at(const std::vector<TensorView>& out, std::size_t i) { return i < out.size() ? out[i] : TensorView{}; }

// AdaIN has only allocating forms: its run copies each wanted result into
// its view, once every view is known to fit (nothing is written otherwise).
void copy_results(const Function& f, const std::vector<Tensor>& results, const std::vector<TensorView>& out) {
  for (std::size_t i = 0; i < out.size() && i < results.size(); ++i)
    NORMKIT_CHECK(!out[i].defined() || (out[i].shape() == results[i].shape() && out[i].dtype() == DType::float32),
                  f.results[i].name, ": expected float32 of shape ", shape_string(results[i].shape()), ", got ",
                  dtype_name(out[i].dtype()), " of shape ", shape_string(out[i].shape()));
  for (std::size_t i = 0; i < out.size() && i < results.size(); ++i)
    if (out[i].defined()) copy_into(results[i], out[i]);
}

// ---- case arguments ----------------------------------------------------------

// A per-channel (or per-element) parameter: N(mean, 0.5), of `shape`.
TensorView parameter(std::vector<Tensor>& storage, const Shape& shape, std::uint64_t seed, float mean) {
  return layout_tensor(storage, shape, "contiguous", seed, mean, 0.5f);
}

// Positive running variances around 1.
TensorView running_var(std::vector<Tensor>& storage, std::int64_t C, std::uint64_t seed) {
  const TensorView v = parameter(storage, {C}, seed, 1.0f);
  float* p = storage.back().data<float>();
  for (std::int64_t i = 0; i < C; ++i) p[i] = std::fabs(p[i]) + 0.2f;
  return v;
}

Shape trailing(const Shape& shape, std::size_t dims) {
  return Shape(shape.end() - static_cast<std::ptrdiff_t>(dims), shape.end());
}

// The tensors every case draws: x of the case's shape in its layout
// (N(0.5, 1.7^2)), a weight around 1 and a bias around 0 of `param_shape`,
// running statistics (C), and dy like x. Each from its own seed.
struct CaseTensors {
  TensorView x, weight, bias, running_mean, running_var, dy;
};

CaseTensors case_tensors(std::vector<Tensor>& s, const OpCase& c, const Shape& param_shape) {
  const std::int64_t C = c.shape.size() >= 2 ? c.shape[1] : 1;
  return {.x = layout_tensor(s, c.shape, c.layout, c.seed, 0.5f, 1.7f, c.dtype),
          .weight = parameter(s, param_shape, c.seed + 1, 1.0f),
          .bias = parameter(s, param_shape, c.seed + 2, 0.0f),
          .running_mean = parameter(s, {C}, c.seed + 3, 0.2f),
          .running_var = running_var(s, C, c.seed + 4),
          .dy = layout_tensor(s, c.shape, c.layout, c.seed + 5, 0.0f, 1.0f, c.dtype)};
}

// The forward arguments of a norm with per-channel parameters and running
// statistics (batch_norm, instance_norm): x, weight, bias, running_mean,
// running_var, the flag that says when the running statistics are written,
// momentum, eps.
std::vector<Arg> running_stats_args(const char* x_about, const char* flag, const char* flag_about) {
  return {{"x", ArgKind::tensor, x_about},
          {"weight", ArgKind::optional_tensor, "(C,) or None"},
          {"bias", ArgKind::optional_tensor, "(C,) or None"},
          {.name = "running_mean", .kind = ArgKind::updated_tensor, .about = "(C,) or None", .updated_when = flag},
          {.name = "running_var", .kind = ArgKind::updated_tensor, .about = "(C,) or None", .updated_when = flag},
          {flag, ArgKind::flag, flag_about},
          {"momentum", ArgKind::number, "running = (1 - momentum) * running + momentum * batch"},
          {"eps", ArgKind::number, "added to the variance"}};
}

// RMSNorm's keyword: Gemma's 1 + weight is weight_offset=1.
Arg weight_offset_arg() {
  return {.name = "weight_offset",
          .kind = ArgKind::number,
          .about = "y = x * rstd * (weight_offset + weight); 0 by default",
          .default_number = 0.0};
}

// ---- the ops ---------------------------------------------------------------

Op batch_norm() {
  Op op{.name = "batch_norm",
        .title = "BatchNorm",
        .plan = "(1, N, C, S) contiguous, (1, N*S, C, 1) channels-last"};
  op.forward = checked({
      .name = "batch_norm_forward",
      .args = running_stats_args("(N, C, *spatial)", "training", "batch statistics (True) or running statistics"),
      .results = {{"y"}, {"save_mean"}, {"save_invstd"}},
      .doc = "Batch Normalization forward, as ATen's native_batch_norm.\n\n"
             "Running statistics are updated in place when training.\n"
             "Returns (y, save_mean, save_invstd); the last two are empty in eval mode.",
      .call = [](const std::vector<Value>& values, Impl impl) -> std::vector<Tensor> {
        const Values a{values};
        BatchNormForwardResult r = batch_norm_forward(
            {a.tensor(0), a.tensor(1), a.tensor(2), a.tensor(3), a.tensor(4)},
            {.training = a.flag(5), .momentum = a.number(6), .eps = a.number(7), .impl = impl});
        return moved(r.y, r.save_mean, r.save_invstd);
      },
      .run = [](const std::vector<Value>& values, const std::vector<TensorView>& out, Impl impl) {
        const Values a{values};
        batch_norm_forward({a.tensor(0), a.tensor(1), a.tensor(2), a.tensor(3), a.tensor(4)},
                           {.training = a.flag(5), .momentum = a.number(6), .eps = a.number(7), .impl = impl},
                           {at(out, 0), at(out, 1), at(out, 2)});
      }});
  op.backward = checked({
      .name = "batch_norm_backward",
      .args = {{"dy", ArgKind::tensor, "x's shape"},
               {"x", ArgKind::tensor, "(N, C, *spatial)"},
               {"weight", ArgKind::optional_tensor, "(C,) or None"},
               {"running_mean", ArgKind::optional_tensor, "(C,): used in eval mode"},
               {"running_var", ArgKind::optional_tensor, "(C,): used in eval mode"},
               {"save_mean", ArgKind::optional_tensor, "(C,): from the forward pass, in training"},
               {"save_invstd", ArgKind::optional_tensor, "(C,): from the forward pass, in training"},
               {"training", ArgKind::flag, "as in the forward pass"},
               {"eps", ArgKind::number, "as in the forward pass"}},
      .results = {{"dx"}, {"dweight", true}, {"dbias"}},
      .doc = "Batch Normalization backward, as ATen's native_batch_norm_backward.\n\n"
             "Returns (dx, dweight, dbias); dweight is None when weight is None.",
      .call = [](const std::vector<Value>& values, Impl impl) -> std::vector<Tensor> {
        const Values a{values};
        BatchNormBackwardResult r = batch_norm_backward(
            {.dy = a.tensor(0),
             .x = a.tensor(1),
             .weight = a.tensor(2),
             .running_mean = a.tensor(3),
             .running_var = a.tensor(4),
             .save_mean = a.tensor(5),
             .save_invstd = a.tensor(6)},
            {.training = a.flag(7), .eps = a.number(8), .impl = impl},
            {.input = true, .weight = a.tensor(2).defined(), .bias = true});
        return moved(r.dx, r.dweight, r.dbias);
      },
      .run = [](const std::vector<Value>& values, const std::vector<TensorView>& out, Impl impl) {
        const Values a{values};
        batch_norm_backward({.dy = a.tensor(0),
                             .x = a.tensor(1),
                             .weight = a.tensor(2),
                             .running_mean = a.tensor(3),
                             .running_var = a.tensor(4),
                             .save_mean = a.tensor(5),
                             .save_invstd = a.tensor(6)},
                            {.training = a.flag(7), .eps = a.number(8), .impl = impl},
                            {at(out, 0), at(out, 1), at(out, 2)});
      }});
  op.gradients = {"x", "weight", "bias"};
  op.arguments = [](const OpCase& c) {
    CaseArguments out;
    auto& s = out.storage;
    const bool training = c.mode != "eval";
    const CaseTensors t = case_tensors(s, c, {c.shape.at(1)});
    out.forward = {t.x, t.weight, t.bias, t.running_mean, t.running_var, training, 0.1, 1e-5};
    out.backward = [=](const std::vector<Tensor>& f) {
      const Value mean = training ? Value(f[1].view()) : Value(), invstd = training ? Value(f[2].view()) : Value();
      return std::vector<Value>{t.dy, t.x, t.weight, t.running_mean, t.running_var, mean, invstd, training, 1e-5};
    };
    return out;
  };
  return op;
}

// LayerNorm's and RMSNorm's normalized_shape in a case: the last dim.
constexpr std::size_t kRowDims = 1;

Op layer_norm() {
  Op op{.name = "layer_norm",
        .title = "LayerNorm",
        .plan = "one row per leading index: (rows, 1, 1, D), fused with the normalize pass"};
  op.forward = checked({
      .name = "layer_norm_forward",
      .args = {{.name = "x", .kind = ArgKind::tensor, .about = "(*, *normalized_shape)", .error_name = "input"},
               {"normalized_shape", ArgKind::shape, "x's trailing dims"},
               {"weight", ArgKind::optional_tensor, "normalized_shape, or None"},
               {"bias", ArgKind::optional_tensor, "normalized_shape, or None"},
               {"eps", ArgKind::number, "added to the variance"}},
      .results = {{"y"}, {"mean"}, {"rstd"}},
      .doc = "LayerNorm forward, as ATen's native_layer_norm.\n\n"
             "Returns (y, mean, rstd); mean and rstd have x's leading dims then a 1 per normalized dim.",
      .call = [](const std::vector<Value>& values, Impl impl) -> std::vector<Tensor> {
        const Values a{values};
        LayerNormForwardResult r =
            layer_norm_forward({a.tensor(0), a.shape(1), a.tensor(2), a.tensor(3)}, {.eps = a.number(4), .impl = impl});
        return moved(r.y, r.mean, r.rstd);
      },
      .run = [](const std::vector<Value>& values, const std::vector<TensorView>& out, Impl impl) {
        const Values a{values};
        layer_norm_forward({a.tensor(0), a.shape(1), a.tensor(2), a.tensor(3)}, {.eps = a.number(4), .impl = impl},
                           {at(out, 0), at(out, 1), at(out, 2)});
      }});
  op.backward = checked({
      .name = "layer_norm_backward",
      .args = {{"dy", ArgKind::tensor, "x's shape"},
               {.name = "x", .kind = ArgKind::tensor, .about = "(*, *normalized_shape)", .error_name = "input"},
               {"normalized_shape", ArgKind::shape, "as in the forward pass"},
               {"mean", ArgKind::tensor, "from the forward pass"},
               {"rstd", ArgKind::tensor, "from the forward pass"},
               {"weight", ArgKind::optional_tensor, "normalized_shape, or None"},
               {"bias", ArgKind::optional_tensor, "normalized_shape, or None: whether dbias is wanted"}},
      .results = {{"dx"}, {"dweight", true}, {"dbias", true}},
      .doc = "LayerNorm backward. Returns (dx, dweight, dbias); dweight is None when weight is None,\n"
             "dbias None when bias is None.",
      .call = [](const std::vector<Value>& values, Impl impl) -> std::vector<Tensor> {
        const Values a{values};
        LayerNormBackwardResult r = layer_norm_backward(
            {.dy = a.tensor(0), .x = a.tensor(1), .normalized_shape = a.shape(2), .mean = a.tensor(3),
             .rstd = a.tensor(4), .weight = a.tensor(5)},
            {.impl = impl}, a.tensor(5).defined(), a.tensor(6).defined());
        return moved(r.dx, r.dweight, r.dbias);
      },
      .run = [](const std::vector<Value>& values, const std::vector<TensorView>& out, Impl impl) {
        const Values a{values};
        layer_norm_backward({.dy = a.tensor(0), .x = a.tensor(1), .normalized_shape = a.shape(2), .mean = a.tensor(3),
                             .rstd = a.tensor(4), .weight = a.tensor(5)},
                            {.impl = impl}, {at(out, 0), at(out, 1), at(out, 2)});
      }});
  op.gradients = {"x", "weight", "bias"};
  op.arguments = [](const OpCase& c) {
    CaseArguments out;
    auto& s = out.storage;
    const Shape ns = trailing(c.shape, kRowDims);
    const CaseTensors t = case_tensors(s, c, ns);
    out.forward = {t.x, ns, t.weight, t.bias, 1e-5};
    out.backward = [=](const std::vector<Tensor>& f) {
      return std::vector<Value>{t.dy, t.x, ns, f[1].view(), f[2].view(), t.weight, t.bias};
    };
    return out;
  };
  return op;
}

Op rms_norm() {
  Op op{.name = "rms_norm", .title = "RMSNorm", .plan = "as layer_norm, the mean of squares and no centre"};
  op.forward = checked({
      .name = "rms_norm_forward",
      .args = {{.name = "x", .kind = ArgKind::tensor, .about = "(*, *normalized_shape)", .error_name = "input"},
               {"normalized_shape", ArgKind::shape, "x's trailing dims"},
               {"weight", ArgKind::optional_tensor, "normalized_shape, or None"},
               {"eps", ArgKind::optional_number, "added to the mean of squares; None: float32's epsilon"},
               weight_offset_arg()},
      .results = {{"y"}, {"rstd"}},
      .doc = "RMSNorm forward: y = x * rsqrt(mean(x^2) + eps) * (weight_offset + weight). eps None\n"
             "means float32's machine epsilon, as torch.nn.RMSNorm. Returns (y, rstd).",
      .call = [](const std::vector<Value>& values, Impl impl) -> std::vector<Tensor> {
        const Values a{values};
        RMSNormForwardResult r = rms_norm_forward(
            {a.tensor(0), a.shape(1), a.tensor(2)},
            {.eps = a.optional_number(3), .impl = impl, .weight_offset = a.number(4)});
        return moved(r.y, r.rstd);
      },
      .run = [](const std::vector<Value>& values, const std::vector<TensorView>& out, Impl impl) {
        const Values a{values};
        rms_norm_forward({a.tensor(0), a.shape(1), a.tensor(2)},
                         {.eps = a.optional_number(3), .impl = impl, .weight_offset = a.number(4)},
                         {at(out, 0), at(out, 1)});
      }});
  op.backward = checked({
      .name = "rms_norm_backward",
      .args = {{"dy", ArgKind::tensor, "x's shape"},
               {.name = "x", .kind = ArgKind::tensor, .about = "(*, *normalized_shape)", .error_name = "input"},
               {"normalized_shape", ArgKind::shape, "as in the forward pass"},
               {"rstd", ArgKind::tensor, "from the forward pass"},
               {"weight", ArgKind::optional_tensor, "normalized_shape, or None"},
               weight_offset_arg()},
      .results = {{"dx"}, {"dweight", true}},
      .doc = "RMSNorm backward. Returns (dx, dweight); dweight is None when weight is None.",
      .call = [](const std::vector<Value>& values, Impl impl) -> std::vector<Tensor> {
        const Values a{values};
        RMSNormBackwardResult r = rms_norm_backward(
            {.dy = a.tensor(0), .x = a.tensor(1), .normalized_shape = a.shape(2), .rstd = a.tensor(3),
             .weight = a.tensor(4)},
            {.impl = impl, .weight_offset = a.number(5)});
        return moved(r.dx, r.dweight);
      },
      .run = [](const std::vector<Value>& values, const std::vector<TensorView>& out, Impl impl) {
        const Values a{values};
        rms_norm_backward({.dy = a.tensor(0), .x = a.tensor(1), .normalized_shape = a.shape(2), .rstd = a.tensor(3),
                           .weight = a.tensor(4)},
                          {.impl = impl, .weight_offset = a.number(5)}, {at(out, 0), at(out, 1)});
      }});
  op.gradients = {"x", "weight"};
  op.arguments = [](const OpCase& c) {
    CaseArguments out;
    auto& s = out.storage;
    const Shape ns = trailing(c.shape, kRowDims);
    const CaseTensors t = case_tensors(s, c, ns);
    out.forward = {t.x, ns, t.weight, 1e-6, 0.0};
    out.backward = [=](const std::vector<Tensor>& f) {
      return std::vector<Value>{t.dy, t.x, ns, f[1].view(), t.weight, 0.0};
    };
    return out;
  };
  return op;
}

// The fused residual add + norm ops' case: x, and a residual and a
// dresidual_out like it; odd seeds give add_rms_norm Gemma's offset.
struct AddNormCase {
  CaseTensors t;
  TensorView residual, dresidual_out;
  Shape normalized_shape;
};
AddNormCase add_norm_case(std::vector<Tensor>& s, const OpCase& c) {
  const Shape ns = trailing(c.shape, kRowDims);
  const CaseTensors t = case_tensors(s, c, ns);
  return {t, layout_tensor(s, c.shape, c.layout, c.seed + 6, -0.3f, 1.1f, c.dtype),
          layout_tensor(s, c.shape, c.layout, c.seed + 7, 0.0f, 1.0f, c.dtype), ns};
}

Op add_rms_norm() {
  Op op{.name = "add_rms_norm",
        .title = "Add+RMSNorm",
        .plan = "as rms_norm, each row of x + residual stored and normalized while in cache"};
  op.forward = checked({
      .name = "add_rms_norm_forward",
      .args = {{"x", ArgKind::tensor, "(*, *normalized_shape)"},
               {"residual", ArgKind::tensor, "x's shape; float32 or x's dtype"},
               {"normalized_shape", ArgKind::shape, "x's trailing dims"},
               {"weight", ArgKind::optional_tensor, "normalized_shape, or None"},
               {"eps", ArgKind::optional_number, "added to the mean of squares; None: float32's epsilon"},
               weight_offset_arg()},
      .results = {{"y"}, {"residual_out"}, {"rstd"}},
      .doc = "The residual add fused with RMSNorm: residual_out = x + residual (summed in float32,\n"
             "stored in residual's dtype), y = RMSNorm(residual_out). Returns (y, residual_out, rstd).",
      .call = [](const std::vector<Value>& values, Impl impl) -> std::vector<Tensor> {
        const Values a{values};
        AddRMSNormForwardResult r =
            add_rms_norm_forward({.x = a.tensor(0), .residual = a.tensor(1), .normalized_shape = a.shape(2),
                                  .weight = a.tensor(3)},
                                 {.eps = a.optional_number(4), .impl = impl, .weight_offset = a.number(5)});
        return moved(r.y, r.residual_out, r.rstd);
      },
      .run = [](const std::vector<Value>& values, const std::vector<TensorView>& out, Impl impl) {
        const Values a{values};
        add_rms_norm_forward({.x = a.tensor(0), .residual = a.tensor(1), .normalized_shape = a.shape(2),
                              .weight = a.tensor(3)},
                             {.eps = a.optional_number(4), .impl = impl, .weight_offset = a.number(5)},
                             {at(out, 0), at(out, 1), at(out, 2)});
      }});
  op.backward = checked({
      .name = "add_rms_norm_backward",
      .args = {{"dy", ArgKind::tensor, "x's shape"},
               {"dresidual_out", ArgKind::optional_tensor, "residual_out's gradient, or None"},
               {"residual_out", ArgKind::tensor, "from the forward pass"},
               {"normalized_shape", ArgKind::shape, "as in the forward pass"},
               {"rstd", ArgKind::tensor, "from the forward pass"},
               {"weight", ArgKind::optional_tensor, "normalized_shape, or None"},
               weight_offset_arg()},
      .results = {{"dsum"}, {"dweight", true}},
      .doc = "Backward of add_rms_norm_forward: dsum (the gradient of both x and residual) and\n"
             "dweight (None when weight is None).",
      .call = [](const std::vector<Value>& values, Impl impl) -> std::vector<Tensor> {
        const Values a{values};
        AddNormBackwardResult r = add_rms_norm_backward(
            {.dy = a.tensor(0), .dresidual_out = a.tensor(1), .residual_out = a.tensor(2),
             .normalized_shape = a.shape(3), .rstd = a.tensor(4), .weight = a.tensor(5)},
            {.impl = impl, .weight_offset = a.number(6)});
        return moved(r.dsum, r.dweight);
      },
      .run = [](const std::vector<Value>& values, const std::vector<TensorView>& out, Impl impl) {
        const Values a{values};
        add_rms_norm_backward({.dy = a.tensor(0), .dresidual_out = a.tensor(1), .residual_out = a.tensor(2),
                               .normalized_shape = a.shape(3), .rstd = a.tensor(4), .weight = a.tensor(5)},
                              {.impl = impl, .weight_offset = a.number(6)}, {at(out, 0), at(out, 1), {}});
      }});
  op.gradients = {"x", "weight"};
  op.arguments = [](const OpCase& c) {
    CaseArguments out;
    const AddNormCase a = add_norm_case(out.storage, c);
    const double offset = c.seed % 2 == 1 ? 1.0 : 0.0;
    out.forward = {a.t.x, a.residual, a.normalized_shape, a.t.weight, 1e-6, offset};
    out.backward = [=](const std::vector<Tensor>& f) {
      return std::vector<Value>{a.t.dy, a.dresidual_out, f[1].view(), a.normalized_shape, f[2].view(), a.t.weight,
                                offset};
    };
    return out;
  };
  return op;
}

Op add_layer_norm() {
  Op op{.name = "add_layer_norm",
        .title = "Add+LayerNorm",
        .plan = "as layer_norm, each row of x + residual stored and normalized while in cache"};
  op.forward = checked({
      .name = "add_layer_norm_forward",
      .args = {{"x", ArgKind::tensor, "(*, *normalized_shape)"},
               {"residual", ArgKind::tensor, "x's shape; float32 or x's dtype"},
               {"normalized_shape", ArgKind::shape, "x's trailing dims"},
               {"weight", ArgKind::optional_tensor, "normalized_shape, or None"},
               {"bias", ArgKind::optional_tensor, "normalized_shape, or None"},
               {"eps", ArgKind::number, "added to the variance"}},
      .results = {{"y"}, {"residual_out"}, {"mean"}, {"rstd"}},
      .doc = "The residual add fused with LayerNorm: residual_out = x + residual (summed in float32,\n"
             "stored in residual's dtype), y = LayerNorm(residual_out). Returns (y, residual_out, mean, rstd).",
      .call = [](const std::vector<Value>& values, Impl impl) -> std::vector<Tensor> {
        const Values a{values};
        AddLayerNormForwardResult r = add_layer_norm_forward(
            {.x = a.tensor(0), .residual = a.tensor(1), .normalized_shape = a.shape(2), .weight = a.tensor(3),
             .bias = a.tensor(4)},
            {.eps = a.number(5), .impl = impl});
        return moved(r.y, r.residual_out, r.mean, r.rstd);
      },
      .run = [](const std::vector<Value>& values, const std::vector<TensorView>& out, Impl impl) {
        const Values a{values};
        add_layer_norm_forward({.x = a.tensor(0), .residual = a.tensor(1), .normalized_shape = a.shape(2),
                                .weight = a.tensor(3), .bias = a.tensor(4)},
                               {.eps = a.number(5), .impl = impl}, {at(out, 0), at(out, 1), at(out, 2), at(out, 3)});
      }});
  op.backward = checked({
      .name = "add_layer_norm_backward",
      .args = {{"dy", ArgKind::tensor, "x's shape"},
               {"dresidual_out", ArgKind::optional_tensor, "residual_out's gradient, or None"},
               {"residual_out", ArgKind::tensor, "from the forward pass"},
               {"normalized_shape", ArgKind::shape, "as in the forward pass"},
               {"mean", ArgKind::tensor, "from the forward pass"},
               {"rstd", ArgKind::tensor, "from the forward pass"},
               {"weight", ArgKind::optional_tensor, "normalized_shape, or None"},
               {"bias", ArgKind::optional_tensor, "normalized_shape, or None: whether dbias is wanted"}},
      .results = {{"dsum"}, {"dweight", true}, {"dbias", true}},
      .doc = "Backward of add_layer_norm_forward: dsum (the gradient of both x and residual), dweight\n"
             "and dbias (None when weight, bias is None).",
      .call = [](const std::vector<Value>& values, Impl impl) -> std::vector<Tensor> {
        const Values a{values};
        AddNormBackwardResult r = add_layer_norm_backward(
            {.dy = a.tensor(0), .dresidual_out = a.tensor(1), .residual_out = a.tensor(2),
             .normalized_shape = a.shape(3), .mean = a.tensor(4), .rstd = a.tensor(5), .weight = a.tensor(6)},
            {.impl = impl}, a.tensor(7).defined());
        return moved(r.dsum, r.dweight, r.dbias);
      },
      .run = [](const std::vector<Value>& values, const std::vector<TensorView>& out, Impl impl) {
        const Values a{values};
        add_layer_norm_backward({.dy = a.tensor(0), .dresidual_out = a.tensor(1), .residual_out = a.tensor(2),
                                 .normalized_shape = a.shape(3), .mean = a.tensor(4), .rstd = a.tensor(5),
                                 .weight = a.tensor(6)},
                                {.impl = impl}, {at(out, 0), at(out, 1), at(out, 2)});
      }});
  op.gradients = {"x", "weight", "bias"};
  op.arguments = [](const OpCase& c) {
    CaseArguments out;
    const AddNormCase a = add_norm_case(out.storage, c);
    out.forward = {a.t.x, a.residual, a.normalized_shape, a.t.weight, a.t.bias, 1e-5};
    out.backward = [=](const std::vector<Tensor>& f) {
      return std::vector<Value>{a.t.dy, a.dresidual_out, f[1].view(), a.normalized_shape, f[2].view(), f[3].view(),
                                a.t.weight, a.t.bias};
    };
    return out;
  };
  return op;
}

Op group_norm() {
  Op op{.name = "group_norm",
        .title = "GroupNorm",
        .plan = "(N, 1, C, S) contiguous or (N, S, C, 1) channels-last per channel, then a fixed tree over each "
                "group's channels"};
  op.forward = checked({
      .name = "group_norm_forward",
      .args = {{"x", ArgKind::tensor, "(N, C, *spatial)"},
               {"weight", ArgKind::optional_tensor, "(C,) or None"},
               {"bias", ArgKind::optional_tensor, "(C,) or None"},
               {"num_groups", ArgKind::integer, "G, a divisor of C"},
               {"eps", ArgKind::number, "added to the variance"}},
      .results = {{"y"}, {"mean"}, {"rstd"}},
      .doc = "GroupNorm forward, as ATen's native_group_norm. Returns (y, mean, rstd), mean and rstd (N, G).",
      .call = [](const std::vector<Value>& values, Impl impl) -> std::vector<Tensor> {
        const Values a{values};
        GroupNormForwardResult r = group_norm_forward({a.tensor(0), a.tensor(1), a.tensor(2)},
                                                      {.num_groups = a.integer(3), .eps = a.number(4), .impl = impl});
        return moved(r.y, r.mean, r.rstd);
      },
      .run = [](const std::vector<Value>& values, const std::vector<TensorView>& out, Impl impl) {
        const Values a{values};
        group_norm_forward({a.tensor(0), a.tensor(1), a.tensor(2)},
                           {.num_groups = a.integer(3), .eps = a.number(4), .impl = impl},
                           {at(out, 0), at(out, 1), at(out, 2)});
      }});
  op.backward = checked({
      .name = "group_norm_backward",
      .args = {{"dy", ArgKind::tensor, "x's shape"},
               {"x", ArgKind::tensor, "(N, C, *spatial)"},
               {"mean", ArgKind::tensor, "(N, G): from the forward pass"},
               {"rstd", ArgKind::tensor, "(N, G): from the forward pass"},
               {"weight", ArgKind::optional_tensor, "(C,) or None"},
               {"num_groups", ArgKind::integer, "as in the forward pass"}},
      .results = {{"dx"}, {"dweight", true}, {"dbias"}},
      .doc = "GroupNorm backward. Returns (dx, dweight, dbias); dweight is None when weight is None.",
      .call = [](const std::vector<Value>& values, Impl impl) -> std::vector<Tensor> {
        const Values a{values};
        GroupNormBackwardResult r = group_norm_backward(
            {.dy = a.tensor(0), .x = a.tensor(1), .mean = a.tensor(2), .rstd = a.tensor(3), .weight = a.tensor(4)},
            {.num_groups = a.integer(5), .impl = impl});
        return moved(r.dx, r.dweight, r.dbias);
      },
      .run = [](const std::vector<Value>& values, const std::vector<TensorView>& out, Impl impl) {
        const Values a{values};
        group_norm_backward(
            {.dy = a.tensor(0), .x = a.tensor(1), .mean = a.tensor(2), .rstd = a.tensor(3), .weight = a.tensor(4)},
            {.num_groups = a.integer(5), .impl = impl}, {at(out, 0), at(out, 1), at(out, 2)});
      }});
  op.gradients = {"x", "weight", "bias"};
  op.arguments = [](const OpCase& c) {
    CaseArguments out;
    auto& s = out.storage;
    const std::int64_t G = c.groups > 0 ? c.groups : 1;
    const CaseTensors t = case_tensors(s, c, {c.shape.at(1)});
    out.forward = {t.x, t.weight, t.bias, G, 1e-5};
    out.backward = [=](const std::vector<Tensor>& f) {
      return std::vector<Value>{t.dy, t.x, f[1].view(), f[2].view(), t.weight, G};
    };
    return out;
  };
  return op;
}

Op instance_norm() {
  Op op{.name = "instance_norm",
        .title = "InstanceNorm",
        .plan = "group_norm's with G = C: statistics per (n, c)"};
  op.forward = checked({
      .name = "instance_norm_forward",
      .args = running_stats_args("(N, C, *spatial), a spatial dim at least", "use_input_stats",
                                 "each instance's statistics (True) or the running ones"),
      .results = {{"y"}, {"mean"}, {"rstd"}},
      .doc = "InstanceNorm forward, as torch.nn.functional.instance_norm. Returns (y, mean, rstd), (N, C):\n"
             "the statistics used. With use_input_stats the running statistics (if given) are updated\n"
             "in place; without, they normalize.",
      .call = [](const std::vector<Value>& values, Impl impl) -> std::vector<Tensor> {
        const Values a{values};
        InstanceNormForwardResult r = instance_norm_forward(
            {a.tensor(0), a.tensor(1), a.tensor(2), a.tensor(3), a.tensor(4)},
            {.use_input_stats = a.flag(5), .momentum = a.number(6), .eps = a.number(7), .impl = impl});
        return moved(r.y, r.mean, r.rstd);
      },
      .run = [](const std::vector<Value>& values, const std::vector<TensorView>& out, Impl impl) {
        const Values a{values};
        instance_norm_forward({a.tensor(0), a.tensor(1), a.tensor(2), a.tensor(3), a.tensor(4)},
                              {.use_input_stats = a.flag(5), .momentum = a.number(6), .eps = a.number(7), .impl = impl},
                              {at(out, 0), at(out, 1), at(out, 2)});
      }});
  op.backward = checked({
      .name = "instance_norm_backward",
      .args = {{"dy", ArgKind::tensor, "x's shape"},
               {"x", ArgKind::tensor, "(N, C, *spatial)"},
               {"weight", ArgKind::optional_tensor, "(C,) or None"},
               {"mean", ArgKind::tensor, "(N, C): from the forward pass"},
               {"rstd", ArgKind::tensor, "(N, C): from the forward pass"}},
      .results = {{"dx"}, {"dweight", true}, {"dbias"}},
      .doc = "InstanceNorm backward for instance statistics (use_input_stats=True).\n"
             "Returns (dx, dweight, dbias); dweight is None when weight is None.",
      .call = [](const std::vector<Value>& values, Impl impl) -> std::vector<Tensor> {
        const Values a{values};
        GroupNormBackwardResult r = instance_norm_backward(
            {.dy = a.tensor(0), .x = a.tensor(1), .weight = a.tensor(2), .mean = a.tensor(3), .rstd = a.tensor(4)},
            {.impl = impl});
        return moved(r.dx, r.dweight, r.dbias);
      },
      .run = [](const std::vector<Value>& values, const std::vector<TensorView>& out, Impl impl) {
        const Values a{values};
        instance_norm_backward(
            {.dy = a.tensor(0), .x = a.tensor(1), .weight = a.tensor(2), .mean = a.tensor(3), .rstd = a.tensor(4)},
            {.impl = impl}, {at(out, 0), at(out, 1), at(out, 2)});
      }});
  op.gradients = {"x", "weight", "bias"};
  op.arguments = [](const OpCase& c) {
    CaseArguments out;
    auto& s = out.storage;
    const bool input_stats = c.mode != "eval";
    const CaseTensors t = case_tensors(s, c, {c.shape.at(1)});
    out.forward = {t.x, t.weight, t.bias, t.running_mean, t.running_var, input_stats, 0.1, 1e-5};
    out.backward = [=](const std::vector<Tensor>& f) {
      return std::vector<Value>{t.dy, t.x, t.weight, f[1].view(), f[2].view()};
    };
    return out;
  };
  return op;
}

Op adain() {
  Op op{.name = "adain", .title = "AdaIN", .plan = "instance_norm's statistics of content and of style, per (n, c)"};
  op.forward = checked({
      .name = "adain_forward",
      .args = {{"content", ArgKind::tensor, "(N, C, *spatial)"},
               {"style", ArgKind::tensor, "(N, C, *spatial'), its own spatial size"},
               {.name = "eps", .kind = ArgKind::number, .about = "added to the variances", .default_number = 1e-5}},
      .results = {{"y"}, {"content_mean"}, {"content_rstd"}, {"style_mean"}, {"style_rstd"}},
      .doc = "AdaIN: y = sigma_style * (content - mu_content) / sigma_content + mu_style, per (n, c).\n"
             "Returns (y, content_mean, content_rstd, style_mean, style_rstd).",
      .call = [](const std::vector<Value>& values, Impl impl) -> std::vector<Tensor> {
        const Values a{values};
        AdaINForwardResult r = adain_forward(a.tensor(0), a.tensor(1), {.eps = a.number(2), .impl = impl});
        return moved(r.y, r.stats.content_mean, r.stats.content_rstd, r.stats.style_mean, r.stats.style_rstd);
      },
      .run = [](const std::vector<Value>& values, const std::vector<TensorView>& out, Impl impl) {
        const Function& f = ops::op("adain").forward;
        copy_results(f, f.call(values, impl), out);
      }});
  op.backward = checked({
      .name = "adain_backward",
      .args = {{"dy", ArgKind::tensor, "content's shape"},
               {"content", ArgKind::tensor, "(N, C, *spatial)"},
               {"style", ArgKind::tensor, "(N, C, *spatial')"},
               {"content_mean", ArgKind::tensor, "(N, C): from the forward pass"},
               {"content_rstd", ArgKind::tensor, "(N, C): from the forward pass"},
               {"style_mean", ArgKind::tensor, "(N, C): from the forward pass"},
               {"style_rstd", ArgKind::tensor, "(N, C): from the forward pass"},
               {.name = "eps", .kind = ArgKind::number, .about = "as in the forward pass", .default_number = 1e-5}},
      .results = {{"dcontent"}, {"dstyle"}},
      .doc = "AdaIN backward. Returns (dcontent, dstyle).",
      .call = [](const std::vector<Value>& values, Impl impl) -> std::vector<Tensor> {
        const Values a{values};
        const auto copy = [&](std::size_t i, const char* name) {
          NORMKIT_CHECK(a.tensor(i).defined(), name, ": expected a tensor, got None");
          return Tensor::copy_of(a.tensor(i));
        };
        const AdaINStats stats{copy(3, "content_mean"), copy(4, "content_rstd"), copy(5, "style_mean"),
                               copy(6, "style_rstd")};
        AdaINBackwardResult r = adain_backward(a.tensor(0), a.tensor(1), a.tensor(2), stats,
                                               {.eps = a.number(7), .impl = impl});
        return moved(r.dcontent, r.dstyle);
      },
      .run = [](const std::vector<Value>& values, const std::vector<TensorView>& out, Impl impl) {
        const Function& f = ops::op("adain").backward;
        copy_results(f, f.call(values, impl), out);
      }});
  op.gradients = {"content", "style"};
  op.arguments = [](const OpCase& c) {
    CaseArguments out;
    auto& s = out.storage;
    // The style: content's (N, C) with spatial dims one larger each.
    Shape style_shape = c.shape;
    for (std::size_t d = 2; d < style_shape.size(); ++d) style_shape[d] += 1;
    const TensorView content = layout_tensor(s, c.shape, c.layout, c.seed, 0.5f, 1.7f, c.dtype);
    const TensorView style = layout_tensor(s, style_shape, "contiguous", c.seed + 1, -1.0f, 0.6f, c.dtype);
    const TensorView dy = layout_tensor(s, c.shape, c.layout, c.seed + 5, 0.0f, 1.0f, c.dtype);
    out.forward = {content, style, 1e-5};
    out.backward = [=](const std::vector<Tensor>& f) {
      return std::vector<Value>{dy, content, style, f[1].view(), f[2].view(), f[3].view(), f[4].view(), 1e-5};
    };
    return out;
  };
  return op;
}

// DyT: alpha a scalar around 0.5 (the paper's initial value), weight and
// bias per feature of the last dim.
Op dyt() {
  Op op{.name = "dyt", .title = "DyT", .plan = "none: elementwise, dalpha over every element, dweight and dbias per feature in blocks of 64 rows"};
  op.forward = checked({
      .name = "dyt_forward",
      .args = {{"x", ArgKind::tensor, "(*, C)"},
               {"alpha", ArgKind::tensor, "(1,) or (): the learned scalar"},
               {"weight", ArgKind::optional_tensor, "(C,) or None"},
               {"bias", ArgKind::optional_tensor, "(C,) or None"}},
      .results = {{"y"}},
      .doc = "DyT (Dynamic Tanh) forward: y = weight * tanh(alpha * x) + bias over x's last dim.\n"
             "Returns y.",
      .call = [](const std::vector<Value>& values, Impl impl) -> std::vector<Tensor> {
        const Values a{values};
        return {dyt_forward({a.tensor(0), a.tensor(1), a.tensor(2), a.tensor(3)}, {.impl = impl})};
      },
      .run = [](const std::vector<Value>& values, const std::vector<TensorView>& out, Impl impl) {
        const Values a{values};
        dyt_forward({a.tensor(0), a.tensor(1), a.tensor(2), a.tensor(3)}, {.impl = impl}, at(out, 0));
      }});
  op.backward = checked({
      .name = "dyt_backward",
      .args = {{"dy", ArgKind::tensor, "x's shape"},
               {"x", ArgKind::tensor, "(*, C)"},
               {"alpha", ArgKind::tensor, "(1,) or ()"},
               {"weight", ArgKind::optional_tensor, "(C,) or None"}},
      .results = {{"dx"}, {"dalpha"}, {"dweight", true}, {"dbias"}},
      .doc = "DyT backward. Returns (dx, dalpha, dweight, dbias); dweight is None when weight is None.",
      .call = [](const std::vector<Value>& values, Impl impl) -> std::vector<Tensor> {
        const Values a{values};
        DyTBackwardResult r = dyt_backward({a.tensor(0), a.tensor(1), a.tensor(2), a.tensor(3)}, {.impl = impl});
        return moved(r.dx, r.dalpha, r.dweight, r.dbias);
      },
      .run = [](const std::vector<Value>& values, const std::vector<TensorView>& out, Impl impl) {
        const Values a{values};
        dyt_backward({a.tensor(0), a.tensor(1), a.tensor(2), a.tensor(3)}, {.impl = impl},
                     {at(out, 0), at(out, 1), at(out, 2), at(out, 3)});
      }});
  op.gradients = {"x", "alpha", "weight", "bias"};
  op.arguments = [](const OpCase& c) {
    CaseArguments out;
    auto& s = out.storage;
    const Shape features = trailing(c.shape, 1);
    const CaseTensors t = case_tensors(s, c, features);
    const TensorView alpha = parameter(s, {1}, c.seed + 6, 0.5f);
    out.forward = {t.x, alpha, t.weight, t.bias};
    out.backward = [=](const std::vector<Tensor>&) { return std::vector<Value>{t.dy, t.x, alpha, t.weight}; };
    return out;
  };
  return op;
}

}  // namespace

std::size_t Function::index_of(const std::string& arg) const {
  for (std::size_t i = 0; i < args.size(); ++i)
    if (arg == args[i].name) return i;
  detail::throw_error(name, ": no argument named '", arg, "'");
}

const std::vector<Op>& table() {
  static const std::vector<Op> ops{batch_norm(),    layer_norm(),    rms_norm(),     group_norm(),
                                   instance_norm(), adain(),         add_rms_norm(), add_layer_norm(),
                                   dyt()};
  return ops;
}

const Op& op(const std::string& name) {
  std::string known;
  for (const Op& o : table()) {
    if (name == o.name) return o;
    known += (known.empty() ? "" : ", ") + std::string(o.name);
  }
  detail::throw_error("op: expected one of ", known, ", got '", name, "'");
}

TensorView layout_tensor(std::vector<Tensor>& storage, const Shape& shape, const std::string& layout,
                         std::uint64_t seed, float mean, float stddev, DType dtype) {
  const std::size_t rank = shape.size();
  Shape stored = shape;
  Strides strides;
  if (layout == "channels_last" && rank >= 3) {
    storage.emplace_back(shape, dtype, MemoryFormat::channels_last);
    strides = storage.back().view().strides();
  } else if (layout == "permuted" && rank >= 2) {  // memory order (C, N, ...)
    std::swap(stored[0], stored[1]);
    storage.emplace_back(stored, dtype);
    strides = contiguous_strides(stored);
    std::swap(strides[0], strides[1]);
  } else if (layout == "strided" && rank >= 1) {  // every other element of the last dim
    stored.back() *= 2;
    storage.emplace_back(stored, dtype);
    strides = contiguous_strides(stored);
    strides.back() = 2;
  } else {
    NORMKIT_CHECK(layout == "contiguous" || layout == "channels_last" || layout == "permuted" || layout == "strided",
                  "layout: expected contiguous, channels_last, permuted or strided, got '", layout, "'");
    storage.emplace_back(stored, dtype);
    strides = contiguous_strides(stored);
  }
  Tensor& t = storage.back();
  const TensorView view(t.view().raw(), shape, strides, dtype);
  // Logical C order: the same values in every layout for the same seed.
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(mean, stddev);
  Tensor logical(shape);
  for (std::int64_t i = 0; i < logical.numel(); ++i) logical.data<float>()[i] = dist(rng);
  copy_into(logical, view);
  return view;
}

}  // namespace normkit::ops
