// LayerNorm and RMSNorm with an int8 output, for quantized inference
// (oneDNN's layer normalization with an s8 destination, vLLM's per-token
// dynamic quantizing RMSNorm). y, the norm's float32 result, is not written
// to memory: each row is normalized into a buffer of its thread's and
// quantized from there.
//
//   static (scale given):  q = clamp(round_half_even(y / scale), -128, 127),
//                          scales = [scale], shape (1,)
//   dynamic (no scale):    per row, scale_row = max|y_row| / 127 (1 where the
//                          row is all zeros), q as above with it; scales has
//                          rstd's shape (*leading, 1, ..., 1)
//
// y / scale and the rounding are float32 (round half to even); a NaN y gives
// 0. The statistics are float32, as the norm's.
#pragma once

#include <optional>

#include "normkit/layer_norm.hpp"

namespace normkit {

struct RMSNormQuantResult {
  Tensor q, scales, rstd;
};
RMSNormQuantResult rms_norm_quant_forward(const RMSNormInputs& in, const RMSNormOptions& options,
                                          std::optional<double> scale);

struct LayerNormQuantResult {
  Tensor q, scales, mean, rstd;
};
LayerNormQuantResult layer_norm_quant_forward(const LayerNormInputs& in, const LayerNormOptions& options,
                                              std::optional<double> scale);

}  // namespace normkit
