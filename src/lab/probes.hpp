// Probes of a network at its current weights, for the experiments about why
// BatchNorm works: every parameter (and its gradient) flattened into one
// vector in parameters() order, the loss and gradient on one batch without
// disturbing the network, and the distances between such vectors.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "normkit/io/fashion_mnist.hpp"
#include "normkit/nn/sequential.hpp"

namespace normkit::lab {

using Flat = std::vector<float>;

Flat parameter_values(nn::Module& net);
Flat parameter_gradients(nn::Module& net);
void set_parameter_values(nn::Module& net, const Flat& values);

// The entries of `flat` that belong to the parameter `key` (a named_parameters()
// key such as "3.weight"), as [begin, end) into the flat vector.
std::pair<std::size_t, std::size_t> parameter_range(nn::Module& net, const std::string& key);

double l2_norm(const Flat& v, std::size_t begin = 0, std::size_t end = SIZE_MAX);
double l2_distance(const Flat& a, const Flat& b, std::size_t begin = 0, std::size_t end = SIZE_MAX);
double cosine(const Flat& a, const Flat& b, std::size_t begin = 0, std::size_t end = SIZE_MAX);
// a + scale * b
Flat axpy(const Flat& a, double scale, const Flat& b);

// The layers of type L among the network's own layers, in order.
template <typename L>
std::vector<L*> layers_of(nn::Sequential& net) {
  std::vector<L*> out;
  for (std::size_t i = 0; i < net.size(); ++i)
    if (auto* layer = dynamic_cast<L*>(&net[i])) out.push_back(layer);
  return out;
}

double max_abs(const Tensor& t);   // the largest |element| of a float32 tensor
double l2_norm(const Tensor& t);   // its Euclidean norm
double median(std::vector<double> v);  // NaN when empty

// The network's output for x in training mode (BN uses x's statistics),
// the network left as it was (parameters, running statistics, mode).
Tensor training_mode_output(nn::Sequential& net, const Tensor& x);

// max |a - b| / max |b|: how far a is from b, relative to b's size.
double relative_change(const Tensor& a, const Tensor& b);

struct LossAndGradient {
  double loss;
  Flat gradient;
};

// The mean loss of the batch (x, y) and its gradient at the network's current
// weights, in training mode (a BN layer uses the batch's statistics). The
// network is left as it was: parameters, running statistics and mode; its
// gradients hold the result.
LossAndGradient loss_and_gradient(nn::Sequential& net, const Tensor& x, const Tensor& y);

// `count` training images drawn at random (a hash of seed and `draw`), for a
// probe that needs a batch of its own.
std::pair<Tensor, Tensor> probe_batch(const io::LabelledImages& data, std::int64_t images, std::int64_t count,
                                      std::uint64_t seed, std::int64_t draw);

}  // namespace normkit::lab
