// Training-time augmentation of image batches (N, C, H, W), as torchvision's
// RandomCrop((H, W), padding=p) followed by RandomHorizontalFlip(): each
// image is shifted by up to p pixels in each direction (zeros shifted in) and
// mirrored left-right with probability 1/2. The draws for sample j of global
// step t are a hash of (seed, t, j) (nn::mix64): nothing to checkpoint, and
// the same on any thread count.
#pragma once

#include <cstdint>

#include "normkit/tensor.hpp"

namespace normkit::train {

// Augments `images` in place; `first_sample` is the index of images' first
// sample within the step's batch (micro-batches draw as one batch would).
void augment_images(Tensor& images, std::uint64_t seed, std::int64_t step, std::int64_t first_sample,
                    std::int64_t padding = 2);

}  // namespace normkit::train
