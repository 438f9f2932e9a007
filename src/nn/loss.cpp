#include "normkit/nn/loss.hpp"

#include <cmath>

#include "normkit/error.hpp"

namespace normkit::nn {

CrossEntropy softmax_cross_entropy(const TensorView& logits, const TensorView& labels, std::int64_t mean_over,
                                   double label_smoothing) {
  NORMKIT_CHECK(logits.defined() && logits.dtype() == DType::float32 && logits.dim() == 2,
                "softmax_cross_entropy: logits: expected float32 of shape (N, K)");
  const std::int64_t n = logits.size(0), k = logits.size(1);
  NORMKIT_CHECK(labels.defined() && labels.dtype() == DType::int64 && labels.shape() == (Shape{n}),
                "softmax_cross_entropy: labels: expected int64 of shape (", n, ")");
  NORMKIT_CHECK(mean_over >= 0, "softmax_cross_entropy: mean_over: expected >= 0, got ", mean_over);
  NORMKIT_CHECK(label_smoothing >= 0 && label_smoothing <= 1,
                "softmax_cross_entropy: label_smoothing: expected 0 to 1, got ", label_smoothing);
  // The target's weights: on the label, and on every class (the label's included).
  const double on_label = 1.0 - label_smoothing, on_each = label_smoothing / static_cast<double>(k);
  const double count = static_cast<double>(mean_over > 0 ? mean_over : n);
  const Tensor z = Tensor::copy_of(logits);
  const Tensor t = Tensor::copy_of(labels);
  CrossEntropy out{0, Tensor({n, k}), 0, {}};
  out.losses.reserve(static_cast<std::size_t>(n));
  double total = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const float* row = z.data<float>() + i * k;
    const std::int64_t label = t.data<std::int64_t>()[i];
    NORMKIT_CHECK(label >= 0 && label < k, "softmax_cross_entropy: labels[", i, "] = ", label,
                  ": expected a class in [0, ", k, ")");
    // log-sum-exp around the largest logit, in double.
    std::int64_t arg = 0;
    for (std::int64_t j = 1; j < k; ++j)
      if (row[j] > row[arg]) arg = j;
    double sum = 0;
    for (std::int64_t j = 0; j < k; ++j) sum += std::exp(static_cast<double>(row[j]) - row[arg]);
    const double log_sum = std::log(sum) + row[arg];
    double loss = log_sum - row[label];
    if (label_smoothing > 0) {  // (1 - s)(lse - z_label) + s/K sum_j (lse - z_j)
      double spread = 0;
      for (std::int64_t j = 0; j < k; ++j) spread += log_sum - row[j];
      loss = on_label * loss + on_each * spread;
    }
    out.losses.push_back(loss);
    total += out.losses.back();
    out.correct += arg == label;
    float* g = out.grad.data<float>() + i * k;
    for (std::int64_t j = 0; j < k; ++j)
      g[j] = static_cast<float>((std::exp(row[j] - log_sum) - ((j == label ? on_label : 0.0) + on_each)) / count);
  }
  out.loss = n > 0 ? total / count : 0.0;
  return out;
}

}  // namespace normkit::nn
