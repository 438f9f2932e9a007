#include "normkit/nn/vit.hpp"

#include "normkit/nn/grad_mode.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "fixed_blocks.hpp"
#include "layer_checks.hpp"
#include "normkit/error.hpp"

namespace normkit::nn {
namespace {

// t's values (contiguous) under another shape of as many elements.
Tensor reshaped(const TensorView& t, const Shape& shape) {
  Tensor out(shape);
  copy_into(t, TensorView(out.data<float>(), t.shape()));
  return out;
}

}  // namespace

PatchEmbedding::PatchEmbedding(std::int64_t channels, std::int64_t image_size, std::int64_t patch, std::int64_t dim,
                               Generator& gen)
    : Layer("PatchEmbedding"), dim_(dim), image_size_(image_size), grid_(patch > 0 ? image_size / patch : 0) {
  NORMKIT_CHECK(channels > 0 && dim > 0 && patch > 0 && image_size % patch == 0,
                "PatchEmbedding: expected a patch size that divides the image size ", image_size, ", got ", patch);
  conv_proj_ = std::make_unique<Conv2d>(channels, dim, patch, gen, Conv2dOptions{.stride = patch});
  class_token = Parameter(Tensor::zeros({1, 1, dim}));
  pos_embedding = Parameter(normal_tensor({1, tokens(), dim}, 0.02, gen));
  register_parameter("class_token", &class_token);
  register_parameter("pos_embedding", &pos_embedding);
  register_module("conv_proj", conv_proj_.get());
}

void PatchEmbedding::set_input_gradient(bool needed) {
  Layer::set_input_gradient(needed);
  conv_proj_->set_input_gradient(needed);
}

void PatchEmbedding::convert_children(const LayerConverter& convert) {
  NORMKIT_CHECK(convert(*conv_proj_) == nullptr, name(), ": conv_proj: cannot be replaced");
}

Tensor PatchEmbedding::forward(const TensorView& images) {
  const Tensor maps = conv_proj_->forward(images);  // (N, D, g, g)
  const std::int64_t n = maps.shape()[0], patches = grid_ * grid_, t = tokens(), d = dim_;
  NORMKIT_CHECK(maps.shape()[2] == grid_ && maps.shape()[3] == grid_, name(), ": expected images of ", image_size_,
                " x ", image_size_, " pixels, got shape ", shape_string(images.shape()));
  saved_n_ = grad_enabled() ? n : -1;
  Tensor out({n, t, d});
  const float* m = maps.data<float>();
  const float* cls = class_token.value.data<float>();
  const float* pos = pos_embedding.value.data<float>();
  float* o = out.data<float>();
  for (std::int64_t s = 0; s < n; ++s) {
    for (std::int64_t c = 0; c < d; ++c) o[s * t * d + c] = cls[c] + pos[c];
    for (std::int64_t p = 0; p < patches; ++p)
      for (std::int64_t c = 0; c < d; ++c)
        o[(s * t + 1 + p) * d + c] = m[(s * d + c) * patches + p] + pos[(1 + p) * d + c];
  }
  return out;
}

Tensor PatchEmbedding::backward(const TensorView& dy) {
  NORMKIT_CHECK(saved_n_ >= 0, name(), ": backward before forward", kNoGradHint);
  const std::int64_t n = saved_n_, patches = grid_ * grid_, t = tokens(), d = dim_;
  check_output_gradient(dy, {n, t, d}, name());
  Tensor holder;
  const float* g = contiguous_values(dy, holder);
  // The patches' gradients back to the maps' layout, for conv_proj.
  Tensor dmaps({n, d, grid_, grid_});
  float* dm = dmaps.data<float>();
  for (std::int64_t s = 0; s < n; ++s)
    for (std::int64_t p = 0; p < patches; ++p)
      for (std::int64_t c = 0; c < d; ++c) dm[(s * d + c) * patches + p] = g[(s * t + 1 + p) * d + c];
  // pos_embedding's and class_token's gradients: sums over the samples, per
  // fixed block of samples, the blocks summed in their tree (the same bits
  // on any thread count, and over ranks as in one process).
  const std::int64_t pn = t * d, cn = d;
  std::vector<float> partial(static_cast<std::size_t>(block_count(n, kSamplesPerBlock) * (pn + cn)));
  float* const pp = partial.data();
  for_each_block(n, kSamplesPerBlock, [=](std::int64_t b, std::int64_t first, std::int64_t samples) {
    float* const block = pp + b * (pn + cn);
    std::fill(block, block + pn + cn, 0.0f);
    for (std::int64_t s = first; s < first + samples; ++s) {
      for (std::int64_t i = 0; i < pn; ++i) block[i] += g[s * pn + i];
      for (std::int64_t c = 0; c < cn; ++c) block[pn + c] += g[s * pn + c];
    }
  });
  add_block_gradients(block_gradient_sum(), "PatchEmbedding", n, partial, pos_embedding, class_token);
  return conv_proj_->backward(dmaps);
}

Tensor ClassToken::forward(const TensorView& x) {
  NORMKIT_CHECK(x.defined() && x.dim() == 3 && x.size(1) >= 1, "ClassToken: x: expected (N, T, D), got ",
                shape_or_none(x));
  saved_shape_ = grad_enabled() ? x.shape() : Shape{};
  Tensor out({x.size(0), x.size(2)});
  copy_into(TensorView(const_cast<void*>(x.raw()), {x.size(0), x.size(2)}, {x.strides()[0], x.strides()[2]},
                       x.dtype()),
            out);
  return out;
}

Tensor ClassToken::backward(const TensorView& dy) {
  NORMKIT_CHECK(!saved_shape_.empty(), "ClassToken: backward before forward", kNoGradHint);
  check_output_gradient(dy, {saved_shape_[0], saved_shape_[2]}, "ClassToken");
  Tensor dx = Tensor::zeros(saved_shape_);
  const std::int64_t t = saved_shape_[1], d = saved_shape_[2];
  copy_into(dy, TensorView(dx.view().raw(), {saved_shape_[0], d}, {t * d, 1}, DType::float32));
  return dx;
}

Tensor tokens_as_rows(const TensorView& x, const std::string& layer) {
  NORMKIT_CHECK(x.defined() && x.dim() == 3, layer, ": expected tokens (N, T, D), got ", shape_or_none(x));
  return reshaped(x, {x.size(0) * x.size(1), x.size(2)});
}

Tensor gradient_as_rows(const TensorView& dy, const Shape& tokens, const std::string& layer) {
  check_output_gradient(dy, tokens, layer);
  return reshaped(dy, {tokens[0] * tokens[1], tokens[2]});
}

Tensor rows_as_tokens(const TensorView& rows, const Shape& tokens) { return reshaped(rows, tokens); }

}  // namespace normkit::nn
