// Seeded, deterministic initialisation. The generator is a 64-bit Mersenne
// Twister whose raw output is turned into floats by normkit's own code (not
// std::*_distribution, whose algorithms differ between standard libraries),
// so a seed gives the same weights on every platform.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "normkit/tensor.hpp"

namespace normkit::nn {

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : engine_(seed) {}
  double uniform();                       // [0, 1), 53 random bits
  double uniform(double lo, double hi);   // [lo, hi)
  double normal();                        // N(0, 1), Box-Muller
  std::uint64_t next() { return engine_(); }
  std::uint64_t below(std::uint64_t n);   // uniform in [0, n), unbiased

  // The whole state as text (for checkpoints), and back: a generator set
  // from another's state draws the same numbers from then on.
  std::string state() const;
  void set_state(const std::string& state);

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0;
};

// SplitMix64's finaliser: a bijection of 64 bits whose outputs for nearby
// inputs are statistically independent. Counter-based draws (Dropout's masks,
// augmentation) hash their coordinates with it instead of advancing a
// generator, so they depend on neither threads nor call order.
inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A uniform double in [0, 1) from the top 53 bits of 64 random bits.
inline double unit_interval(std::uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// Tensors of `shape` (float32), for a layer with `fan_in` inputs and
// `fan_out` outputs per unit:
Tensor uniform_tensor(const Shape& shape, double bound, Generator& gen);  // U(-bound, bound)
Tensor normal_tensor(const Shape& shape, double stddev, Generator& gen);  // N(0, stddev^2)

// He et al. 2015, for ReLU networks: N(0, 2 / fan_in).
Tensor kaiming_normal(const Shape& shape, std::int64_t fan_in, Generator& gen);
// Glorot and Bengio 2010, for sigmoid/tanh networks: U(+-sqrt(6 / (fan_in + fan_out))).
Tensor glorot_uniform(const Shape& shape, std::int64_t fan_in, std::int64_t fan_out, Generator& gen);
// PyTorch's default for Linear and Conv2d weights and biases:
// U(+-1 / sqrt(fan_in)) (kaiming_uniform with a = sqrt(5)).
Tensor torch_default_uniform(const Shape& shape, std::int64_t fan_in, Generator& gen);

// How a Linear or Conv2d layer starts.
enum class Init {
  torch_default,   // U(+-1/sqrt(fan_in)) for W and b, as PyTorch
  kaiming_normal,  // W ~ N(0, 2/fan_in), b = 0 (ReLU networks)
  glorot_uniform,  // W ~ U(+-sqrt(6/(fan_in+fan_out))), b = 0 (sigmoid networks)
};

struct InitialParameters {
  Tensor weight, bias;  // bias undefined when not asked for
};

// A layer's weight of `weight_shape` and, if `with_bias`, its bias of
// `outputs` values, as `init` says.
InitialParameters initial_parameters(const Shape& weight_shape, std::int64_t outputs, std::int64_t fan_in,
                                     std::int64_t fan_out, Init init, bool with_bias, Generator& gen);

}  // namespace normkit::nn
