#include "numpy_views.hpp"

#include "dlpack.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace normkit::python {
namespace {

void check_array_rank(std::size_t rank, const char* what) {
  NORMKIT_CHECK(rank <= kMaxArrayDims, what, ": ", rank, " dimensions, more than the ", kMaxArrayDims,
                " a NumPy array can hold");
}

// An integer as Python's operator.index takes one (int, NumPy integers), but
// not a bool (True is no size), in 64 bits.
std::int64_t size_argument(const py::handle item, const char* name) {
  NORMKIT_CHECK(PyIndex_Check(item.ptr()) != 0 && !PyBool_Check(item.ptr()), name,
                ": expected an int or a sequence of ints, got ", type_name(item));
  PyObject* index = PyNumber_Index(item.ptr());
  if (index == nullptr) throw py::error_already_set();  // its __index__ raised
  const auto value = py::reinterpret_steal<py::int_>(index);
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
  if (overflow != 0) detail::throw_error(name, ": ", std::string(py::repr(item)), " does not fit in 64 bits");
  return v;
}

}  // namespace

std::string type_name(const py::handle obj) { return py::str(obj.get_type().attr("__name__")); }

namespace {

// A dtype's size in bytes, read as Python reads it: pybind11 before 2.12
// reads the descriptor's struct, whose layout NumPy 2 changed (the bench's
// virtual environment runs NumPy 2 with this module).
py::ssize_t itemsize_of(const py::dtype& dtype) { return dtype.attr("itemsize").cast<py::ssize_t>(); }

// The normkit dtype of a NumPy dtype, when it is one of float32, float16 and
// ml_dtypes' bfloat16 (a 2-byte dtype of that name).
std::optional<DType> float_dtype_named(const py::dtype& dtype) {
  if (dtype.is(py::dtype::of<float>())) return DType::float32;
  const std::string name = py::str(dtype.attr("name"));
  if (itemsize_of(dtype) == 2 && name == "float16") return DType::float16;
  if (itemsize_of(dtype) == 2 && name == "bfloat16") return DType::bfloat16;
  return std::nullopt;
}

// float_dtype_named, kept per dtype object (each builtin and ml_dtypes'
// bfloat16 is one object): reading the name and the size through Python
// made a 16-bit call of LayerNorm (1, 4096) 1.2-1.6 us slower than a
// float32 one.
std::optional<DType> float_dtype_of(const py::array& array) {
  static auto* known = new std::vector<std::pair<PyObject*, std::optional<DType>>>;
  const py::dtype dtype = array.dtype();
  return kept_answer(*known, dtype.ptr(), [&] { return float_dtype_named(dtype); });
}

}  // namespace

TensorView view_of(const py::object& obj, const char* name, bool writable, bool sixteen_bit) {
  if (obj.is_none()) return {};
  if (is_dlpack_tensor(obj)) return dlpack_view(obj, name, sixteen_bit);
  NORMKIT_CHECK(py::isinstance<py::array>(obj), name,
                ": expected a float32 NumPy array or a CPU tensor with __dlpack__, got ", type_name(obj));
  const auto array = py::reinterpret_borrow<py::array>(obj);
  const std::optional<DType> dtype = float_dtype_of(array);
  NORMKIT_CHECK(dtype && (sixteen_bit || *dtype == DType::float32), name, ": expected a float32 array, got ",
                std::string(py::str(array.dtype())),
                sixteen_bit ? " (or float16, or ml_dtypes' bfloat16; convert with .astype(numpy.float32))"
                            : " (convert with .astype(numpy.float32))");
  NORMKIT_CHECK(!writable || array.writeable(), name,
                ": expected a writable array (it is updated in place)");
  const auto elem = static_cast<py::ssize_t>(dtype_size(*dtype));
  Shape shape(array.shape(), array.shape() + array.ndim());
  Strides strides(static_cast<std::size_t>(array.ndim()));
  for (py::ssize_t d = 0; d < array.ndim(); ++d) {
    NORMKIT_CHECK(array.strides(d) % elem == 0, name, ": expected strides that are multiples of ", elem,
                  " bytes");
    strides[d] = array.strides(d) / elem;
  }
  return TensorView(const_cast<void*>(array.data()), std::move(shape), std::move(strides), *dtype);
}

TensorView required_view(const py::object& obj, const char* name, bool sixteen_bit) {
  NORMKIT_CHECK(!obj.is_none(), name, ": expected a float32 NumPy array, got None");
  return view_of(obj, name, false, sixteen_bit);
}

py::dtype numpy_dtype(DType dtype) {
  // The 16-bit dtypes are looked up once (an import and a parse each time
  // cost a 16-bit result about a microsecond) and never released: a static
  // py::object would be released at exit, after the interpreter is gone.
  static PyObject* const float16 = py::dtype("float16").release().ptr();
  switch (dtype) {
    case DType::float32: return py::dtype::of<float>();
    case DType::int64: return py::dtype::of<std::int64_t>();
    case DType::float16: return py::reinterpret_borrow<py::dtype>(float16);
    case DType::int8: return py::dtype::of<std::int8_t>();
    case DType::bfloat16: {
      static PyObject* const bfloat16 =
          py::dtype::from_args(py::module_::import("ml_dtypes").attr("bfloat16")).release().ptr();
      return py::reinterpret_borrow<py::dtype>(bfloat16);
    }
  }
  return py::dtype::of<float>();
}

py::array_t<float> new_array(const Shape& shape, MemoryFormat format) {
  check_array_rank(shape.size(), "result");
  const Strides elems = format == MemoryFormat::channels_last && shape.size() >= 3
                            ? channels_last_strides(shape)
                            : contiguous_strides(shape);
  std::vector<py::ssize_t> bytes(elems.size());
  for (std::size_t i = 0; i < elems.size(); ++i)
    bytes[i] = static_cast<py::ssize_t>(elems[i] * static_cast<std::int64_t>(sizeof(float)));
  return py::array_t<float>(std::vector<py::ssize_t>(shape.begin(), shape.end()), bytes);
}

TensorView view_of_new(py::array_t<float>& array) { return view_of(array, "output"); }

// Through NumPy's C API, as pybind11's py::array constructor does, but with
// the shape and strides on the stack: that constructor copies each into a
// std::vector, two allocations of the four a small result cost (callgrind,
// LayerNorm (1, 16) from Python: 2k instructions a result before).
py::object to_numpy(Tensor tensor) {
  if (!tensor.defined()) return py::none();
  const TensorView& v = tensor.view();
  const std::size_t rank = v.shape().size();
  check_array_rank(rank, "result");
  const auto elem = static_cast<std::int64_t>(dtype_size(v.dtype()));
  Py_intptr_t shape[kMaxArrayDims], strides[kMaxArrayDims];
  for (std::size_t i = 0; i < rank; ++i) {
    shape[i] = static_cast<Py_intptr_t>(v.shape()[i]);
    strides[i] = static_cast<Py_intptr_t>(v.strides()[i] * elem);
  }
  // The capsule owns a handle on the storage; the array keeps the capsule.
  py::capsule owner(new Tensor(std::move(tensor)), [](void* p) { delete static_cast<Tensor*>(p); });
  auto& api = py::detail::npy_api::get();
  PyObject* array = api.PyArray_NewFromDescr_(api.PyArray_Type_, numpy_dtype(v.dtype()).release().ptr(),
                                              static_cast<int>(rank), shape, strides, v.raw(),
                                              py::detail::npy_api::NPY_ARRAY_WRITEABLE_, nullptr);
  if (array == nullptr) throw py::error_already_set();
  auto result = py::reinterpret_steal<py::object>(array);
  if (api.PyArray_SetBaseObject_(array, owner.release().ptr()) != 0) throw py::error_already_set();
  return result;
}

py::object tensor_array(const Tensor* tensor, const py::object& owner) {
  if (tensor == nullptr || !tensor->defined()) return py::none();
  check_array_rank(tensor->shape().size(), "tensor");
  std::vector<py::ssize_t> shape(tensor->shape().begin(), tensor->shape().end());
  if (tensor->dtype() == DType::int64)
    return py::array_t<std::int64_t>(shape, tensor->data<std::int64_t>(), owner);
  return py::array_t<float>(shape, tensor->data<float>(), owner);
}

Shape shape_argument(const py::object& obj, const char* name) {
  if (PyIndex_Check(obj.ptr()) != 0) return {size_argument(obj, name)};  // bool too: refused there
  NORMKIT_CHECK(py::isinstance<py::sequence>(obj) && !py::isinstance<py::str>(obj), name,
                ": expected an int or a sequence of ints, got ", type_name(obj));
  Shape shape;
  for (const py::handle item : obj) shape.push_back(size_argument(item, name));
  NORMKIT_CHECK(shape.size() <= kMaxArrayDims, name, ": ", shape.size(),
                " dimensions, expected at most ", kMaxArrayDims, " (NumPy's limit)");
  return shape;
}

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
    // int8 arrays (quantized weights) stay int8; other integer arrays
    // (num_batches_tracked, at any depth of a model) become int64 tensors of
    // their shape; everything else must be float32, float16 or bfloat16.
    const bool integer = py::str(array.dtype().attr("kind")).cast<std::string>() == "i";
    if (integer && itemsize_of(array.dtype()) == 1) {
      const py::array_t<std::int8_t, py::array::c_style | py::array::forcecast> bytes(array);
      Tensor t(Shape(bytes.shape(), bytes.shape() + bytes.ndim()), DType::int8);
      std::copy(bytes.data(), bytes.data() + bytes.size(), t.data<std::int8_t>());
      state.emplace_back(key, t);
    } else if (integer) {
      const py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> ints(array);
      Tensor t(Shape(ints.shape(), ints.shape() + ints.ndim()), DType::int64);
      std::copy(ints.data(), ints.data() + ints.size(), t.data<std::int64_t>());
      state.emplace_back(key, t);
    } else {
      state.emplace_back(key, Tensor::copy_of(view_of(array, key.c_str(), false, true)));
    }
  }
  return state;
}

}  // namespace normkit::python
