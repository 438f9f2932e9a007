// The normkit Python module: NumPy arrays in and out, zero-copy for float32
// arrays of any strides (contiguous and channels-last are the fast paths).
// normkit::Error becomes normkit.Error, a subclass of ValueError.
#include <string>
#include <string_view>
#include <vector>

#include "numpy_views.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_normkit, m) {
  m.doc() = "normkit: normalization layers for deep learning (C++ core)";
  m.attr("__version__") = normkit::kVersion;
  auto error = py::register_exception<normkit::Error>(m, "Error", PyExc_ValueError);
  // A message quotes what it was given, which may not be UTF-8 (a file's
  // header): invalid bytes are shown as \xNN escapes rather than losing the
  // whole message.
  static PyObject* error_type = error.ptr();
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const normkit::Error& e) {
      const std::string_view what = e.what();
      PyObject* text = PyUnicode_DecodeUTF8(what.data(), static_cast<Py_ssize_t>(what.size()), "backslashreplace");
      PyErr_SetObject(error_type, text);
      Py_XDECREF(text);
    }
  });
  error.attr("__doc__") = "Bad input to a normkit function: the message names the argument and what was expected.\n"
                          "A subclass of ValueError; nothing was written when it is raised.";
  m.def("set_num_threads", &normkit::set_num_threads, py::arg("n"),
        "Sets the number of threads the kernels use (n >= 1). Results are the same bits for any n.");
  m.def("num_threads", &normkit::num_threads, "The number of threads the kernels use.");
  m.def("_view_address", [](const py::object& array) {
          return reinterpret_cast<std::uintptr_t>(normkit::python::required_view(array, "array").raw());
        }, py::arg("array"),
        "Test hook: the address of the memory normkit reads for `array`, through the same conversion\n"
        "as every function's arguments (equal to the array's own address: no copy).");
  m.def("simd_path", &normkit::simd_path,
        "The instruction set the kernels run on: 'portable', 'avx2' or 'avx512' (at start the widest the\n"
        "CPU has, or the one NORMKIT_ISA names). Every path gives the same bits.");
  m.def("simd_paths", [] {
          std::vector<std::string> names;
          for (normkit::SimdPath path : normkit::simd_paths()) names.emplace_back(normkit::simd_path_name(path));
          return names;
        },
        "Every SIMD path this CPU has, narrowest first: ['portable', 'avx2', 'avx512'] at most.");
  m.def("set_simd_path", [](const std::string& name) { normkit::set_simd_path(name.c_str()); }, py::arg("name"),
        "Runs the kernels on the SIMD path `name` ('portable', 'avx2' or 'avx512'; one this CPU has),\n"
        "in every thread of the process. Speed changes, the bits do not.");
  normkit::python::bind_functional(m);
  normkit::python::bind_modules(m);
  auto io = m.def_submodule("io", "safetensors files: load_file, load_metadata, save_file");
  normkit::python::bind_io(io);
  auto models = m.def_submodule("models", "The lab's networks: make_model");
  normkit::python::bind_models(models);
}
