// The normkit Python module: NumPy arrays in and out, zero-copy for float32
// arrays of any strides (contiguous and channels-last are the fast paths).
// normkit::Error becomes normkit.Error, a subclass of ValueError.
#include "numpy_views.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_normkit, m) {
  m.doc() = "normkit: normalization layers for deep learning (C++ core)";
  m.attr("__version__") = normkit::kVersion;
  py::register_exception<normkit::Error>(m, "Error", PyExc_ValueError);
  m.def("set_num_threads", &normkit::set_num_threads, py::arg("n"));
  m.def("num_threads", &normkit::num_threads);
  m.def("simd_path", &normkit::simd_path,
        "The instruction set the kernels run on: 'portable', 'avx2' or 'avx512' (NORMKIT_ISA picks one\n"
        "the CPU has). Every path gives the same bits.");
  normkit::python::bind_functional(m);
  normkit::python::bind_modules(m);
}
