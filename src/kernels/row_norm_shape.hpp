// Shapes of the row normalizations (LayerNorm, RMSNorm): x is
// (*leading, *normalized_shape), seen as a (rows, cols) matrix.
#pragma once

#include <optional>

#include "normkit/tensor.hpp"

namespace normkit {

struct RowProblem {
  std::int64_t rows = 0, cols = 0;
  Shape stats_shape;  // leading dims, then a 1 per normalized dim (as ATen)
};

// Checks x (float32, trailing dims equal to normalized_shape) and names the
// argument in the error, as PyTorch's message does.
RowProblem check_row_input(const TensorView& x, const Shape& normalized_shape, const char* name);

// LayerNorm's eps: positive and finite, or an Error naming it.
void check_layer_norm_eps(double eps);
// RMSNorm's eps: the given one (positive and finite), or float32's machine
// epsilon for none, as torch.nn.RMSNorm.
double resolved_rms_norm_eps(std::optional<double> eps);

// RMSNorm's weight with an offset (Gemma's 1 + weight): float(offset) +
// weight in float32, a tensor of normalized_shape (offset alone without a
// weight). Checks that the offset is finite.
Tensor offset_weight(const TensorView& weight, double offset, const Shape& normalized_shape);

}  // namespace normkit
