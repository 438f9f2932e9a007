// The nn modules: a Module base with train()/eval(), state dicts and the
// parameters and buffers as live NumPy views; forward/backward per module.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>

#include "numpy_views.hpp"

namespace normkit::python {
namespace {

// A read-only property giving the named parameter's value (or buffer) as a
// live view, or None.
template <typename Class>
void tensor_property(Class& cls, const char* name, const char* key, const char* doc, bool grad = false) {
  cls.def_property_readonly(name, [key, grad](py::object self) -> py::object {
    auto& mod = self.cast<nn::Module&>();
    if (grad) {
      nn::Parameter* p = mod.find_parameter(key);
      return tensor_array(p != nullptr ? &p->grad : nullptr, self);
    }
    return tensor_array(mod.find_tensor(key), self);
  }, doc);
}

nn::BatchNormModuleOptions batch_norm_options(double eps, std::optional<double> momentum, bool affine,
                                              bool track_running_stats, bool unbiased_running_var,
                                              std::int64_t virtual_batch_size,
                                              std::optional<nn::BatchRenormSchedule> renorm) {
  return {eps, momentum, affine, track_running_stats, unbiased_running_var, virtual_batch_size, renorm};
}

template <typename Module>
void bind_batch_norm(py::module_& m, const char* name, const char* doc) {
  py::class_<Module, nn::BatchNorm>(m, name, doc)
      .def(py::init([](std::int64_t num_features, double eps, std::optional<double> momentum, bool affine,
                       bool track_running_stats, bool unbiased_running_var, std::int64_t virtual_batch_size,
                       std::optional<nn::BatchRenormSchedule> renorm) {
             return std::make_unique<Module>(
                 num_features, batch_norm_options(eps, momentum, affine, track_running_stats,
                                                  unbiased_running_var, virtual_batch_size, renorm));
           }),
           py::arg("num_features"), py::arg("eps") = 1e-5, py::arg("momentum") = 0.1,
           py::arg("affine") = true, py::arg("track_running_stats") = true,
           py::arg("unbiased_running_var") = true, py::arg("virtual_batch_size") = 0,
           py::arg("renorm") = py::none());
}

template <typename Module>
void bind_instance_norm(py::module_& m, const char* name, const char* doc) {
  py::class_<Module, nn::InstanceNorm>(m, name, doc)
      .def(py::init([](std::int64_t num_features, double eps, double momentum, bool affine,
                       bool track_running_stats) {
             return std::make_unique<Module>(num_features,
                                             nn::InstanceNormModuleOptions{eps, momentum, affine, track_running_stats});
           }),
           py::arg("num_features"), py::arg("eps") = 1e-5, py::arg("momentum") = 0.1,
           py::arg("affine") = false, py::arg("track_running_stats") = false);
}

}  // namespace

void bind_modules(py::module_& m) {
  py::class_<nn::Module> module(m, "Module", "Base of the normkit modules.");
  module
      .def("train", [](py::object self, bool mode) {
             auto& mod = self.cast<nn::Module&>();
             exclusive_call(mod, [&] { mod.train(mode); });
             return self;
           }, py::arg("mode") = true, "Training mode (batch statistics), or eval mode with mode=False; returns self.")
      .def("eval", [](py::object self) {
             auto& mod = self.cast<nn::Module&>();
             exclusive_call(mod, [&] { mod.eval(); });
             return self;
           }, "Eval mode (running statistics); returns self.")
      .def_property_readonly("training", &nn::Module::is_training, "True in training mode.")
      .def("zero_grad", [](nn::Module& mod) { exclusive_call(mod, [&] { mod.zero_grad(); }); },
           "Sets the parameters' gradients to zero.")
      .def("grad", [](py::object self, const std::string& key) {
             nn::Parameter* p = self.cast<nn::Module&>().find_parameter(key);
             NORMKIT_CHECK(p != nullptr, "grad: no parameter named '", key, "' (the state dict's keys name them)");
             return tensor_array(&p->grad, self);
           }, py::arg("key"), "The gradient of the parameter named `key` (a state-dict key) as a live view.")
      .def("state_dict", [](const nn::Module& mod) {
             return state_dict_to_python(shared_call(mod, [&] { return mod.state_dict(); }));
           },
           "{key: ndarray} with PyTorch's keys and order (weight, bias, running_mean, running_var,\n"
           "num_batches_tracked as a 0-d int64 array); copies.")
      .def("load_state_dict", [](nn::Module& mod, const py::dict& d) {
             const nn::StateDict state = state_dict_from_python(d);
             exclusive_call(mod, [&] { mod.load_state_dict(state); });
           }, py::arg("state_dict"),
           "Loads a state dict (strict: every key, no other, each of its shape and dtype); on an error\n"
           "nothing is changed.")
      .def("__call__", [](py::object self, py::args args) { return self.attr("forward")(*args); },
           "forward(*args).");
  tensor_property(module, "weight", "weight", "The weight (gamma) as a live float32 view, or None.");
  tensor_property(module, "bias", "bias", "The bias (beta) as a live float32 view, or None.");
  tensor_property(module, "weight_grad", "weight", "The weight's gradient as a live view, or None.", true);
  tensor_property(module, "bias_grad", "bias", "The bias's gradient as a live view, or None.", true);
  tensor_property(module, "running_mean", "running_mean", "The running mean as a live view, or None.");
  tensor_property(module, "running_var", "running_var", "The running variance as a live view, or None.");
  module.def_property_readonly("num_batches_tracked", [](nn::Module& mod) -> py::object {
    const Tensor* t = mod.find_tensor("num_batches_tracked");
    if (t == nullptr) return py::none();
    return py::int_(*t->data<std::int64_t>());
  }, "Training forward calls counted so far (an int), or None.");

  py::class_<nn::BatchRenormSchedule>(m, "BatchRenormSchedule",
                                      "Batch Renorm limits over training (Ioffe 2017): rmax = 1, dmax = 0 "
                                      "for warmup_steps, then linear to rmax at rmax_steps and dmax at "
                                      "dmax_steps. All steps 0: constant limits.")
      .def(py::init([](double rmax, double dmax, std::int64_t warmup_steps, std::int64_t rmax_steps,
                       std::int64_t dmax_steps) {
             return nn::BatchRenormSchedule{rmax, dmax, warmup_steps, rmax_steps, dmax_steps};
           }),
           py::arg("rmax") = 3.0, py::arg("dmax") = 5.0, py::arg("warmup_steps") = 5000,
           py::arg("rmax_steps") = 40000, py::arg("dmax_steps") = 25000)
      .def("at", [](const nn::BatchRenormSchedule& s, std::int64_t step) {
             const BatchRenormLimits l = s.at(step);
             return py::make_tuple(l.rmax, l.dmax);
           }, py::arg("step"), "(rmax, dmax) at a training step.");

  py::class_<nn::BatchNorm, nn::Module> batch_norm(m, "_BatchNorm", "Base of BatchNorm1d/2d/3d.");
  bind_forward_backward<nn::BatchNorm>(batch_norm);
  batch_norm.def_property_readonly("num_features", &nn::BatchNorm::num_features, "C, the number of channels.")
      .def("fused_scale_shift", [](const nn::BatchNorm& bn) {
             const nn::FusedScaleShift f = shared_call(bn, [&] { return bn.fused_scale_shift(); });
             return py::make_tuple(to_numpy(f.scale), to_numpy(f.shift));
           }, "(scale, shift) with eval-mode output y = x * scale[c] + shift[c].")
      .def("reset_running_stats", [](nn::BatchNorm& bn) { exclusive_call(bn, [&] { bn.reset_running_stats(); }); },
           "running_mean = 0, running_var = 1, num_batches_tracked = 0.");
  bind_batch_norm<nn::BatchNorm1d>(m, "BatchNorm1d", "BatchNorm over (N, C) or (N, C, L) input.");
  bind_batch_norm<nn::BatchNorm2d>(m, "BatchNorm2d", "BatchNorm over (N, C, H, W) input.");
  bind_batch_norm<nn::BatchNorm3d>(m, "BatchNorm3d", "BatchNorm over (N, C, D, H, W) input.");

  m.def("recalibrate_running_stats",
        [](const std::vector<nn::BatchNorm*>& layers, const py::object& data_pass) {
          NORMKIT_CHECK(PyCallable_Check(data_pass.ptr()) != 0,
                        "recalibrate_running_stats: data_pass: expected a callable, got ", type_name(data_pass));
          nn::recalibrate_running_stats(layers, [&] { data_pass(); }, [](nn::BatchNorm& bn, auto step) {
            exclusive_call(bn, step);
          });
        },
        py::arg("layers"), py::arg("data_pass"),
        "Re-estimates the layers' running statistics over a pass of data, as\n"
        "torch.optim.swa_utils.update_bn: reset, cumulative average, training mode,\n"
        "data_pass() runs the batches, then momentum and mode are restored. When data_pass\n"
        "raises, every layer's mode, momentum and statistics are as before the call.");

  py::class_<nn::LayerNorm, nn::Module> layer_norm(m, "LayerNorm", "LayerNorm over the trailing dims.");
  layer_norm.def(py::init([](const py::object& normalized_shape, double eps, bool elementwise_affine,
                             bool bias) {
                   return std::make_unique<nn::LayerNorm>(shape_argument(normalized_shape, "normalized_shape"),
                                                          nn::LayerNormModuleOptions{eps, elementwise_affine, bias});
                 }),
                 py::arg("normalized_shape"), py::arg("eps") = 1e-5, py::arg("elementwise_affine") = true,
                 py::arg("bias") = true);
  bind_forward_backward<nn::LayerNorm>(layer_norm, true);

  py::class_<nn::RMSNorm, nn::Module> rms_norm(m, "RMSNorm", "RMSNorm over the trailing dims.");
  rms_norm.def(py::init([](const py::object& normalized_shape, std::optional<double> eps,
                           bool elementwise_affine) {
                 return std::make_unique<nn::RMSNorm>(shape_argument(normalized_shape, "normalized_shape"),
                                                      nn::RMSNormModuleOptions{eps, elementwise_affine});
               }),
               py::arg("normalized_shape"), py::arg("eps") = py::none(), py::arg("elementwise_affine") = true);
  bind_forward_backward<nn::RMSNorm>(rms_norm, true);

  py::class_<nn::DyT, nn::Module> dyt(m, "DyT",
                                      "DyT (Dynamic Tanh): y = weight * tanh(alpha * x) + bias over the last dim;\n"
                                      "alpha a learned scalar, as Zhu et al. 2025's DynamicTanh.");
  dyt.def(py::init([](std::int64_t normalized_features, double alpha_init_value, bool elementwise_affine) {
            return std::make_unique<nn::DyT>(normalized_features, nn::DyTModuleOptions{alpha_init_value, elementwise_affine});
          }),
          py::arg("normalized_features"), py::arg("alpha_init_value") = 0.5, py::arg("elementwise_affine") = true);
  bind_forward_backward<nn::DyT>(dyt, true);
  tensor_property(dyt, "alpha", "alpha", "alpha, (1,), as a live float32 view.");
  tensor_property(dyt, "alpha_grad", "alpha", "alpha's gradient as a live view.", true);

  // The fused residual add + norm: two inputs, two outputs.
  py::class_<nn::AddRMSNorm, nn::Module>(m, "AddRMSNorm",
                                         "The residual add fused with RMSNorm: forward(x, residual) gives\n"
                                         "(y, residual_out) with residual_out = x + residual and y its RMSNorm.")
      .def(py::init([](const py::object& normalized_shape, std::optional<double> eps, bool elementwise_affine,
                       double weight_offset) {
             return std::make_unique<nn::AddRMSNorm>(shape_argument(normalized_shape, "normalized_shape"),
                                                     nn::AddRMSNormModuleOptions{eps, elementwise_affine, weight_offset});
           }),
           py::arg("normalized_shape"), py::arg("eps") = py::none(), py::arg("elementwise_affine") = true,
           py::arg("weight_offset") = 0.0)
      .def("forward", [](nn::AddRMSNorm& mod, const py::object& x, const py::object& residual) {
             const TensorView xv = required_view(x, "x", true), rv = required_view(residual, "residual", true);
             auto [y, sum] = exclusive_call(mod, [&] { return mod.forward(xv, rv); });
             return py::make_tuple(to_numpy(y), to_numpy(sum));
           }, py::arg("x"), py::arg("residual"), "(y, residual_out): y in x's dtype, residual_out in residual's.")
      .def("backward", [](nn::AddRMSNorm& mod, const py::object& dy, const py::object& dresidual_out) {
             const TensorView d = required_view(dy, "dy", true), dr = view_of(dresidual_out, "dresidual_out", false, true);
             return to_numpy(exclusive_call(mod, [&] { return mod.backward(d, dr); }));
           }, py::arg("dy"), py::arg("dresidual_out") = py::none(),
           "dsum, the gradient of x and of residual, for the last forward; accumulates weight's gradient.");
  py::class_<nn::AddLayerNorm, nn::Module>(m, "AddLayerNorm",
                                           "The residual add fused with LayerNorm: forward(x, residual) gives\n"
                                           "(y, residual_out) with residual_out = x + residual and y its LayerNorm.")
      .def(py::init([](const py::object& normalized_shape, double eps, bool elementwise_affine, bool bias) {
             return std::make_unique<nn::AddLayerNorm>(shape_argument(normalized_shape, "normalized_shape"),
                                                       nn::AddLayerNormModuleOptions{eps, elementwise_affine, bias});
           }),
           py::arg("normalized_shape"), py::arg("eps") = 1e-5, py::arg("elementwise_affine") = true,
           py::arg("bias") = true)
      .def("forward", [](nn::AddLayerNorm& mod, const py::object& x, const py::object& residual) {
             const TensorView xv = required_view(x, "x", true), rv = required_view(residual, "residual", true);
             auto [y, sum] = exclusive_call(mod, [&] { return mod.forward(xv, rv); });
             return py::make_tuple(to_numpy(y), to_numpy(sum));
           }, py::arg("x"), py::arg("residual"), "(y, residual_out): y in x's dtype, residual_out in residual's.")
      .def("backward", [](nn::AddLayerNorm& mod, const py::object& dy, const py::object& dresidual_out) {
             const TensorView d = required_view(dy, "dy", true), dr = view_of(dresidual_out, "dresidual_out", false, true);
             return to_numpy(exclusive_call(mod, [&] { return mod.backward(d, dr); }));
           }, py::arg("dy"), py::arg("dresidual_out") = py::none(),
           "dsum, the gradient of x and of residual, for the last forward; accumulates the parameters' gradients.");

  py::class_<nn::GroupNorm, nn::Module> group_norm(m, "GroupNorm", "GroupNorm over (N, C, *spatial).");
  group_norm.def(py::init([](std::int64_t num_groups, std::int64_t num_channels, double eps, bool affine) {
                   return std::make_unique<nn::GroupNorm>(num_groups, num_channels,
                                                          nn::GroupNormModuleOptions{eps, affine});
                 }),
                 py::arg("num_groups"), py::arg("num_channels"), py::arg("eps") = 1e-5,
                 py::arg("affine") = true);
  bind_forward_backward<nn::GroupNorm>(group_norm);

  py::class_<nn::InstanceNorm, nn::Module> instance_norm(m, "_InstanceNorm", "Base of InstanceNorm1d/2d/3d.");
  bind_forward_backward<nn::InstanceNorm>(instance_norm);
  bind_instance_norm<nn::InstanceNorm1d>(m, "InstanceNorm1d", "InstanceNorm over (N, C, L) input.");
  bind_instance_norm<nn::InstanceNorm2d>(m, "InstanceNorm2d", "InstanceNorm over (N, C, H, W) input.");
  bind_instance_norm<nn::InstanceNorm3d>(m, "InstanceNorm3d", "InstanceNorm over (N, C, D, H, W) input.");

  py::class_<nn::FrozenBatchNorm2d, nn::Module> frozen(
      m, "FrozenBatchNorm2d", "Eval statistics in every mode, no parameter gradients.");
  frozen.def(py::init([](std::int64_t num_features, double eps) {
               return std::make_unique<nn::FrozenBatchNorm2d>(num_features, eps);
             }),
             py::arg("num_features"), py::arg("eps") = 1e-5)
      .def_static("from_batch_norm", [](const nn::BatchNorm& bn) { return nn::FrozenBatchNorm2d::from(bn); },
                  py::arg("bn"), "A frozen copy of a BatchNorm layer.");
  bind_forward_backward<nn::FrozenBatchNorm2d>(frozen);

  py::class_<nn::AdaIN, nn::Module>(m, "AdaIN", "Adaptive Instance Normalization.")
      .def(py::init([](double eps) { return std::make_unique<nn::AdaIN>(eps); }), py::arg("eps") = 1e-5)
      .def("forward", [](nn::AdaIN& mod, const py::object& content, const py::object& style) {
             const TensorView c = required_view(content, "content"), s = required_view(style, "style");
             return to_numpy(exclusive_call(mod, [&] { return mod.forward(c, s); }));
           }, py::arg("content"), py::arg("style"), "content normalized to the style's per-(n, c) mean and std.")
      .def("backward", [](nn::AdaIN& mod, const py::object& dy) {
             const TensorView v = required_view(dy, "dy");
             auto [dc, ds] = exclusive_call(mod, [&] { return mod.backward(v); });
             return py::make_tuple(to_numpy(dc), to_numpy(ds));
           }, py::arg("dy"), "(dcontent, dstyle) for the last forward.");
}

}  // namespace normkit::python
