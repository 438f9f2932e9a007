#include "normkit/nn/fold.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/planned_view.hpp"

namespace normkit::nn {

FoldedLayer fold_batch_norm(const TensorView& weight, const TensorView& bias,
                            const BatchNormEvalParams& bn, FoldInto layer, std::int64_t groups) {
  NORMKIT_CHECK(weight.defined() && weight.dtype() == DType::float32, "weight: expected a float32 tensor");
  NORMKIT_CHECK(layer == FoldInto::linear ? weight.dim() == 2 : weight.dim() >= 3, "weight: expected ",
                layer == FoldInto::linear ? "(out, in)"
                : layer == FoldInto::conv ? "(out, in / groups, *kernel)"
                                          : "(in, out / groups, *kernel)",
                " of rank ", layer == FoldInto::linear ? "2" : ">= 3", ", got shape ",
                shape_string(weight.shape()));
  NORMKIT_CHECK(groups >= 1, "groups: expected >= 1, got ", groups);
  // Output channels of the layer, and how they appear in the weight.
  std::int64_t C = weight.size(0);
  if (layer == FoldInto::conv_transpose) {
    NORMKIT_CHECK(weight.size(0) % groups == 0, "groups: expected a divisor of the input channels ",
                  weight.size(0), ", got ", groups);
    C = weight.size(1) * groups;
  }
  NORMKIT_CHECK(layer != FoldInto::linear || groups == 1, "groups: a Linear layer has none: expected 1, got ", groups);
  NORMKIT_CHECK(layer != FoldInto::conv || C % groups == 0, "groups: expected a divisor of the output channels ", C,
                ", got ", groups);
  NORMKIT_CHECK(bn.running_mean.defined() && bn.running_var.defined(),
                "running_mean: folding needs running statistics, got none");
  check_channel_vector(bn.running_mean, "running_mean", C);
  check_channel_vector(bn.running_var, "running_var", C);
  check_channel_vector(bn.weight, "bn_weight", C);
  check_channel_vector(bn.bias, "bn_bias", C);
  check_channel_vector(bias, "bias", C);
  NORMKIT_CHECK(bn.eps > 0, "eps: expected a positive number, got ", bn.eps);

  const std::vector<double> rm = read_values(bn.running_mean), rv = read_values(bn.running_var);
  const std::vector<float> gamma = read_channels(bn.weight, C, 1.0f), beta = read_channels(bn.bias, C, 0.0f);
  const std::vector<float> b = read_channels(bias, C, 0.0f);
  std::vector<double> scale(C), folded_bias(C);
  for (std::int64_t o = 0; o < C; ++o) {
    scale[o] = gamma[o] / std::sqrt(rv[o] + bn.eps);
    folded_bias[o] = (b[o] - rm[o]) * scale[o] + beta[o];
  }
  FoldedLayer out{Tensor::copy_of(weight), Tensor({C})};
  write_values(folded_bias, out.bias);
  float* w = out.weight.data<float>();
  const std::int64_t per_index0 = out.weight.numel() / std::max<std::int64_t>(weight.size(0), 1);
  if (layer == FoldInto::conv_transpose) {
    const std::int64_t in_per_group = weight.size(0) / groups, out_per_group = weight.size(1);
    const std::int64_t kernel = per_index0 / std::max<std::int64_t>(out_per_group, 1);
    for (std::int64_t i = 0; i < weight.size(0); ++i)
      for (std::int64_t j = 0; j < out_per_group; ++j) {
        const double s = scale[(i / in_per_group) * out_per_group + j];
        float* block = w + (i * out_per_group + j) * kernel;
        for (std::int64_t k = 0; k < kernel; ++k) block[k] = static_cast<float>(block[k] * s);
      }
  } else {
    for (std::int64_t o = 0; o < C; ++o)
      for (std::int64_t k = 0; k < per_index0; ++k)
        w[o * per_index0 + k] = static_cast<float>(w[o * per_index0 + k] * scale[o]);
  }
  return out;
}

FoldedLayer fold_batch_norm(const TensorView& weight, const TensorView& bias, const BatchNorm& bn,
                            FoldInto layer, std::int64_t groups) {
  NORMKIT_CHECK(bn.options().track_running_stats, bn.name(),
                ": folding needs running statistics (track_running_stats=True)");
  return fold_batch_norm(weight, bias,
                         {bn.running_mean, bn.running_var, bn.weight.value, bn.bias.value, bn.options().eps},
                         layer, groups);
}

}  // namespace normkit::nn
