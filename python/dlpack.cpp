#include "dlpack.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace normkit::python {
namespace {

// ---- DLPack's ABI (dlpack.h) ---------------------------------------------------

enum DLDeviceType : std::int32_t { kDLCPU = 1 };
enum DLDataTypeCode : std::uint8_t { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBfloat = 4 };

struct DLDevice {
  std::int32_t device_type;
  std::int32_t device_id;
};
struct DLDataType {
  std::uint8_t code;
  std::uint8_t bits;
  std::uint16_t lanes;
};
struct DLTensor {
  void* data;
  DLDevice device;
  std::int32_t ndim;
  DLDataType dtype;
  std::int64_t* shape;
  std::int64_t* strides;  // in elements; null: compact row-major
  std::uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};

constexpr const char* kCapsuleName = "dltensor";

std::optional<DType> dtype_of(const DLDataType& t) {
  if (t.lanes != 1) return std::nullopt;
  if (t.code == kDLFloat && t.bits == 32) return DType::float32;
  if (t.code == kDLFloat && t.bits == 16) return DType::float16;
  if (t.code == kDLBfloat && t.bits == 16) return DType::bfloat16;
  if (t.code == kDLInt && t.bits == 64) return DType::int64;
  if (t.code == kDLInt && t.bits == 8) return DType::int8;
  return std::nullopt;
}

DLDataType dl_dtype(DType dtype) {
  switch (dtype) {
    case DType::float32: return {kDLFloat, 32, 1};
    case DType::float16: return {kDLFloat, 16, 1};
    case DType::bfloat16: return {kDLBfloat, 16, 1};
    case DType::int64: return {kDLInt, 64, 1};
    case DType::int8: return {kDLInt, 8, 1};
  }
  return {kDLFloat, 32, 1};
}

std::string dl_dtype_name(const DLDataType& t) {
  const char* code = t.code == kDLFloat ? "float" : t.code == kDLBfloat ? "bfloat" : t.code == kDLInt ? "int"
                     : t.code == kDLUInt ? "uint" : "type";
  return std::string(code) + std::to_string(t.bits) + (t.lanes != 1 ? "x" + std::to_string(t.lanes) : "");
}

// A normkit tensor exported: the DLManagedTensor owns a handle on the
// tensor's storage and its shape and strides (inline: no allocation of
// their own up to rank 6).
struct Exported {
  Tensor tensor;
  Shape shape;
  Strides strides;
  DLManagedTensor managed{};
};

py::capsule export_capsule(Tensor tensor) {
  auto* e = new Exported{std::move(tensor), {}, {}, {}};
  const TensorView view = e->tensor.view();
  e->shape = view.shape();
  e->strides = view.strides();
  DLTensor& t = e->managed.dl_tensor;
  t.data = view.raw();
  t.device = {kDLCPU, 0};
  t.ndim = static_cast<std::int32_t>(e->shape.size());
  t.dtype = dl_dtype(view.dtype());
  t.shape = e->shape.data();
  t.strides = e->strides.data();
  t.byte_offset = 0;
  e->managed.manager_ctx = e;
  e->managed.deleter = [](DLManagedTensor* self) { delete static_cast<Exported*>(self->manager_ctx); };
  // A capsule no consumer took (its name unchanged) frees what it holds.
  PyObject* capsule = PyCapsule_New(&e->managed, kCapsuleName, [](PyObject* self) {
    if (PyCapsule_IsValid(self, kCapsuleName) == 0) return;  // consumed: the consumer calls the deleter
    auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(self, kCapsuleName));
    managed->deleter(managed);
  });
  if (capsule == nullptr) {
    delete e;
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::capsule>(capsule);
}

// torch's own DLPack entry points (torch._C._to_dlpack / _from_dlpack, in
// every torch since 1.10): a fraction of a microsecond each, where the
// Python-level __dlpack__, __dlpack_device__ and torch.utils.dlpack's
// from_dlpack (argument checks, a detach for a tensor that requires grad)
// take one to three. At decode sizes (a (1, 4096) LayerNorm runs in 2 us)
// those microseconds are the call. Looked up once, when torch is first
// seen, and never released: a static py::object would be released at exit,
// after the interpreter (and its GIL) is gone.
struct TorchDLPack {
  py::object to_dlpack, from_dlpack;
};

const TorchDLPack& torch_dlpack() {
  static const TorchDLPack* entry_points = [] {
    const py::module_ c = py::module_::import("torch._C");
    return new TorchDLPack{c.attr("_to_dlpack"), c.attr("_from_dlpack")};
  }();
  return *entry_points;
}

// Whether obj is a torch.Tensor (or a subclass): its type's module is
// torch's. The answer is kept per type.
bool is_torch_tensor(const py::handle obj) {
  static auto* known = new std::vector<std::pair<PyObject*, bool>>;
  return kept_answer(*known, reinterpret_cast<PyObject*>(Py_TYPE(obj.ptr())), [&] {
    const std::string module = py::str(obj.get_type().attr("__module__"));
    return module == "torch" || module.rfind("torch.", 0) == 0;
  });
}

// Refuses a torch tensor elsewhere than the CPU, by its device's name.
[[noreturn]] void refuse_torch_device(const py::object& tensor, const char* name) {
  const std::string device = py::str(tensor.attr("device").attr("type"));
  detail::throw_error(name, ": expected a tensor on the CPU, got one on ", device,
                      " (move it with .cpu(), or keep torch's own op for it)");
}

// The capsule of a torch tensor on the CPU (any requires_grad: the export
// is of the same memory). The export comes first and its device is read
// from it: asking the tensor's is_cpu first cost every tensor argument an
// attribute lookup. A tensor elsewhere is refused by its device's name,
// also one that cannot be exported (a meta tensor has no DLPack device).
py::object torch_capsule(const py::object& tensor, const char* name) {
  py::object capsule;
  try {
    capsule = torch_dlpack().to_dlpack(tensor);
  } catch (const py::error_already_set&) {
    if (!tensor.attr("is_cpu").cast<bool>()) refuse_torch_device(tensor, name);
    throw;
  }
  const auto* managed = static_cast<const DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), kCapsuleName));
  if (managed == nullptr) throw py::error_already_set();
  if (managed->dl_tensor.device.device_type != kDLCPU) refuse_torch_device(tensor, name);
  return capsule;
}

// The capsule of any other DLPack producer, on the CPU.
py::object dlpack_capsule(const py::object& obj, const char* name) {
  if (py::hasattr(obj, "device") && py::hasattr(obj.attr("device"), "type")) {
    const std::string device = py::str(obj.attr("device").attr("type"));
    NORMKIT_CHECK(device == "cpu", name, ": expected a tensor on the CPU, got one on ", device,
                  " (move it to the CPU first)");
  }
  const py::tuple device = obj.attr("__dlpack_device__")();
  const int device_type = device[0].cast<int>();
  NORMKIT_CHECK(device_type == kDLCPU, name, ": expected a tensor on the CPU, got one on DLPack device type ",
                device_type, " (move it to the CPU first)");
  return obj.attr("__dlpack__")();
}

}  // namespace

bool is_dlpack_tensor(const py::handle obj) {
  if (is_torch_tensor(obj)) return true;
  return !py::isinstance<py::array>(obj) && py::hasattr(obj, "__dlpack__") && py::hasattr(obj, "__dlpack_device__");
}

TensorView dlpack_view(const py::object& obj, const char* name, bool sixteen_bit) {
  const py::object capsule = is_torch_tensor(obj) ? torch_capsule(obj, name) : dlpack_capsule(obj, name);
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), kCapsuleName));
  if (managed == nullptr) throw py::error_already_set();
  // Not consumed: the capsule's own destructor returns it to the producer
  // when the capsule goes; the memory stays obj's (alive through the call).
  const DLTensor& t = managed->dl_tensor;
  const std::optional<DType> dtype = dtype_of(t.dtype);
  const bool floating = dtype && (*dtype == DType::float32 || (sixteen_bit && is_floating(*dtype)));
  NORMKIT_CHECK(floating, name, ": expected a float32 tensor", sixteen_bit ? " (or bfloat16, or float16)" : "",
                ", got ", dl_dtype_name(t.dtype));
  Shape shape(t.shape, t.shape + t.ndim);
  Strides strides = t.strides != nullptr ? Strides(t.strides, t.strides + t.ndim) : contiguous_strides(shape);
  auto* data = static_cast<std::byte*>(t.data) + t.byte_offset;
  return TensorView(data, std::move(shape), std::move(strides), *dtype);
}

ResultKind result_kind_of(const py::handle obj) {
  return is_torch_tensor(obj) ? ResultKind::torch : ResultKind::numpy;
}

py::object to_kind(Tensor tensor, ResultKind kind) {
  if (kind == ResultKind::numpy || !tensor.defined()) return to_numpy(std::move(tensor));
  // Looked up once and never released: a static py::object would be
  // released at exit, after the interpreter (and its GIL) is gone.
  return torch_dlpack().from_dlpack(export_capsule(std::move(tensor)));
}

}  // namespace normkit::python
