#include "normkit/train/augment.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "normkit/error.hpp"
#include "normkit/nn/init.hpp"

namespace normkit::train {
namespace {

// Shift by (dy, dx) after an optional mirror: out(r, q) = in(r + dy, q' + dx)
// with q' = q or w - 1 - q; zero outside.
void shift_and_flip(float* p, std::int64_t h, std::int64_t w, std::int64_t dy, std::int64_t dx, bool flip,
                    std::vector<float>& plane) {
  for (std::int64_t r = 0; r < h; ++r)
    for (std::int64_t q = 0; q < w; ++q) {
      const std::int64_t sr = r + dy, sq = (flip ? w - 1 - q : q) + dx;
      plane[static_cast<std::size_t>(r * w + q)] = sr >= 0 && sr < h && sq >= 0 && sq < w ? p[sr * w + sq] : 0.0f;
    }
  std::copy(plane.begin(), plane.end(), p);
}

// Zhong et al.'s draw: area fraction in [0.02, 0.4], log-uniform aspect ratio
// in [0.3, 1/0.3], tried until the rectangle fits (10 tries, as torchvision).
struct Rectangle {
  std::int64_t top = 0, left = 0, height = 0, width = 0;
};
Rectangle erased_rectangle(std::uint64_t draw, std::int64_t h, std::int64_t w) {
  for (std::uint64_t attempt = 0; attempt < 10; ++attempt) {
    const std::uint64_t a = nn::mix64(draw + 2 * attempt + 1), b = nn::mix64(draw + 2 * attempt + 2);
    const double area = static_cast<double>(h * w) * (0.02 + 0.38 * nn::unit_interval(a));
    const double aspect = std::exp(std::log(0.3) + (std::log(1 / 0.3) - std::log(0.3)) * nn::unit_interval(b));
    const auto height = static_cast<std::int64_t>(std::lround(std::sqrt(area * aspect)));
    const auto width = static_cast<std::int64_t>(std::lround(std::sqrt(area / aspect)));
    if (height < 1 || width < 1 || height > h || width > w) continue;
    const std::uint64_t c = nn::mix64(b ^ 0x243f6a8885a308d3ULL);
    return {static_cast<std::int64_t>(c % static_cast<std::uint64_t>(h - height + 1)),
            static_cast<std::int64_t>((c >> 32) % static_cast<std::uint64_t>(w - width + 1)), height, width};
  }
  return {};
}

}  // namespace

void augment_images(Tensor& images, std::uint64_t seed, std::int64_t step, std::int64_t first_sample,
                    const AugmentOptions& options) {
  NORMKIT_CHECK(images.shape().size() == 4 && images.dtype() == DType::float32 && images.view().is_contiguous(),
                "augment_images: images: expected contiguous float32 (N, C, H, W), got ", shape_string(images.shape()));
  NORMKIT_CHECK(options.shift >= 0, "augment_images: shift: expected >= 0 pixels, got ", options.shift);
  NORMKIT_CHECK(options.erase >= 0 && options.erase <= 1, "augment_images: erase: expected a probability in [0, 1], got ",
                options.erase);
  const std::int64_t n = images.shape()[0], c = images.shape()[1], h = images.shape()[2], w = images.shape()[3];
  std::vector<float> plane(static_cast<std::size_t>(h * w));
  for (std::int64_t j = 0; j < n; ++j) {
    const std::uint64_t draw =
        nn::mix64(seed ^ nn::mix64(static_cast<std::uint64_t>(step) * 0x9e3779b97f4a7c15ULL +
                                   static_cast<std::uint64_t>(first_sample + j)));
    const std::int64_t span = 2 * options.shift + 1;
    const std::int64_t dy = static_cast<std::int64_t>(draw % static_cast<std::uint64_t>(span)) - options.shift;
    const std::int64_t dx = static_cast<std::int64_t>((draw >> 16) % static_cast<std::uint64_t>(span)) - options.shift;
    const bool flip = ((draw >> 32) & 1) != 0;
    const std::uint64_t erase_draw = nn::mix64(draw ^ 0xe7a5e0000000000ULL);
    const Rectangle rect = nn::unit_interval(erase_draw) < options.erase ? erased_rectangle(erase_draw, h, w) : Rectangle{};
    for (std::int64_t ch = 0; ch < c; ++ch) {
      float* p = images.data<float>() + (j * c + ch) * h * w;
      shift_and_flip(p, h, w, dy, dx, flip, plane);
      for (std::int64_t r = rect.top; r < rect.top + rect.height; ++r)
        for (std::int64_t q = rect.left; q < rect.left + rect.width; ++q)
          p[r * w + q] = static_cast<float>(
              nn::unit_interval(nn::mix64(erase_draw ^ static_cast<std::uint64_t>((ch * h + r) * w + q))));
    }
  }
}

Tensor mirrored_images(const Tensor& images) {
  NORMKIT_CHECK(images.shape().size() == 4 && images.dtype() == DType::float32 && images.view().is_contiguous(),
                "mirrored_images: images: expected contiguous float32 (N, C, H, W), got ",
                shape_string(images.shape()));
  Tensor out(images.shape());
  const std::int64_t w = images.shape()[3], rows = images.numel() / std::max<std::int64_t>(w, 1);
  const float* in = images.data<float>();
  float* o = out.data<float>();
  for (std::int64_t r = 0; r < rows; ++r)
    std::reverse_copy(in + r * w, in + (r + 1) * w, o + r * w);
  return out;
}

}  // namespace normkit::train
