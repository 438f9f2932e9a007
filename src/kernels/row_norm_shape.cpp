#include "row_norm_shape.hpp"

#include "planned_view.hpp"

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <vector>
#include <string>

namespace normkit {

void check_layer_norm_eps(double eps) {
  NORMKIT_CHECK(eps > 0 && std::isfinite(eps), "eps: expected a positive finite number, got ", eps);
}

double resolved_rms_norm_eps(std::optional<double> eps) {
  const double e = eps.value_or(FLT_EPSILON);
  NORMKIT_CHECK(e > 0 && std::isfinite(e), "eps: expected a positive finite number or None, got ", e);
  return e;
}

Tensor offset_weight(const TensorView& weight, double offset, const Shape& normalized_shape) {
  NORMKIT_CHECK(std::isfinite(offset), "weight_offset: expected a finite number, got ", offset);
  Tensor w(normalized_shape);
  const std::int64_t n = w.numel();
  std::vector<float> values(static_cast<std::size_t>(n), 0.0f);
  if (weight.defined()) copy_into(weight, TensorView(values.data(), normalized_shape));
  for (std::int64_t i = 0; i < n; ++i) w.data<float>()[i] = static_cast<float>(offset) + values[i];
  return w;
}

RowProblem check_row_input(const TensorView& x, const Shape& normalized_shape, const char* name) {
  NORMKIT_CHECK(x.defined(), name, ": expected a tensor, got none");
  check_data_dtype(x, name);
  const std::size_t k = normalized_shape.size();
  NORMKIT_CHECK(k >= 1, "normalized_shape: expected at least one dimension, got ()");
  for (std::int64_t d : normalized_shape)
    NORMKIT_CHECK(d >= 0, "normalized_shape: expected sizes >= 0, got ", shape_string(normalized_shape));
  const Shape& shape = x.shape();
  bool trailing_match = shape.size() >= k;
  for (std::size_t i = 0; trailing_match && i < k; ++i)
    trailing_match = shape[shape.size() - k + i] == normalized_shape[i];
  if (!trailing_match) {
    std::string expected = "(*";
    for (std::int64_t d : normalized_shape) expected += ", " + std::to_string(d);
    detail::throw_error("normalized_shape: given normalized_shape=", shape_string(normalized_shape),
                        ", expected ", name, " with shape ", expected, "), but got ", name,
                        " of shape ", shape_string(shape));
  }
  RowProblem p;
  p.cols = shape_numel(normalized_shape);
  p.rows = 1;
  for (std::size_t i = 0; i + k < shape.size(); ++i) {
    p.rows *= shape[i];
    p.stats_shape.push_back(shape[i]);
  }
  for (std::size_t i = 0; i < k; ++i) p.stats_shape.push_back(1);
  return p;
}

}  // namespace normkit
