// The normkit Python module: NumPy arrays in and out, zero-copy for float32
// arrays of any strides (contiguous and channels-last are the fast paths).
// normkit::Error becomes normkit.Error, a subclass of ValueError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "normkit/normkit.hpp"

namespace py = pybind11;
using namespace normkit;

namespace {

// A view of a NumPy argument; None gives an undefined view. The caller keeps
// the array alive for the duration of the call (it is a function argument).
TensorView view_of(const py::object& obj, const char* name, bool writable = false) {
  if (obj.is_none()) return {};
  NORMKIT_CHECK(py::isinstance<py::array>(obj), name, ": expected a float32 NumPy array, got ",
                std::string(py::str(obj.get_type().attr("__name__"))));
  const auto array = py::reinterpret_borrow<py::array>(obj);
  NORMKIT_CHECK(array.dtype().is(py::dtype::of<float>()), name,
                ": expected a float32 array, got ", std::string(py::str(array.dtype())),
                " (convert with .astype(numpy.float32))");
  NORMKIT_CHECK(!writable || array.writeable(), name,
                ": expected a writable array (it is updated in place)");
  Shape shape(array.shape(), array.shape() + array.ndim());
  Strides strides(static_cast<std::size_t>(array.ndim()));
  for (py::ssize_t d = 0; d < array.ndim(); ++d) {
    NORMKIT_CHECK(array.strides(d) % static_cast<py::ssize_t>(sizeof(float)) == 0, name,
                  ": expected strides that are multiples of 4 bytes");
    strides[d] = array.strides(d) / static_cast<py::ssize_t>(sizeof(float));
  }
  return TensorView(const_cast<void*>(array.data()), std::move(shape), std::move(strides),
                    DType::float32);
}

// A new float32 array in the given memory format.
py::array_t<float> new_array(const Shape& shape, MemoryFormat format) {
  const Strides elems = format == MemoryFormat::channels_last ? channels_last_strides(shape)
                                                              : contiguous_strides(shape);
  std::vector<py::ssize_t> bytes(elems.size());
  for (std::size_t i = 0; i < elems.size(); ++i)
    bytes[i] = static_cast<py::ssize_t>(elems[i] * sizeof(float));
  return py::array_t<float>(std::vector<py::ssize_t>(shape.begin(), shape.end()), bytes);
}

TensorView view_of_new(py::array_t<float>& array) { return view_of(array, "output"); }

// Hands an owning Tensor to NumPy without a copy: the array keeps the tensor's
// storage alive through a capsule.
py::array to_numpy(const Tensor& tensor) {
  auto* owner = new Tensor(tensor);
  py::capsule free_owner(owner, [](void* p) { delete static_cast<Tensor*>(p); });
  const TensorView v = tensor.view();
  const std::size_t elem = dtype_size(v.dtype());
  std::vector<py::ssize_t> shape(v.shape().begin(), v.shape().end());
  std::vector<py::ssize_t> strides(v.strides().size());
  for (std::size_t i = 0; i < strides.size(); ++i)
    strides[i] = static_cast<py::ssize_t>(v.strides()[i] * static_cast<std::int64_t>(elem));
  if (v.dtype() == DType::int64)
    return py::array_t<std::int64_t>(shape, strides, tensor.data<std::int64_t>(), free_owner);
  return py::array_t<float>(shape, strides, tensor.data<float>(), free_owner);
}

// A view of an existing tensor owned by `owner` (a module): writes show up.
py::array tensor_array(const Tensor& tensor, const py::object& owner) {
  if (!tensor.defined()) return py::none();
  const TensorView v = tensor.view();
  std::vector<py::ssize_t> shape(v.shape().begin(), v.shape().end());
  if (v.dtype() == DType::int64)
    return py::array_t<std::int64_t>(shape, tensor.data<std::int64_t>(), owner);
  return py::array_t<float>(shape, tensor.data<float>(), owner);
}

py::tuple batch_norm_forward_py(const py::object& x, const py::object& weight,
                                const py::object& bias, const py::object& running_mean,
                                const py::object& running_var, bool training, double momentum,
                                double eps) {
  const TensorView xv = view_of(x, "x");
  NORMKIT_CHECK(xv.defined(), "x: expected a float32 NumPy array, got None");
  NORMKIT_CHECK(xv.dim() >= 2, "x: expected a tensor of rank >= 2 (N, C, *spatial), got shape ",
                shape_string(xv.shape()));
  const BatchNormInputs in{xv, view_of(weight, "weight"), view_of(bias, "bias"),
                           view_of(running_mean, "running_mean", training),
                           view_of(running_var, "running_var", training)};
  const std::int64_t stats = training ? xv.size(1) : 0;
  py::array_t<float> y = new_array(xv.shape(), xv.memory_format());
  py::array_t<float> save_mean = new_array({stats}, MemoryFormat::contiguous);
  py::array_t<float> save_invstd = new_array({stats}, MemoryFormat::contiguous);
  const BatchNormForwardOutputs out{view_of_new(y),
                                    training ? view_of_new(save_mean) : TensorView{},
                                    training ? view_of_new(save_invstd) : TensorView{}};
  {
    py::gil_scoped_release release;
    batch_norm_forward(in, {.training = training, .momentum = momentum, .eps = eps}, out);
  }
  return py::make_tuple(y, save_mean, save_invstd);
}

py::tuple batch_norm_backward_py(const py::object& dy, const py::object& x,
                                 const py::object& weight, const py::object& running_mean,
                                 const py::object& running_var, const py::object& save_mean,
                                 const py::object& save_invstd, bool training, double eps) {
  const TensorView xv = view_of(x, "x");
  NORMKIT_CHECK(xv.defined(), "x: expected a float32 NumPy array, got None");
  NORMKIT_CHECK(xv.dim() >= 2, "x: expected a tensor of rank >= 2 (N, C, *spatial), got shape ",
                shape_string(xv.shape()));
  const BatchNormBackwardInputs in{view_of(dy, "dy"),           xv,
                                   view_of(weight, "weight"),   view_of(running_mean, "running_mean"),
                                   view_of(running_var, "running_var"),
                                   view_of(save_mean, "save_mean"),
                                   view_of(save_invstd, "save_invstd")};
  const std::int64_t C = xv.size(1);
  py::array_t<float> dx = new_array(xv.shape(), xv.memory_format());
  py::array_t<float> dbias = new_array({C}, MemoryFormat::contiguous);
  std::optional<py::array_t<float>> dweight;
  if (in.weight.defined()) dweight = new_array({C}, MemoryFormat::contiguous);
  const BatchNormGrads grads{view_of_new(dx), dweight ? view_of_new(*dweight) : TensorView{},
                             view_of_new(dbias)};
  {
    py::gil_scoped_release release;
    batch_norm_backward(in, {.training = training, .eps = eps}, grads);
  }
  return py::make_tuple(dx, dweight ? py::object(*dweight) : py::object(py::none()), dbias);
}

// state dicts: {name: ndarray}, num_batches_tracked as a 0-d int64 array.
py::dict state_dict_to_python(const nn::StateDict& state) {
  py::dict d;
  for (const auto& [key, tensor] : state) d[py::str(key)] = to_numpy(tensor);
  return d;
}

nn::StateDict state_dict_from_python(const py::dict& d) {
  py::module_ np = py::module_::import("numpy");
  nn::StateDict state;
  for (const auto& [key_obj, value] : d) {
    const std::string key = py::str(key_obj);
    py::array array = np.attr("asarray")(value);
    if (key == "num_batches_tracked") {
      NORMKIT_CHECK(py::str(array.dtype().attr("kind")).cast<std::string>() == "i" &&
                        array.size() == 1,
                    "state_dict: 'num_batches_tracked': expected one integer, got ",
                    std::string(py::str(array.dtype())), " of size ", array.size());
      Tensor t = Tensor::zeros({}, DType::int64);
      *t.data<std::int64_t>() = py::int_(array.attr("item")()).cast<std::int64_t>();
      state.emplace_back(key, t);
    } else {
      state.emplace_back(key, Tensor::copy_of(view_of(array, key.c_str())));
    }
  }
  return state;
}

template <typename Module>
void bind_batch_norm(py::module_& m, const char* name, const char* doc) {
  py::class_<Module, nn::BatchNorm>(m, name, doc)
      .def(py::init([](std::int64_t num_features, double eps, std::optional<double> momentum,
                       bool affine, bool track_running_stats, bool unbiased_running_var) {
             return std::make_unique<Module>(
                 num_features, nn::BatchNormModuleOptions{eps, momentum, affine,
                                                          track_running_stats,
                                                          unbiased_running_var});
           }),
           py::arg("num_features"), py::arg("eps") = 1e-5, py::arg("momentum") = 0.1,
           py::arg("affine") = true, py::arg("track_running_stats") = true,
           py::arg("unbiased_running_var") = true);
}

}  // namespace

PYBIND11_MODULE(_normkit, m) {
  m.doc() = "normkit: normalization layers for deep learning (C++ core)";
  m.attr("__version__") = kVersion;
  py::register_exception<Error>(m, "Error", PyExc_ValueError);

  m.def("batch_norm_forward", &batch_norm_forward_py, py::arg("x"), py::arg("weight"),
        py::arg("bias"), py::arg("running_mean"), py::arg("running_var"), py::arg("training"),
        py::arg("momentum"), py::arg("eps"),
        "Batch Normalization forward, as ATen's native_batch_norm.\n\n"
        "x: (N, C, *spatial) float32; weight, bias, running_mean, running_var: (C,) or None.\n"
        "Running statistics are updated in place when training.\n"
        "Returns (y, save_mean, save_invstd); the last two are empty in eval mode.");
  m.def("batch_norm_backward", &batch_norm_backward_py, py::arg("dy"), py::arg("x"),
        py::arg("weight"), py::arg("running_mean"), py::arg("running_var"),
        py::arg("save_mean"), py::arg("save_invstd"), py::arg("training"), py::arg("eps"),
        "Batch Normalization backward, as ATen's native_batch_norm_backward.\n\n"
        "Returns (dx, dweight, dbias); dweight is None when weight is None.");
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("num_threads", &num_threads);

  py::class_<nn::Module>(m, "Module", "Base of the normkit modules.")
      .def("train", [](py::object self, bool mode) {
             self.cast<nn::Module&>().train(mode);
             return self;
           }, py::arg("mode") = true)
      .def("eval", [](py::object self) {
             self.cast<nn::Module&>().eval();
             return self;
           })
      .def_property_readonly("training", &nn::Module::is_training)
      .def("zero_grad", &nn::Module::zero_grad)
      .def("state_dict", [](const nn::Module& mod) { return state_dict_to_python(mod.state_dict()); })
      .def("load_state_dict", [](nn::Module& mod, const py::dict& d) {
             mod.load_state_dict(state_dict_from_python(d)); }, py::arg("state_dict"))
      .def("__call__", [](py::object self, py::args args) {
             return self.attr("forward")(*args);
           });

  py::class_<nn::BatchNorm, nn::Module>(m, "_BatchNorm")
      .def_property_readonly("num_features", &nn::BatchNorm::num_features)
      .def("forward", [](nn::BatchNorm& bn, const py::object& x) {
             const TensorView v = view_of(x, "input");
             NORMKIT_CHECK(v.defined(), "input: expected a float32 NumPy array, got None");
             py::gil_scoped_release release;
             Tensor y = bn.forward(v);
             py::gil_scoped_acquire acquire;
             return to_numpy(y);
           }, py::arg("x"))
      .def("backward", [](nn::BatchNorm& bn, const py::object& dy) {
             const TensorView v = view_of(dy, "dy");
             NORMKIT_CHECK(v.defined(), "dy: expected a float32 NumPy array, got None");
             py::gil_scoped_release release;
             Tensor dx = bn.backward(v);
             py::gil_scoped_acquire acquire;
             return to_numpy(dx);
           }, py::arg("dy"), "dx for the last forward; accumulates weight_grad and bias_grad.")
      .def_property_readonly("weight", [](py::object self) {
             return tensor_array(self.cast<nn::BatchNorm&>().weight.value, self); })
      .def_property_readonly("bias", [](py::object self) {
             return tensor_array(self.cast<nn::BatchNorm&>().bias.value, self); })
      .def_property_readonly("weight_grad", [](py::object self) {
             return tensor_array(self.cast<nn::BatchNorm&>().weight.grad, self); })
      .def_property_readonly("bias_grad", [](py::object self) {
             return tensor_array(self.cast<nn::BatchNorm&>().bias.grad, self); })
      .def_property_readonly("running_mean", [](py::object self) {
             return tensor_array(self.cast<nn::BatchNorm&>().running_mean, self); })
      .def_property_readonly("running_var", [](py::object self) {
             return tensor_array(self.cast<nn::BatchNorm&>().running_var, self); })
      .def_property_readonly("num_batches_tracked", [](const nn::BatchNorm& bn) -> py::object {
             if (!bn.num_batches_tracked.defined()) return py::none();
             return py::int_(*bn.num_batches_tracked.data<std::int64_t>()); })
      .def("fused_scale_shift", [](const nn::BatchNorm& bn) {
             const nn::FusedScaleShift f = bn.fused_scale_shift();
             return py::make_tuple(to_numpy(f.scale), to_numpy(f.shift));
           }, "(scale, shift) with eval-mode output y = x * scale[c] + shift[c].");

  bind_batch_norm<nn::BatchNorm1d>(m, "BatchNorm1d", "BatchNorm over (N, C) or (N, C, L) input.");
  bind_batch_norm<nn::BatchNorm2d>(m, "BatchNorm2d", "BatchNorm over (N, C, H, W) input.");
  bind_batch_norm<nn::BatchNorm3d>(m, "BatchNorm3d", "BatchNorm over (N, C, D, H, W) input.");
}
