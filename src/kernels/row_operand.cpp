#include "row_operand.hpp"

namespace normkit::kernels {
namespace {

// Whether the last dimensions of t, cols elements in all, are laid out as one
// contiguous block (a dimension of size 1 may have any stride).
bool rows_contiguous(const TensorView& t, std::int64_t cols) {
  std::int64_t expected = 1, covered = 1;
  for (std::size_t i = t.shape().size(); i-- > 0 && covered < cols;) {
    if (t.size(static_cast<std::int64_t>(i)) != 1 && t.strides()[i] != expected) return false;
    expected *= t.size(static_cast<std::int64_t>(i));
    covered *= t.size(static_cast<std::int64_t>(i));
  }
  return true;
}

// The element offset of each row: an odometer over the leading dimensions.
std::vector<std::int64_t> row_offsets(const TensorView& t, std::int64_t rows, std::int64_t cols) {
  std::size_t leading = t.shape().size();
  for (std::int64_t covered = 1; leading > 0 && covered < cols;) covered *= t.size(static_cast<std::int64_t>(--leading));
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(rows));
  std::vector<std::int64_t> index(leading, 0);
  std::int64_t at = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    offsets[static_cast<std::size_t>(r)] = at;
    for (std::size_t d = leading; d-- > 0;) {
      at += t.strides()[d];
      if (++index[d] < t.size(static_cast<std::int64_t>(d))) break;
      at -= t.strides()[d] * index[d];
      index[d] = 0;
    }
  }
  return offsets;
}

}  // namespace

RowOperand::RowOperand(const TensorView& t, std::int64_t rows, std::int64_t cols, Role role) {
  if (!t.defined()) return;
  if (t.numel() == 0 || t.is_contiguous()) {
    at_.dtype = t.dtype();
    data_ = t.raw();
    return;
  }
  if (rows_contiguous(t, cols)) {
    at_.dtype = t.dtype();
    offsets_ = row_offsets(t, rows, cols);
    at_.row_offsets = offsets_.data();
    data_ = t.raw();
    return;
  }
  owned_ = Tensor(t.shape());
  if (role == Role::input) copy_into(t, owned_);
  else out_ = &t;
  data_ = owned_.data<float>();
}

void RowOperand::finish() {
  if (out_ != nullptr) copy_into(owned_, *out_);
}

}  // namespace normkit::kernels
