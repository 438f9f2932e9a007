// Fashion-MNIST (Xiao, Rasul and Vollgraf 2017): 60000 training and 10000
// test images of 28x28 grey pixels in 10 classes, read from its four IDX
// files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
// t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz). By default from
// Debian's package dataset-fashion-mnist, which the project's install script
// installs.
#pragma once

#include <string>

#include "normkit/tensor.hpp"

namespace normkit::io {

// Images (N, 1, 28, 28) float32, pixel / 255 in [0, 1]; labels (N) int64 in
// [0, 10).
struct LabelledImages {
  Tensor images;
  Tensor labels;
};

struct FashionMnist {
  LabelledImages train, test;
};

inline constexpr const char* kDefaultFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Loads the four files from `dir`. A missing file is an Error that says how
// to get it (apt-get install dataset-fashion-mnist, or --data DIR); a file
// of the wrong shape, or labels outside [0, 10), or image and label counts
// that differ, is an Error naming the file.
FashionMnist load_fashion_mnist(const std::string& dir = kDefaultFashionMnistDir);

}  // namespace normkit::io
