// DLPack (the array-exchange protocol of torch, NumPy, JAX, CuPy): views of
// any CPU tensor that exports `__dlpack__` without a copy, and normkit's
// results handed back to PyTorch as torch tensors without a copy. The ABI
// structs are DLPack's (dlpack.h, v0.8, whose layout every version since
// 0.2 keeps), declared here: no header of it is installed on Debian 12.
#pragma once

#include <optional>

#include "numpy_views.hpp"

namespace normkit::python {

// Whether obj is a DLPack producer other than a NumPy array (a NumPy array
// is read through the buffer protocol, as before).
bool is_dlpack_tensor(const py::handle obj);

// A view of a DLPack tensor: on the CPU, float32 (or bfloat16/float16 with
// `sixteen_bit`), any strides; an Error names the argument otherwise (a
// tensor on another device, another dtype). A torch tensor is exported
// through torch's own C entry point (one that requires grad too: the same
// memory). The caller keeps obj alive for the duration of the call (it is a
// function argument).
TensorView dlpack_view(const py::object& obj, const char* name, bool sixteen_bit);

// The kind of array a call's results take: NumPy arrays, or torch tensors
// when the call's first tensor argument is one.
enum class ResultKind { numpy, torch };
ResultKind result_kind_of(const py::handle obj);

// A result as that kind, without a copy (None for an undefined tensor).
py::object to_kind(Tensor tensor, ResultKind kind);

}  // namespace normkit::python
