#include "normkit/train/augment.hpp"

#include <vector>

#include "normkit/error.hpp"
#include "normkit/nn/init.hpp"

namespace normkit::train {

void augment_images(Tensor& images, std::uint64_t seed, std::int64_t step, std::int64_t first_sample,
                    std::int64_t padding) {
  NORMKIT_CHECK(images.shape().size() == 4 && images.dtype() == DType::float32 && images.view().is_contiguous(),
                "augment_images: images: expected contiguous float32 (N, C, H, W), got ", shape_string(images.shape()));
  NORMKIT_CHECK(padding >= 0, "augment_images: padding: expected >= 0, got ", padding);
  const std::int64_t n = images.shape()[0], c = images.shape()[1], h = images.shape()[2], w = images.shape()[3];
  std::vector<float> plane(static_cast<std::size_t>(h * w));
  for (std::int64_t j = 0; j < n; ++j) {
    const std::uint64_t draw =
        nn::mix64(seed ^ nn::mix64(static_cast<std::uint64_t>(step) * 0x9e3779b97f4a7c15ULL +
                                   static_cast<std::uint64_t>(first_sample + j)));
    const std::int64_t span = 2 * padding + 1;
    const std::int64_t dy = static_cast<std::int64_t>(draw % static_cast<std::uint64_t>(span)) - padding;
    const std::int64_t dx = static_cast<std::int64_t>((draw >> 16) % static_cast<std::uint64_t>(span)) - padding;
    const bool flip = ((draw >> 32) & 1) != 0;
    for (std::int64_t ch = 0; ch < c; ++ch) {
      float* p = images.data<float>() + (j * c + ch) * h * w;
      // out(r, q) = in(r + dy, q' + dx) with q' = q or mirrored; zero outside.
      for (std::int64_t r = 0; r < h; ++r)
        for (std::int64_t q = 0; q < w; ++q) {
          const std::int64_t sr = r + dy, sq = (flip ? w - 1 - q : q) + dx;
          plane[static_cast<std::size_t>(r * w + q)] = sr >= 0 && sr < h && sq >= 0 && sq < w ? p[sr * w + sq] : 0.0f;
        }
      std::copy(plane.begin(), plane.end(), p);
    }
  }
}

}  // namespace normkit::train
