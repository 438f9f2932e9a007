#include "probes.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "normkit/error.hpp"
#include "normkit/nn/init.hpp"
#include "normkit/nn/loss.hpp"
#include "normkit/train/trainer.hpp"

namespace normkit::lab {
namespace {

template <typename Get>
Flat flatten(nn::Module& net, Get get) {
  Flat out;
  for (nn::Parameter* p : net.parameters()) {
    const Tensor& t = get(*p);
    if (!t.defined()) {  // no gradient yet: zeros
      out.resize(out.size() + static_cast<std::size_t>(p->value.numel()), 0.0f);
      continue;
    }
    out.insert(out.end(), t.data<float>(), t.data<float>() + t.numel());
  }
  return out;
}

std::size_t clamp_end(const Flat& a, std::size_t end) { return std::min(end, a.size()); }

}  // namespace

Flat parameter_values(nn::Module& net) {
  return flatten(net, [](nn::Parameter& p) -> const Tensor& { return p.value; });
}

Flat parameter_gradients(nn::Module& net) {
  return flatten(net, [](nn::Parameter& p) -> const Tensor& { return p.grad; });
}

void set_parameter_values(nn::Module& net, const Flat& values) {
  std::size_t at = 0;
  const std::vector<nn::Parameter*> parameters = net.parameters();
  std::size_t total = 0;
  for (const nn::Parameter* p : parameters) total += static_cast<std::size_t>(p->value.numel());
  NORMKIT_CHECK(total == values.size(), "set_parameter_values: values: expected ", total, " numbers, got ",
                values.size());
  for (nn::Parameter* p : parameters) {
    const auto n = static_cast<std::size_t>(p->value.numel());
    std::memcpy(p->value.data<float>(), values.data() + at, n * sizeof(float));
    at += n;
  }
}

std::pair<std::size_t, std::size_t> parameter_range(nn::Module& net, const std::string& key) {
  std::size_t at = 0;
  for (const auto& [name, p] : net.named_parameters()) {
    const auto n = static_cast<std::size_t>(p->value.numel());
    if (name == key) return {at, at + n};
    at += n;
  }
  detail::throw_error("parameter_range: key: no parameter '", key, "'");
}

double l2_norm(const Flat& v, std::size_t begin, std::size_t end) {
  double sum = 0;
  for (std::size_t i = begin; i < clamp_end(v, end); ++i) sum += static_cast<double>(v[i]) * v[i];
  return std::sqrt(sum);
}

double l2_distance(const Flat& a, const Flat& b, std::size_t begin, std::size_t end) {
  NORMKIT_CHECK(a.size() == b.size(), "l2_distance: expected vectors of one size, got ", a.size(), " and ", b.size());
  double sum = 0;
  for (std::size_t i = begin; i < clamp_end(a, end); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    sum += d * d;
  }
  return std::sqrt(sum);
}

double cosine(const Flat& a, const Flat& b, std::size_t begin, std::size_t end) {
  NORMKIT_CHECK(a.size() == b.size(), "cosine: expected vectors of one size, got ", a.size(), " and ", b.size());
  double dot = 0;
  for (std::size_t i = begin; i < clamp_end(a, end); ++i) dot += static_cast<double>(a[i]) * b[i];
  const double norms = l2_norm(a, begin, end) * l2_norm(b, begin, end);
  return norms > 0 ? dot / norms : 0.0;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (std::int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(static_cast<double>(t.data<float>()[i])));
  return m;
}

double l2_norm(const Tensor& t) {
  double sum = 0;
  for (std::int64_t i = 0; i < t.numel(); ++i) sum += static_cast<double>(t.data<float>()[i]) * t.data<float>()[i];
  return std::sqrt(sum);
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Flat axpy(const Flat& a, double scale, const Flat& b) {
  NORMKIT_CHECK(a.size() == b.size(), "axpy: expected vectors of one size, got ", a.size(), " and ", b.size());
  Flat out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = static_cast<float>(a[i] + scale * b[i]);
  return out;
}

Tensor training_mode_output(nn::Sequential& net, const Tensor& x) {
  const nn::StateDict saved = net.state_dict();  // a training forward moves the running statistics
  const bool was_training = net.is_training();
  net.train();
  Tensor y = net.forward(x);
  net.load_state_dict(saved);
  net.train(was_training);
  return y;
}

double relative_change(const Tensor& a, const Tensor& b) {
  NORMKIT_CHECK(a.numel() == b.numel(), "relative_change: expected tensors of one size, got ", a.numel(), " and ",
                b.numel());
  double change = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i)
    change = std::max(change, std::fabs(static_cast<double>(a.data<float>()[i]) - b.data<float>()[i]));
  return change / std::max(max_abs(b), 1e-30);
}

LossAndGradient loss_and_gradient(nn::Sequential& net, const Tensor& x, const Tensor& y) {
  const nn::StateDict saved = net.state_dict();  // a training forward moves the running statistics
  const bool was_training = net.is_training();
  net.train();
  net.zero_grad();
  const nn::CrossEntropy ce = nn::softmax_cross_entropy(net.forward(x), y);
  net.backward(ce.grad);
  LossAndGradient out{ce.loss, parameter_gradients(net)};
  net.load_state_dict(saved);
  net.train(was_training);
  return out;
}

std::pair<Tensor, Tensor> probe_batch(const io::LabelledImages& data, std::int64_t images, std::int64_t count,
                                      std::uint64_t seed, std::int64_t draw) {
  NORMKIT_CHECK(images >= 1 && images <= data.labels.numel(), "probe_batch: images: expected 1 to ",
                data.labels.numel(), ", got ", images);
  std::vector<std::int64_t> indices(static_cast<std::size_t>(count));
  for (std::int64_t j = 0; j < count; ++j)
    indices[static_cast<std::size_t>(j)] = static_cast<std::int64_t>(
        nn::mix64(seed ^ nn::mix64(static_cast<std::uint64_t>(draw) * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(j))) %
        static_cast<std::uint64_t>(images));
  return train::gather(data, indices.data(), count);
}

}  // namespace normkit::lab
