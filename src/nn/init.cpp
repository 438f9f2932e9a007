#include "normkit/nn/init.hpp"

#include <bit>
#include <cmath>
#include <numbers>
#include <sstream>

#include "normkit/error.hpp"

namespace normkit::nn {

double Generator::uniform() { return unit_interval(engine_()); }

double Generator::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

double Generator::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1)), theta = 2.0 * std::numbers::pi * u2;
  spare_ = r * std::sin(theta);
  has_spare_ = true;
  return r * std::cos(theta);
}

std::uint64_t Generator::below(std::uint64_t n) {
  NORMKIT_CHECK(n > 0, "Generator::below: n: expected > 0");
  // Rejection: the top of the range that does not divide evenly is redrawn.
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t v;
  do v = engine_();
  while (v >= limit);
  return v % n;
}

std::string Generator::state() const {
  std::ostringstream out;
  out << engine_ << ' ' << has_spare_ << ' ' << std::bit_cast<std::uint64_t>(spare_);  // the double's exact bits
  return out.str();
}

void Generator::set_state(const std::string& state) {
  std::istringstream in(state);
  std::mt19937_64 engine;
  bool has_spare = false;
  std::uint64_t spare_bits = 0;
  in >> engine >> has_spare >> spare_bits;
  NORMKIT_CHECK(!in.fail() && (in >> std::ws).eof(), "Generator::set_state: not a generator state");
  engine_ = engine;
  has_spare_ = has_spare;
  spare_ = std::bit_cast<double>(spare_bits);
}

Tensor uniform_tensor(const Shape& shape, double bound, Generator& gen) {
  Tensor t(shape);
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(gen.uniform(-bound, bound));
  return t;
}

Tensor normal_tensor(const Shape& shape, double stddev, Generator& gen) {
  Tensor t(shape);
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(stddev * gen.normal());
  return t;
}

Tensor kaiming_normal(const Shape& shape, std::int64_t fan_in, Generator& gen) {
  NORMKIT_CHECK(fan_in > 0, "kaiming_normal: fan_in: expected > 0, got ", fan_in);
  return normal_tensor(shape, std::sqrt(2.0 / static_cast<double>(fan_in)), gen);
}

Tensor glorot_uniform(const Shape& shape, std::int64_t fan_in, std::int64_t fan_out, Generator& gen) {
  NORMKIT_CHECK(fan_in > 0 && fan_out > 0, "glorot_uniform: expected fan_in and fan_out > 0, got ", fan_in, " and ",
                fan_out);
  return uniform_tensor(shape, std::sqrt(6.0 / static_cast<double>(fan_in + fan_out)), gen);
}

Tensor torch_default_uniform(const Shape& shape, std::int64_t fan_in, Generator& gen) {
  NORMKIT_CHECK(fan_in > 0, "torch_default_uniform: fan_in: expected > 0, got ", fan_in);
  return uniform_tensor(shape, 1.0 / std::sqrt(static_cast<double>(fan_in)), gen);
}

InitialParameters initial_parameters(const Shape& weight_shape, std::int64_t outputs, std::int64_t fan_in,
                                     std::int64_t fan_out, Init init, bool with_bias, Generator& gen) {
  InitialParameters p;
  switch (init) {
    case Init::torch_default:
      p.weight = torch_default_uniform(weight_shape, fan_in, gen);
      if (with_bias) p.bias = torch_default_uniform({outputs}, fan_in, gen);
      break;
    case Init::kaiming_normal:
      p.weight = kaiming_normal(weight_shape, fan_in, gen);
      if (with_bias) p.bias = Tensor::zeros({outputs});
      break;
    case Init::glorot_uniform:
      p.weight = glorot_uniform(weight_shape, fan_in, fan_out, gen);
      if (with_bias) p.bias = Tensor::zeros({outputs});
      break;
  }
  return p;
}

}  // namespace normkit::nn
