#include "normkit/nn/attention.hpp"

#include "normkit/nn/grad_mode.hpp"

#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "fixed_blocks.hpp"
#include "layer_checks.hpp"
#include "normkit/error.hpp"
#include "normkit/nn/dropout.hpp"

namespace normkit::nn {
namespace {

// C (m x n) = alpha * op(A) op(B) + beta * C, row-major, by oneDNN's sgemm
// (sequential inside the fixed blocks' parallel region).
void sgemm(char trans_a, char trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
           std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  const dnnl_status_t status = dnnl_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  NORMKIT_CHECK(status == dnnl_success, "Attention: oneDNN's sgemm failed (status ", static_cast<int>(status), ")");
}

// Each row of the (T, T) scores in place: exp(s - max) / sum, in order.
void softmax_rows(float* s, std::int64_t t) {
  for (std::int64_t i = 0; i < t; ++i) {
    float* row = s + i * t;
    const float top = *std::max_element(row, row + t);
    float sum = 0.0f;
    for (std::int64_t j = 0; j < t; ++j) {
      row[j] = std::exp(row[j] - top);
      sum += row[j];
    }
    for (std::int64_t j = 0; j < t; ++j) row[j] /= sum;
  }
}

struct Shape3 {
  std::int64_t n, t, d, head_dim;
};

}  // namespace

Attention::Attention(std::int64_t heads) : Layer("Attention"), heads_(heads) {
  NORMKIT_CHECK(heads > 0, "Attention: heads: expected > 0, got ", heads);
}

Attention::Attention(std::int64_t heads, double dropout, Generator& gen) : Attention(heads) {
  NORMKIT_CHECK(dropout >= 0 && dropout < 1, "Attention: dropout: expected a probability in [0, 1), got ", dropout);
  if (dropout > 0) {
    dropout_ = std::make_unique<Dropout>(dropout, gen);
    register_module("dropout", dropout_.get());
  }
}

Attention::~Attention() = default;

Tensor Attention::forward(const TensorView& qkv) {
  NORMKIT_CHECK(qkv.defined() && qkv.dtype() == DType::float32 && qkv.dim() == 3 && qkv.size(2) % (3 * heads_) == 0,
                "Attention: qkv: expected float32 of shape (N, T, 3 * D) with D a multiple of heads = ", heads_,
                ", got ", shape_or_none(qkv));
  // Kept for backward, or read where it is under NoGrad.
  Tensor holder;
  const float* const x = forward_input(qkv, saved_qkv_, holder);
  const Shape3 s{qkv.size(0), qkv.size(1), qkv.size(2) / 3, qkv.size(2) / 3 / heads_};
  const std::int64_t heads = heads_;
  Tensor o({s.n, s.t, s.d});
  saved_p_ = Tensor({s.n, heads, s.t, s.t});
  float* out = o.data<float>();
  float* p = saved_p_.data<float>();
  const auto scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.head_dim)));
  std::vector<float> sample_max_logit(static_cast<std::size_t>(s.n), 0.0f);
  float* max_logits = sample_max_logit.data();
  // 1. P = softmax(q k^T / sqrt(Dh)) of every sample and head.
  for_each_block(s.n, kSamplesPerBlock, [=](std::int64_t, std::int64_t first, std::int64_t samples) {
    for (std::int64_t n = first; n < first + samples; ++n)
      for (std::int64_t h = 0; h < heads; ++h) {
        const float* q = x + n * s.t * 3 * s.d + h * s.head_dim;
        float* ph = p + (n * heads + h) * s.t * s.t;
        sgemm('N', 'T', s.t, s.t, s.head_dim, scale, q, 3 * s.d, q + s.d, 3 * s.d, 0.0f, ph, s.t);
        for (std::int64_t i = 0; i < s.t * s.t; ++i) max_logits[n] = std::max(max_logits[n], std::fabs(ph[i]));
        softmax_rows(ph, s.t);
      }
  });
  max_logit_ = 0.0f;
  for (const float m : sample_max_logit) max_logit_ = std::max(max_logit_, m);
  // 2. Dropout of P in training, then o = P v.
  saved_dropped_ = dropout_ && is_training() ? dropout_->forward(saved_p_) : Tensor();
  const float* used = saved_dropped_.defined() ? saved_dropped_.data<float>() : p;
  for_each_block(s.n, kSamplesPerBlock, [=](std::int64_t, std::int64_t first, std::int64_t samples) {
    for (std::int64_t n = first; n < first + samples; ++n)
      for (std::int64_t h = 0; h < heads; ++h) {
        const float* v = x + n * s.t * 3 * s.d + 2 * s.d + h * s.head_dim;
        sgemm('N', 'N', s.t, s.head_dim, s.t, 1.0f, used + (n * heads + h) * s.t * s.t, s.t, v, 3 * s.d, 0.0f,
              out + n * s.t * s.d + h * s.head_dim, s.d);
      }
  });
  return o;
}

Tensor Attention::backward(const TensorView& dy) {
  NORMKIT_CHECK(saved_qkv_.defined(), "Attention: backward before forward", kNoGradHint);
  const Shape& shape = saved_qkv_.shape();
  const Shape3 s{shape[0], shape[1], shape[2] / 3, shape[2] / 3 / heads_};
  check_output_gradient(dy, {s.n, s.t, s.d}, "Attention");
  Tensor holder;
  const float* g = contiguous_values(dy, holder);
  const std::int64_t heads = heads_;
  Tensor dqkv(saved_qkv_.shape());
  Tensor d_used({s.n, heads, s.t, s.t});  // the gradient of the P that o used
  const float* x = saved_qkv_.data<float>();
  const float* p = saved_p_.data<float>();
  const float* used = saved_dropped_.defined() ? saved_dropped_.data<float>() : p;
  float* dx = dqkv.data<float>();
  float* du = d_used.data<float>();
  // 1. dv = P_used^T do; dP_used = do v^T.
  for_each_block(s.n, kSamplesPerBlock, [=](std::int64_t, std::int64_t first, std::int64_t samples) {
    for (std::int64_t n = first; n < first + samples; ++n)
      for (std::int64_t h = 0; h < heads; ++h) {
        const std::int64_t at = n * s.t * 3 * s.d + 2 * s.d + h * s.head_dim, ph = (n * heads + h) * s.t * s.t;
        const float* go = g + n * s.t * s.d + h * s.head_dim;
        sgemm('T', 'N', s.t, s.head_dim, s.t, 1.0f, used + ph, s.t, go, s.d, 0.0f, dx + at, 3 * s.d);
        sgemm('N', 'T', s.t, s.t, s.head_dim, 1.0f, go, s.d, x + at, 3 * s.d, 0.0f, du + ph, s.t);
      }
  });
  // 2. Through the dropout: dP = dP_used * mask / (1 - p).
  Tensor d_p = saved_dropped_.defined() ? dropout_->backward(d_used) : std::move(d_used);
  float* dp = d_p.data<float>();
  const auto scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.head_dim)));
  // 3. dS = P (dP - rowsum(dP P)); dq = dS k * scale; dk = dS^T q * scale.
  for_each_block(s.n, kSamplesPerBlock, [=](std::int64_t, std::int64_t first, std::int64_t samples) {
    for (std::int64_t n = first; n < first + samples; ++n)
      for (std::int64_t h = 0; h < heads; ++h) {
        const std::int64_t at = n * s.t * 3 * s.d + h * s.head_dim;
        const float *q = x + at, *k = q + s.d;
        float *dq = dx + at, *dk = dq + s.d;
        const float* ph = p + (n * heads + h) * s.t * s.t;
        float* ds = dp + (n * heads + h) * s.t * s.t;
        for (std::int64_t i = 0; i < s.t; ++i) {
          float* row = ds + i * s.t;
          const float* prow = ph + i * s.t;
          float dot = 0.0f;
          for (std::int64_t j = 0; j < s.t; ++j) dot += row[j] * prow[j];
          for (std::int64_t j = 0; j < s.t; ++j) row[j] = prow[j] * (row[j] - dot);
        }
        sgemm('N', 'N', s.t, s.head_dim, s.t, scale, ds, s.t, k, 3 * s.d, 0.0f, dq, 3 * s.d);
        sgemm('T', 'N', s.t, s.head_dim, s.t, scale, ds, s.t, q, 3 * s.d, 0.0f, dk, 3 * s.d);
      }
  });
  return dqkv;
}

}  // namespace normkit::nn
