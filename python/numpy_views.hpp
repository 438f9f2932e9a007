// NumPy <-> normkit: views of float32 arrays without a copy, new arrays in a
// given memory format, owning tensors handed to NumPy without a copy, state
// dicts, and the forward/backward methods every module binds.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "normkit/normkit.hpp"

namespace normkit::python {

namespace py = pybind11;

// A view of a NumPy argument; None gives an undefined view. The caller keeps
// the array alive for the duration of the call (it is a function argument).
TensorView view_of(const py::object& obj, const char* name, bool writable = false);
// As view_of, and None is an error.
TensorView required_view(const py::object& obj, const char* name);

// A new float32 array in the given memory format.
py::array_t<float> new_array(const Shape& shape, MemoryFormat format = MemoryFormat::contiguous);
TensorView view_of_new(py::array_t<float>& array);

// Hands an owning tensor to NumPy without a copy (the array keeps its storage
// alive); an undefined tensor becomes None.
py::object to_numpy(const Tensor& tensor);
// A view of a tensor owned by `owner` (a module): writes show up in the module.
py::object tensor_array(const Tensor* tensor, const py::object& owner);

// normalized_shape: an int or a sequence of ints, as PyTorch.
Shape shape_argument(const py::object& obj, const char* name);

// {name: ndarray}: float32 arrays, and int64 ones (num_batches_tracked, a 0-d
// array). From Python, integer arrays become int64 tensors, and every other
// array must be float32.
py::dict state_dict_to_python(const nn::StateDict& state);
nn::StateDict state_dict_from_python(const py::dict& d);

// forward(x) and backward(dy) of a single-input module, without the GIL.
template <typename Module, typename Class>
void bind_forward_backward(Class& cls) {
  cls.def("forward", [](Module& mod, const py::object& x) {
        const TensorView v = required_view(x, "input");
        Tensor y;
        {
          py::gil_scoped_release release;
          y = mod.forward(v);
        }
        return to_numpy(y);
      }, py::arg("x"), "y for input x (float32, any strides), in the mode set by train()/eval().")
      .def("backward", [](Module& mod, const py::object& dy) {
        const TensorView v = required_view(dy, "dy");
        Tensor dx;
        {
          py::gil_scoped_release release;
          dx = mod.backward(v);
        }
        return to_numpy(dx);
      }, py::arg("dy"), "dx for the last forward; accumulates the parameters' gradients.");
}

void bind_functional(py::module_& m);
void bind_modules(py::module_& m);
void bind_io(py::module_& m);      // normkit.io: safetensors files
void bind_models(py::module_& m);  // normkit.models: the lab's networks

}  // namespace normkit::python
