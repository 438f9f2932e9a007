// How the row norms' front ends (LayerNorm, RMSNorm, their fused add and
// int8 forms) hand a tensor to the row kernels (row_apply.hpp): in place
// whenever each row's elements are contiguous, whatever its dtype (float32,
// bfloat16, float16) and whatever the offsets between rows (the heads of a
// strided (B, T, H, D) view of q: QK-norm without a copy), and otherwise
// through a contiguous float32 copy (an input) or buffer (an output, copied
// back by finish()).
#pragma once

#include <cstdint>
#include <vector>

#include "normkit/tensor.hpp"
#include "row_storage.hpp"

namespace normkit::kernels {

class RowOperand {
 public:
  enum class Role { input, output };
  // t seen as (rows, cols); an undefined t gives data() null.
  RowOperand(const TensorView& t, std::int64_t rows, std::int64_t cols, Role role);
  RowOperand(const RowOperand&) = delete;
  RowOperand& operator=(const RowOperand&) = delete;

  const void* data() const { return data_; }
  void* mutable_data() const { return data_; }
  const RowStorage& at() const { return at_; }
  void finish();  // an output written through a buffer: copies it into t

 private:
  const TensorView* out_ = nullptr;
  Tensor owned_;
  std::vector<std::int64_t> offsets_;
  RowStorage at_;
  void* data_ = nullptr;
};

}  // namespace normkit::kernels
