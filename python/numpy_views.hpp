// NumPy <-> normkit: views of float32 arrays without a copy, new arrays in a
// given memory format, owning tensors handed to NumPy without a copy, state
// dicts, and the forward/backward methods every module binds.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <mutex>
#include <shared_mutex>
#include <utility>
#include <vector>

#include "normkit/normkit.hpp"

namespace normkit::python {

namespace py = pybind11;

// NumPy 1.x holds at most 32 dimensions (2.x 64); normkit's results stay
// within the smaller, so that none fails in NumPy with its bare message.
inline constexpr std::size_t kMaxArrayDims = 32;

// The name of an object's type, for messages ("NoneType", "list").
std::string type_name(const py::handle obj);

// ask()'s answer about a Python object (a type, a dtype), kept per object in
// `known`: a handful ever come, each kept alive so that its address stays
// its own. Past kMostKept objects (ones made on the fly) it is asked each
// time. Called with the GIL held.
template <typename Answer, typename Ask>
Answer kept_answer(std::vector<std::pair<PyObject*, Answer>>& known, PyObject* obj, const Ask& ask) {
  constexpr std::size_t kMostKept = 32;
  for (const auto& [o, answer] : known)
    if (o == obj) return answer;
  const Answer answer = ask();
  if (known.size() < kMostKept) {
    Py_INCREF(obj);
    known.emplace_back(obj, answer);
  }
  return answer;
}

// A view of a NumPy argument; None gives an undefined view. The caller keeps
// the array alive for the duration of the call (it is a function argument).
// float32 arrays; with `sixteen_bit` (the functional API) also float16 and
// ml_dtypes' bfloat16 (the C++ checks say which arguments may be 16-bit).
TensorView view_of(const py::object& obj, const char* name, bool writable = false, bool sixteen_bit = false);
// As view_of, and None is an error.
TensorView required_view(const py::object& obj, const char* name, bool sixteen_bit = false);

// The NumPy dtype of a normkit dtype (bfloat16: ml_dtypes', imported then).
py::dtype numpy_dtype(DType dtype);

// A new float32 array in the given memory format.
py::array_t<float> new_array(const Shape& shape, MemoryFormat format = MemoryFormat::contiguous);
TensorView view_of_new(py::array_t<float>& array);

// Hands an owning tensor to NumPy without a copy (the array keeps its storage
// alive); an undefined tensor becomes None.
py::object to_numpy(Tensor tensor);
// A view of a tensor owned by `owner` (a module): writes show up in the module.
py::object tensor_array(const Tensor* tensor, const py::object& owner);

// normalized_shape: an int or a sequence of ints, as PyTorch.
Shape shape_argument(const py::object& obj, const char* name);

// {name: ndarray}: float32, float16 and bfloat16 arrays, int8 ones, and int64
// ones (num_batches_tracked, a 0-d array). From Python, int8 arrays stay int8,
// other integer arrays become int64 tensors, and every other array must be
// float32, float16 or ml_dtypes' bfloat16.
py::dict state_dict_to_python(const nn::StateDict& state);
nn::StateDict state_dict_from_python(const py::dict& d);

// A module shared by Python threads (docs/threads.md): call() runs without
// the GIL under the module's lock, exclusive (every call that writes) or
// shared (reads). The lock is taken after the GIL is released, so that a
// thread waiting for it never holds the GIL. call() must not touch Python.
template <typename Call>
auto exclusive_call(const nn::Module& mod, Call call) {
  py::gil_scoped_release release;
  const std::unique_lock lock(mod.call_mutex());
  return call();
}
template <typename Call>
auto shared_call(const nn::Module& mod, Call call) {
  py::gil_scoped_release release;
  const std::shared_lock lock(mod.call_mutex());
  return call();
}

// forward: eval-mode forwards of a layer that allows it run beside each
// other; any other forward runs alone.
template <typename Layer>
Tensor locked_forward(Layer& layer, const TensorView& x) {
  py::gil_scoped_release release;
  {
    const std::shared_lock shared(layer.call_mutex());
    if (!layer.is_training() && layer.concurrent_eval_forward()) return layer.forward(x);
  }
  const std::unique_lock lock(layer.call_mutex());
  return layer.forward(x);
}

// forward(x) and backward(dy) of a single-input module; with sixteen_bit, x
// and dy may be bfloat16 or float16 too (y and dx in x's dtype; the
// parameters and their gradients stay float32).
template <typename Module, typename Class>
void bind_forward_backward(Class& cls, bool sixteen_bit = false) {
  cls.def("forward", [sixteen_bit](Module& mod, const py::object& x) {
        const TensorView v = required_view(x, "input", sixteen_bit);
        return to_numpy(locked_forward(mod, v));
      }, py::arg("x"),
      sixteen_bit ? "y for input x (float32, bfloat16 or float16, any strides; y in x's dtype), in the mode set "
                    "by train()/eval()."
                  : "y for input x (float32, any strides), in the mode set by train()/eval().")
      .def("backward", [sixteen_bit](Module& mod, const py::object& dy) {
        const TensorView v = required_view(dy, "dy", sixteen_bit);
        return to_numpy(exclusive_call(mod, [&] { return mod.backward(v); }));
      }, py::arg("dy"), "dx for the last forward; accumulates the parameters' gradients.");
}

void bind_functional(py::module_& m);
void bind_modules(py::module_& m);
void bind_io(py::module_& m);      // normkit.io: safetensors files
void bind_models(py::module_& m);  // normkit.models: the lab's networks

}  // namespace normkit::python
