// Training-time augmentation of image batches (N, C, H, W), as torchvision's
// RandomCrop((H, W), padding=shift) and RandomHorizontalFlip(), optionally
// followed by RandomErasing (Zhong et al. 2017): each image is shifted by up
// to `shift` pixels in each direction (zeros shifted in), mirrored left-right
// with probability 1/2, and with probability `erase` a rectangle of 2% to 40%
// of its area, aspect ratio 0.3 to 3.3, is filled with uniform noise in
// [0, 1). The draws for sample j of global step t are hashes of (seed, t, j)
// (nn::mix64): nothing to checkpoint, and the same on any thread count.
#pragma once

#include <cstdint>

#include "normkit/tensor.hpp"

namespace normkit::train {

struct AugmentOptions {
  std::int64_t shift = 2;  // the largest shift, in pixels (0: flips only)
  double erase = 0.0;      // the probability of random erasing (0: never)
};

// Augments `images` in place; `first_sample` is the index of images' first
// sample within the step's batch (micro-batches draw as one batch would).
void augment_images(Tensor& images, std::uint64_t seed, std::int64_t step, std::int64_t first_sample,
                    const AugmentOptions& options = {});

// Each image of (N, C, H, W) mirrored left-right (torch.flip(x, [3])): test-
// time augmentation averages a network's outputs on an image and on this.
Tensor mirrored_images(const Tensor& images);

}  // namespace normkit::train
