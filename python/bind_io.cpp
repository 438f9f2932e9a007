// normkit.io: safetensors files from Python, with the call shapes of the
// safetensors package's numpy API (load_file, save_file), so that state dicts
// move between normkit, PyTorch and the safetensors package.
#include <pybind11/stl.h>

#include "normkit/io/safetensors.hpp"
#include "numpy_views.hpp"

namespace normkit::python {

void bind_io(py::module_& m) {
  m.def("load_file", [](const std::string& path) {
        io::SafetensorsContents c;
        {
          py::gil_scoped_release release;
          c = io::load_safetensors(path);
        }
        return state_dict_to_python(c.tensors);
      }, py::arg("filename"),
      "Reads a safetensors file: {name: ndarray} in the order of the file's data (F32, F16, BF16\n"
      "(as ml_dtypes' bfloat16), I64, I8; other dtypes are refused with normkit.Error).");
  m.def("load_metadata", [](const std::string& path) { return io::load_safetensors(path).metadata; },
        py::arg("filename"), "The file's __metadata__ (a dict of strings; empty when it has none).");
  m.def("save_file", [](const py::dict& tensors, const std::string& path,
                        const std::optional<io::Metadata>& metadata) {
        const nn::StateDict state = state_dict_from_python(tensors);
        py::gil_scoped_release release;
        io::save_safetensors(path, state, metadata.value_or(io::Metadata{}));
      }, py::arg("tensors"), py::arg("filename"), py::arg("metadata") = py::none(),
      "Writes {name: ndarray} (float32, float16, bfloat16, int8, or other integer arrays as int64) to a\n"
      "safetensors file, atomically:\n"
      "the file holds its old contents or the new ones, never a part.");
}

}  // namespace normkit::python
