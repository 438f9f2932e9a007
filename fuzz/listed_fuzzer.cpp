// libFuzzer harness over the op table and the shared case list: the input
// bytes choose one of the list's "fuzz" cases (tests/cases/ops.txt) and its
// forward or backward function from the table (src/kernels/op_table.hpp),
// then redraw each argument by the kind the table gives it: kept as the case
// has it, left out, of another shape, layout or dtype, or (a number, a size)
// out of range; and each output right or of a wrong shape. Then, as the
// functional harness:
// - a call refused with normkit::Error has written nothing: every output
//   keeps its sentinels and every argument updated in place its values;
// - a call that succeeds agrees with the reference on the same arguments.
// A new op in the table is fuzzed once the list has a fuzz case of it.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "cases/case_list.hpp"
#include "kernels/op_table.hpp"
#include "normkit/threading.hpp"

namespace normkit {
namespace {

constexpr float kSentinel = 12345.0f;

[[noreturn]] void finding(const char* function, const char* what, const char* detail = "") {
  std::fprintf(stderr, "listed_fuzzer: %s: %s%s%s\n", function, what, *detail ? ": " : "", detail);
  std::abort();
}

std::vector<float> values_of(const TensorView& v) {
  if (!v.defined() || v.dtype() != DType::float32) return {};
  const Tensor t = Tensor::copy_of(v);
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

bool close(const std::vector<float>& fast, const std::vector<float>& reference) {
  if (fast.size() != reference.size()) return false;
  double scale = 1;
  for (float r : reference)
    if (std::isfinite(r)) scale = std::max(scale, static_cast<double>(std::abs(r)));
  for (std::size_t i = 0; i < fast.size(); ++i) {
    if (std::isnan(fast[i]) != std::isnan(reference[i])) return false;
    if (!std::isnan(fast[i]) && std::abs(static_cast<double>(fast[i]) - reference[i]) > 2e-3 * scale) return false;
  }
  return true;
}

// The call's arguments in short, for a finding's message.
std::string describe(const ops::Function& f, const std::vector<ops::Value>& values) {
  std::string text;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const ops::Value& v = values[i];
    text += std::string(i ? ", " : "") + f.args[i].name + "=";
    if (const auto* t = std::get_if<TensorView>(&v)) {
      text += std::string(dtype_name(t->dtype())) + shape_string(t->shape()) + " strides";
      for (std::int64_t s : t->strides()) text += " " + std::to_string(s);
    } else if (const auto* x = std::get_if<double>(&v)) {
      text += std::to_string(*x);
    } else if (const auto* b = std::get_if<bool>(&v)) {
      text += *b ? "true" : "false";
    } else if (const auto* n = std::get_if<std::int64_t>(&v)) {
      text += std::to_string(*n);
    } else if (const auto* shape = std::get_if<Shape>(&v)) {
      text += shape_string(*shape);
    } else {
      text += "None";
    }
  }
  return text;
}

// Draws one call's arguments and outputs from the input bytes.
struct Draw {
  FuzzedDataProvider& in;
  std::vector<Tensor> storage;  // everything the views point into

  TensorView tensor(const Shape& shape, float fill) {
    const char* layouts[] = {"contiguous", "channels_last", "permuted", "strided"};
    const TensorView v = ops::layout_tensor(storage, shape, layouts[in.ConsumeIntegralInRange(0, 3)],
                                            in.ConsumeIntegral<std::uint32_t>(), fill, 1.0f);
    return v;
  }

  // A tensor argument: as the case has it (most often), None, another shape,
  // int64, or its values in another layout.
  ops::Value tensor_argument(const ops::Value& kept) {
    const TensorView v = std::holds_alternative<TensorView>(kept) ? std::get<TensorView>(kept) : TensorView{};
    Shape shape = v.defined() ? v.shape() : Shape{3};
    switch (in.ConsumeIntegralInRange(0, 11)) {
      case 0: return std::monostate{};
      case 1:
        shape.push_back(2);
        return tensor(shape, 0.5f);
      case 2:
        if (!shape.empty()) shape.back() += 1;
        return tensor(shape, 0.5f);
      case 3:
        storage.emplace_back(shape, DType::int64);
        return storage.back().view();
      case 4: {
        if (!v.defined()) return kept;
        const TensorView moved = tensor(shape, 0.0f);
        copy_into(v, moved);
        return moved;
      }
      default: return kept;
    }
  }

  ops::Value argument(const ops::Arg& a, const ops::Value& kept) {
    switch (a.kind) {
      case ops::ArgKind::tensor:
      case ops::ArgKind::optional_tensor:
      case ops::ArgKind::updated_tensor: return tensor_argument(kept);
      case ops::ArgKind::shape: {
        Shape s = std::get<Shape>(kept);
        switch (in.ConsumeIntegralInRange(0, 7)) {
          case 0: return Shape{};
          case 1: s.back() += 1; return s;
          case 2: s.insert(s.begin(), 1); return s;
          default: return s;
        }
      }
      case ops::ArgKind::integer: {
        const std::int64_t choices[] = {std::get<std::int64_t>(kept), 0, -1, 2, 3, std::int64_t{1} << 40};
        return in.ConsumeBool() ? kept : ops::Value(choices[in.ConsumeIntegralInRange(0, 5)]);
      }
      case ops::ArgKind::number:
      case ops::ArgKind::optional_number: {
        const double choices[] = {1e-5, 1e-3, 0.5, 1.0, 0.0, -1.0, 1.5, std::numeric_limits<double>::quiet_NaN()};
        if (in.ConsumeBool()) return kept;
        if (a.kind == ops::ArgKind::optional_number && in.ConsumeIntegralInRange(0, 3) == 0) return std::monostate{};
        return choices[in.ConsumeIntegralInRange(0, 7)];
      }
      case ops::ArgKind::flag: return in.ConsumeBool();
    }
    return kept;
  }

  // An output: the shape the valid call gave (or now and then a wrong one), all sentinels.
  TensorView output(const Tensor& valid) {
    if (!valid.defined() || in.ConsumeIntegralInRange(0, 15) == 0) return {};
    Shape s = valid.shape();
    if (!s.empty() && in.ConsumeIntegralInRange(0, 15) == 0) s.back() += 1;
    storage.emplace_back(s);
    std::fill(storage.back().data<float>(), storage.back().data<float>() + storage.back().numel(), kSentinel);
    return storage.back().view();
  }
};

void listed_call(FuzzedDataProvider& in) {
  static const std::vector<cases::ListedCase> listed = cases::listed_cases("fuzz");
  const cases::ListedCase& c = listed[in.ConsumeIntegralInRange<std::size_t>(0, listed.size() - 1)];
  const ops::Op& op = ops::op(c.op);
  const bool backward = in.ConsumeBool();
  const ops::Function& f = backward ? op.backward : op.forward;
  ops::CaseArguments args = op.arguments(c);
  const std::vector<Tensor> forward = op.forward.call(args.forward, Impl::fast);
  const std::vector<ops::Value> valid_values = backward ? args.backward(forward) : args.forward;
  const std::vector<Tensor> valid = f.call(valid_values, Impl::fast);  // the outputs' shapes

  Draw d{in, {}};
  std::vector<ops::Value> values;
  for (std::size_t i = 0; i < f.args.size(); ++i) values.push_back(d.argument(f.args[i], valid_values[i]));
  std::vector<TensorView> outputs, updated;
  for (const Tensor& t : valid) outputs.push_back(d.output(t));
  for (std::size_t i = 0; i < f.args.size(); ++i)
    if (f.args[i].kind == ops::ArgKind::updated_tensor && std::holds_alternative<TensorView>(values[i]))
      updated.push_back(std::get<TensorView>(values[i]));

  std::vector<std::vector<float>> before;
  for (const TensorView& u : updated) before.push_back(values_of(u));
  try {
    f.run(values, outputs, Impl::fast);
  } catch (const Error& e) {
    // (A finding names the function and the refusal.)
    for (const TensorView& o : outputs)
      for (float v : values_of(o))
        if (v != kSentinel) finding(f.name, "a refused call wrote an output", e.what());
    for (std::size_t i = 0; i < updated.size(); ++i)
      if (values_of(updated[i]) != before[i])
        finding(f.name, "a refused call changed an argument updated in place", e.what());
    return;
  }
  // The reference on fresh outputs, with the updated arguments as they were.
  std::vector<std::vector<float>> fast;
  for (const TensorView& o : outputs) fast.push_back(values_of(o));
  for (const TensorView& u : updated) fast.push_back(values_of(u));
  std::vector<TensorView> fresh;
  for (const TensorView& o : outputs) {
    if (!o.defined()) {
      fresh.emplace_back();
      continue;
    }
    d.storage.emplace_back(o.shape());
    std::fill(d.storage.back().data<float>(), d.storage.back().data<float>() + d.storage.back().numel(), kSentinel);
    fresh.push_back(d.storage.back().view());
  }
  for (std::size_t i = 0; i < updated.size(); ++i) {
    if (updated[i].dtype() != DType::float32) continue;
    Tensor t(updated[i].shape());
    std::copy(before[i].begin(), before[i].end(), t.data<float>());
    copy_into(t.view(), updated[i]);
  }
  try {
    f.run(values, fresh, Impl::reference);
  } catch (const Error& e) {
    finding(f.name, "the reference refused what the fast kernels accepted", e.what());
  }
  std::size_t k = 0;
  for (const TensorView& o : fresh)
    if (!close(fast[k++], values_of(o)))
      finding(f.name, "fast and reference outputs differ", describe(f, values).c_str());
  for (const TensorView& u : updated)
    if (!close(fast[k++], values_of(u)))
      finding(f.name, "fast and reference in-place updates differ", describe(f, values).c_str());
}

}  // namespace
}  // namespace normkit

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool one_thread = (normkit::set_num_threads(1), true);  // reproducible runs
  (void)one_thread;
  FuzzedDataProvider in(data, size);
  normkit::listed_call(in);
  return 0;
}
