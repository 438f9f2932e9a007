#include "normkit/io/fashion_mnist.hpp"

#include <filesystem>

#include "file_checks.hpp"
#include "normkit/error.hpp"
#include "normkit/io/idx.hpp"

namespace normkit::io {
namespace {

constexpr std::int64_t kSide = 28, kClasses = 10;

std::string find_file(const std::string& dir, const std::string& name) {
  const std::filesystem::path path = std::filesystem::path(dir) / name;
  check_path(dir, "data directory");
  // Something that is there but is not a file (a FIFO, a directory) is named
  // as such by the reader.
  std::error_code error;
  if (std::filesystem::exists(path, error)) return path.string();
  detail::throw_error("Fashion-MNIST: ", path.string(),
                " not found. Install Debian's copy with `sudo apt-get install dataset-fashion-mnist` "
                "(scripts/install-deps.sh does), or pass --data DIR with the four files "
                "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
                "t10k-labels-idx1-ubyte.gz");
  return path.string();
}

LabelledImages load_split(const std::string& dir, const std::string& prefix) {
  const std::string images_path = find_file(dir, prefix + "-images-idx3-ubyte.gz");
  const std::string labels_path = find_file(dir, prefix + "-labels-idx1-ubyte.gz");
  const IdxArray images = read_idx(images_path);
  const IdxArray labels = read_idx(labels_path);
  NORMKIT_CHECK(images.shape.size() == 3 && images.shape[1] == kSide && images.shape[2] == kSide,
                images_path, ": expected images of shape (N, 28, 28), got ", shape_string(images.shape));
  NORMKIT_CHECK(labels.shape.size() == 1, labels_path, ": expected labels of shape (N), got ",
                shape_string(labels.shape));
  const std::int64_t n = images.shape[0];
  NORMKIT_CHECK(labels.shape[0] == n, labels_path, ": ", labels.shape[0], " labels for the ", n, " images of ",
                images_path);
  LabelledImages split{Tensor({n, 1, kSide, kSide}), Tensor({n}, DType::int64)};
  float* pixels = split.images.data<float>();
  for (std::size_t i = 0; i < images.values.size(); ++i) pixels[i] = static_cast<float>(images.values[i]) / 255.0f;
  std::int64_t* classes = split.labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint8_t label = labels.values[static_cast<std::size_t>(i)];
    NORMKIT_CHECK(label < kClasses, labels_path, ": label ", int{label}, " of image ", i,
                  " is outside [0, 10)");
    classes[i] = label;
  }
  return split;
}

}  // namespace

FashionMnist load_fashion_mnist(const std::string& dir) {
  return {load_split(dir, "train"), load_split(dir, "t10k")};
}

}  // namespace normkit::io
