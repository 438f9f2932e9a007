#include "planned_view.hpp"

#include <cstddef>
#include <utility>
#include <vector>

#include "channel_coefficients.hpp"

namespace normkit::kernels {
namespace {
bool has_layout(const TensorView& t, Layout layout) {
  return layout == Layout::contiguous ? t.is_contiguous() : t.is_channels_last();
}
MemoryFormat format_of(Layout layout) {
  return layout == Layout::contiguous ? MemoryFormat::contiguous : MemoryFormat::channels_last;
}
}  // namespace

Layout layout_of(const TensorView& x) {
  // An empty tensor, or one that is both, is read as contiguous.
  return !x.is_contiguous() && x.numel() > 0 && x.is_channels_last() ? Layout::channels_last : Layout::contiguous;
}

bool sixteen_bits_in_place(const TensorView& x, std::initializer_list<const TensorView*> others) {
  if (x.dtype() == DType::float32 || x.numel() == 0) return false;
  const Layout layout = layout_of(x);
  const auto in_layout = [&](const TensorView& t) { return t.dtype() == x.dtype() && has_layout(t, layout); };
  if (!in_layout(x)) return false;
  for (const TensorView* t : others)
    if (t->defined() && !in_layout(*t)) return false;
  return true;
}

PlannedInput::PlannedInput(const TensorView& x) : PlannedInput(x, layout_of(x)) {}

PlannedInput::PlannedInput(const TensorView& t, Layout layout) : layout_(layout) {
  if (!t.defined() || t.numel() == 0 || (t.dtype() == DType::float32 && has_layout(t, layout_))) {
    data_ = t.data<float>();
  } else {
    owned_ = Tensor(t.shape(), DType::float32, format_of(layout_));
    copy_into(t, owned_);
    data_ = owned_.data<float>();
  }
}

PlannedOutput::PlannedOutput(const TensorView& out, Layout layout) : out_(&out) {
  if (out.dtype() == DType::float32 && has_layout(out, layout)) {
    data_ = out.data<float>();
  } else {
    owned_ = Tensor(out.shape(), DType::float32, format_of(layout));
    data_ = owned_.data<float>();
  }
}

void PlannedOutput::finish() {
  if (owned_.defined()) copy_into(owned_, *out_);
}

}  // namespace normkit::kernels

namespace normkit {

namespace {

// float32, or `also` when it is another floating dtype.
void check_float32_or(const TensorView& t, const char* name, DType also) {
  if (also == DType::float32 || !is_floating(also)) {
    NORMKIT_CHECK(t.dtype() == DType::float32, name, ": expected float32, got ", dtype_name(t.dtype()));
    return;
  }
  NORMKIT_CHECK(t.dtype() == DType::float32 || t.dtype() == also, name, ": expected float32 or ",
                dtype_name(also), " (the input's dtype), got ", dtype_name(t.dtype()));
}

}  // namespace

void check_data_dtype(const TensorView& t, const char* name) {
  NORMKIT_CHECK(is_floating(t.dtype()), name, ": expected float32, bfloat16 or float16, got ",
                dtype_name(t.dtype()));
}

void check_channel_vector(const TensorView& t, const char* name, std::int64_t C, DType also) {
  if (!t.defined()) return;
  check_float32_or(t, name, also);
  NORMKIT_CHECK(t.dim() == 1 && t.size(0) == C, name, ": expected shape (", C,
                ",) (one value per channel), got ", shape_string(t.shape()));
}

namespace {

// The first and one past the last byte a vector's elements occupy.
std::pair<const std::byte*, const std::byte*> vector_bytes(const TensorView& t) {
  const auto* first = static_cast<const std::byte*>(t.raw());
  const std::int64_t span = (t.size(0) - 1) * t.stride(0) * static_cast<std::int64_t>(dtype_size(t.dtype()));
  const std::byte* last = first + span;
  if (last < first) std::swap(first, last);
  return {first, last + dtype_size(t.dtype())};
}

}  // namespace

void check_updated_pair(const TensorView& a, const char* a_name, const TensorView& b, const char* b_name) {
  for (const auto& [t, name] : {std::pair{&a, a_name}, std::pair{&b, b_name}})
    NORMKIT_CHECK(!t->defined() || t->size(0) <= 1 || t->stride(0) != 0, name,
                  ": expected memory of its own for each element (it is updated in place), got stride 0");
  if (!a.defined() || !b.defined() || a.size(0) == 0 || b.size(0) == 0) return;
  const auto [a_first, a_end] = vector_bytes(a);
  const auto [b_first, b_end] = vector_bytes(b);
  NORMKIT_CHECK(a_end <= b_first || b_end <= a_first, b_name, ": shares memory with ", a_name,
                " (both are updated in place): pass separate arrays");
}

std::vector<float> read_channels(const TensorView& t, std::int64_t C, float fallback) {
  std::vector<float> values(static_cast<std::size_t>(C), fallback);
  if (!t.defined()) return values;
  if (t.dtype() == DType::float32) {
    for (std::int64_t c = 0; c < C; ++c) values[c] = t.data<float>()[c * t.stride(0)];
    return values;
  }
  copy_into(t, TensorView(values.data(), {C}));
  return values;
}

std::vector<double> read_values(const TensorView& t) {
  if (!t.defined()) return {};
  if (t.is_contiguous() && t.dtype() == DType::float32) {  // (no copy: a decode-sized call is mostly overhead)
    const float* p = t.data<float>();
    return std::vector<double>(p, p + t.numel());
  }
  Tensor contiguous(t.shape());
  copy_into(t, contiguous);
  const float* p = contiguous.data<float>();
  return std::vector<double>(p, p + contiguous.numel());
}

void write_values(const std::vector<double>& values, const TensorView& t) {
  write_each(t, [&](std::int64_t i) { return values[static_cast<std::size_t>(i)]; });
}

void update_running_stats(const TensorView& running_mean, const TensorView& running_var,
                          const std::vector<double>& mean, const std::vector<double>& var, std::int64_t groups,
                          double count, bool unbiased, double momentum) {
  std::vector<double> rm = read_values(running_mean), rv = read_values(running_var);
  kernels::running_update({.mean = mean.data(),
                           .var = var.data(),
                           .groups = groups,
                           .C = static_cast<std::int64_t>(rm.size()),
                           .count = count,
                           .momentum = momentum,
                           .unbiased = unbiased,
                           .running_mean = rm.data(),
                           .running_var = rv.data()});
  write_values(rm, running_mean);
  write_values(rv, running_var);
}

void check_optional_shape(const TensorView& t, const char* name, const Shape& shape, DType also) {
  if (!t.defined()) return;
  check_float32_or(t, name, also);
  NORMKIT_CHECK(t.shape() == shape, name, ": expected shape ", shape_string(shape), ", got ",
                shape_string(t.shape()));
}

void check_required_shape(const TensorView& t, const char* name, const Shape& shape, const char* why,
                          DType also) {
  NORMKIT_CHECK(t.defined(), name, ": expected a tensor of shape ", shape_string(shape), " ",
                why, ", got none");
  check_optional_shape(t, name, shape, also);
}

}  // namespace normkit
