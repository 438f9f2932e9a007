// The functional ops in one table: each op's forward and backward functions
// with their names, arguments (in DESIGN.md section 4's order), results and
// documentation, the gradients its backward gives, how it maps onto the
// statistics engine, and how to run it on a listed test case.
//
// What takes its lists from here: the Python module's functional API
// (python/bind_functional.cpp binds every function of the table), its type
// stubs (generated from the table: tools/stubs.cpp), the benchmark's normkit
// rows (src/bench/cases.cpp), the kernel tests' sweep over the shared case
// list (tests/cpp/test_listed_cases.cpp) and the functional fuzzer
// (fuzz/functional_fuzzer.cpp). docs/architecture.md says how to add an op.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "normkit/batch_norm.hpp"  // Impl
#include "normkit/tensor.hpp"

namespace normkit::ops {

enum class ArgKind {
  tensor,           // a float32 tensor (x, dy: or bfloat16, float16)
  optional_tensor,  // a float32 tensor (or in x's dtype), or None
  updated_tensor,   // an optional tensor updated in place (running statistics)
  shape,            // normalized_shape: an int or a sequence of ints
  integer,          // num_groups
  number,           // eps, momentum
  optional_number,  // RMSNorm's eps: None is float32's machine epsilon
  flag,             // training, use_input_stats
};

struct Arg {
  const char* name;
  ArgKind kind;
  const char* about;  // its shape or meaning, for documentation: "(C,) or None"
  // The name errors give it, when not `name` (PyTorch calls LayerNorm's x "input").
  const char* error_name = nullptr;
  // updated_tensor: the flag argument that says when it is written ("training").
  const char* updated_when = nullptr;
  // number: the default, when the argument may be left out.
  std::optional<double> default_number = std::nullopt;
};

// An argument's value in a call through the table: None, a tensor, a shape,
// an integer, a number or a flag.
using Value = std::variant<std::monostate, TensorView, Shape, std::int64_t, double, bool>;

struct Result {
  const char* name;
  bool may_be_none = false;  // None when the argument it differentiates is None
};

struct Function {
  const char* name;             // "batch_norm_forward"
  std::vector<Arg> args;        // in the call's order
  std::vector<Result> results;  // the returned tuple, in order
  const char* doc;                   // the first lines of the docstring
  // Runs the function: values in the order of args, results in the order of
  // `results`, allocated (an undefined tensor is None). Throws normkit::Error,
  // naming the argument, before anything is written.
  std::function<std::vector<Tensor>(const std::vector<Value>& values, Impl impl)> call;
  // The same into results allocated before (views in the order of `results`;
  // an undefined view: not wanted), for timing without allocation.
  std::function<void(const std::vector<Value>& values, const std::vector<TensorView>& out, Impl impl)> run;

  std::size_t index_of(const std::string& arg) const;  // throws for an unknown name
};

// One test or benchmark problem from the shared case list (cases/ops.txt).
struct OpCase {
  std::string op;          // an Op's name
  Shape shape;             // x's logical shape
  std::string layout;      // contiguous, channels_last, permuted or strided
  std::string mode;        // train or eval
  std::int64_t groups = 0; // group_norm's num_groups (0: the op's default)
  DType dtype = DType::float32;  // the data tensors' (x, dy, residual, ...)
  std::uint64_t seed = 1;
};

// The tensors of one case's calls, kept alive while their views are used.
struct CaseArguments {
  std::vector<Tensor> storage;
  std::vector<Value> forward;  // forward's arguments
  // Backward's arguments from forward's results (dy drawn in x's layout).
  std::function<std::vector<Value>(const std::vector<Tensor>& forward_results)> backward;
};

struct Op {
  const char* name;   // "batch_norm"
  const char* title;  // "BatchNorm": for tables and reports
  const char* plan;  // the statistics plan(s) (A, B, C, D): docs/architecture.md
  Function forward, backward;
  // The gradient mask: the forward arguments that backward differentiates, in
  // the order of backward's results (dx, dweight, ...).
  std::vector<const char*> gradients;
  // The arguments of a case of this op: x of the case's shape in its layout
  // (N(0.5, 1.7^2)), weight and bias around 1 and 0, running statistics, and
  // the mode's flags. Deterministic for case.seed.
  std::function<CaseArguments(const OpCase& c)> arguments;
};

// Every op, in the order of DESIGN.md section 4.
const std::vector<Op>& table();
// The op named `name`; throws normkit::Error naming the known ones.
const Op& op(const std::string& name);

// A tensor of `shape` in a test layout (contiguous, channels_last, permuted:
// memory order (C, N, ...), strided: every other element of the last dim),
// filled from N(mean, stddev) with `seed` in logical order (drawn in float32,
// then rounded once to `dtype`); `storage` keeps its memory.
TensorView layout_tensor(std::vector<Tensor>& storage, const Shape& shape, const std::string& layout,
                         std::uint64_t seed, float mean = 0.0f, float stddev = 1.0f,
                         DType dtype = DType::float32);

}  // namespace normkit::ops
