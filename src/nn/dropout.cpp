#include "normkit/nn/dropout.hpp"

#include "normkit/nn/grad_mode.hpp"

#include <charconv>

#include "layer_checks.hpp"
#include "parallel_loop.hpp"
#include "normkit/error.hpp"

namespace normkit::nn {
Dropout::Dropout(double p, Generator& gen) : Layer("Dropout"), p_(p), seed_(gen.next()) {
  NORMKIT_CHECK(p >= 0.0 && p < 1.0, "Dropout: p: expected a probability in [0, 1), got ", p);
}

Tensor Dropout::forward(const TensorView& x) {
  NORMKIT_CHECK(x.defined() && x.dtype() == DType::float32, "Dropout: x: expected a float32 tensor, got ",
                shape_or_none(x));
  Tensor y = Tensor::copy_of(x);
  saved_shape_ = grad_enabled() ? y.shape() : Shape{};
  if (!is_training() || p_ == 0.0) {
    saved_scale_ = Tensor();
    return y;
  }
  const std::uint64_t stream = mix64(seed_ ^ mix64(forwards_++ + 0x9e3779b97f4a7c15ULL));
  // Element i is kept when its hash's top 24 bits, as a fraction, are >= p.
  const auto threshold = static_cast<std::uint64_t>(p_ * 16777216.0);
  const float keep_scale = static_cast<float>(1.0 / (1.0 - p_));
  saved_scale_ = Tensor(y.shape());
  float* scale = saved_scale_.data<float>();
  float* out = y.data<float>();
  parallel_for_elements(y.numel(), [=](std::int64_t i) {
    scale[i] = (mix64(stream + static_cast<std::uint64_t>(i)) >> 40) >= threshold ? keep_scale : 0.0f;
    out[i] *= scale[i];
  });
  return y;
}

Tensor Dropout::backward(const TensorView& dy) {
  NORMKIT_CHECK(!saved_shape_.empty(), "Dropout: backward before forward", kNoGradHint);
  check_output_gradient(dy, saved_shape_, "Dropout");
  if (!saved_scale_.defined()) return Tensor::copy_of(dy);
  Tensor holder;
  const float* g = contiguous_values(dy, holder);
  Tensor dx(saved_shape_);
  float* out = dx.data<float>();
  const float* scale = saved_scale_.data<float>();
  parallel_for_elements(dx.numel(), [=](std::int64_t i) { out[i] = g[i] * scale[i]; });
  return dx;
}

std::string Dropout::extra_state() const { return std::to_string(seed_) + ":" + std::to_string(forwards_); }

void Dropout::set_extra_state(const std::string& state) {
  std::uint64_t seed = 0, forwards = 0;
  const char* const end = state.data() + state.size();
  const auto [colon, seed_error] = std::from_chars(state.data(), end, seed);
  bool ok = seed_error == std::errc() && colon != end && *colon == ':';
  if (ok) {
    const auto [last, count_error] = std::from_chars(colon + 1, end, forwards);
    ok = count_error == std::errc() && last == end;
  }
  NORMKIT_CHECK(ok, "Dropout: extra state: expected 'seed:forwards' (two unsigned integers), got '", state, "'");
  seed_ = seed;
  forwards_ = forwards;
}

}  // namespace normkit::nn
