// Multi-head self-attention's core (nn/attention.hpp) against the formulas in
// double: the output, and d qkv against central differences of
// sum(probe * o); the same bits on 1 and 2 threads.
#include <cmath>

#include "engine_util.hpp"
#include "normkit/nn/attention.hpp"
#include "normkit/nn/dropout.hpp"

namespace normkit::test {
namespace {

// o (N, T, D) of qkv (N, T, 3D) with `heads` heads, in double; the largest
// |logit| into *max_logit when given; each probability times keep[(n, h, i,
// j)] (a dropout's 0 or 1 / (1 - p)) when given.
std::vector<double> attention_in_double(const std::vector<double>& qkv, std::int64_t n_, std::int64_t t_,
                                        std::int64_t d, std::int64_t heads, double* max_logit = nullptr,
                                        const std::vector<double>* keep = nullptr) {
  const std::int64_t dh = d / heads;
  std::vector<double> o(static_cast<std::size_t>(n_ * t_ * d));
  const auto at = [&](std::int64_t n, std::int64_t t, std::int64_t c) {
    return qkv[static_cast<std::size_t>((n * t_ + t) * 3 * d + c)];
  };
  for (std::int64_t n = 0; n < n_; ++n)
    for (std::int64_t h = 0; h < heads; ++h)
      for (std::int64_t i = 0; i < t_; ++i) {
        std::vector<double> s(static_cast<std::size_t>(t_));
        double top = -1e300, sum = 0;
        for (std::int64_t j = 0; j < t_; ++j) {
          double dot = 0;
          for (std::int64_t c = 0; c < dh; ++c) dot += at(n, i, h * dh + c) * at(n, j, d + h * dh + c);
          s[static_cast<std::size_t>(j)] = dot / std::sqrt(static_cast<double>(dh));
          top = std::max(top, s[static_cast<std::size_t>(j)]);
          if (max_logit) *max_logit = std::max(*max_logit, std::fabs(s[static_cast<std::size_t>(j)]));
        }
        for (double& v : s) sum += (v = std::exp(v - top));
        for (std::int64_t c = 0; c < dh; ++c) {
          double acc = 0;
          for (std::int64_t j = 0; j < t_; ++j) {
            const double scale = keep ? (*keep)[static_cast<std::size_t>(((n * heads + h) * t_ + i) * t_ + j)] : 1.0;
            acc += scale * s[static_cast<std::size_t>(j)] / sum * at(n, j, 2 * d + h * dh + c);
          }
          o[static_cast<std::size_t>((n * t_ + i) * d + h * dh + c)] = acc;
        }
      }
  return o;
}

TEST(Attention, MatchesTheFormulasAndCentralDifferences) {
  const std::int64_t N = 2, T = 5, D = 8, H = 2;
  const Tensor qkv = matrix(N * T, 3 * D, 7, 0.8), probe = matrix(N * T, D, 8);
  const Tensor x({N, T, 3 * D}), dy({N, T, D});
  std::copy(qkv.data<float>(), qkv.data<float>() + x.numel(), x.data<float>());
  std::copy(probe.data<float>(), probe.data<float>() + dy.numel(), dy.data<float>());
  nn::Attention attention(H);
  const Tensor o = attention.forward(x);
  const Tensor dx = attention.backward(dy);
  std::vector<double> xd(x.data<float>(), x.data<float>() + x.numel()), pd(dy.data<float>(), dy.data<float>() + dy.numel());
  double max_logit = 0;
  const std::vector<double> want = attention_in_double(xd, N, T, D, H, &max_logit);
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(o.data<float>()[i], want[i], 1e-5) << i;
  ASSERT_GT(max_logit, 0.1);
  EXPECT_NEAR(attention.max_logit(), max_logit, 1e-5);
  const auto loss = [&] { return probe_loss(pd, attention_in_double(xd, N, T, D, H)); };
  for (std::size_t i = 0; i < xd.size(); ++i)
    EXPECT_NEAR(dx.data<float>()[i], central_difference(xd, i, loss), 1e-4) << "d qkv " << i;
  // Each row of the probabilities sums to 1.
  const float* p = attention.probabilities().data<float>();
  for (std::int64_t r = 0; r < N * H * T; ++r) {
    double sum = 0;
    for (std::int64_t j = 0; j < T; ++j) sum += p[r * T + j];
    EXPECT_NEAR(sum, 1.0, 1e-6);
  }
  EXPECT_THROW(attention.forward(Tensor({N, T, 3 * D + 3})), Error);
  EXPECT_THROW(attention.backward(Tensor({N, T, D + 1})), Error);
}

// Dropout of the probabilities: in training, o and d qkv are those of the
// formula with the dropout's mask (the mask of a Dropout drawn from the same
// seed); in eval mode, the bits of attention without dropout.
TEST(Attention, DropoutOfTheProbabilities) {
  const std::int64_t N = 2, T = 5, D = 8, H = 2;
  const Tensor qkv = matrix(N * T, 3 * D, 11, 0.8), probe = matrix(N * T, D, 12);
  const Tensor x({N, T, 3 * D}), dy({N, T, D});
  std::copy(qkv.data<float>(), qkv.data<float>() + x.numel(), x.data<float>());
  std::copy(probe.data<float>(), probe.data<float>() + dy.numel(), dy.data<float>());
  nn::Generator gen(5), same(5);
  nn::Attention attention(H, 0.3, gen);
  nn::Dropout mask_maker(0.3, same);
  const Tensor o = attention.forward(x);
  const Tensor dx = attention.backward(dy);
  Tensor ones = Tensor::zeros({N, H, T, T});
  std::fill(ones.data<float>(), ones.data<float>() + ones.numel(), 1.0f);
  const Tensor mask = mask_maker.forward(ones);
  const std::vector<double> keep(mask.data<float>(), mask.data<float>() + mask.numel());
  std::int64_t dropped = 0;
  for (const double k : keep) dropped += k == 0.0;
  ASSERT_GT(dropped, 0);
  ASSERT_LT(dropped, static_cast<std::int64_t>(keep.size()));
  std::vector<double> xd(x.data<float>(), x.data<float>() + x.numel()), pd(dy.data<float>(), dy.data<float>() + dy.numel());
  const std::vector<double> want = attention_in_double(xd, N, T, D, H, nullptr, &keep);
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(o.data<float>()[i], want[i], 1e-5) << i;
  const auto loss = [&] { return probe_loss(pd, attention_in_double(xd, N, T, D, H, nullptr, &keep)); };
  for (std::size_t i = 0; i < xd.size(); ++i)
    EXPECT_NEAR(dx.data<float>()[i], central_difference(xd, i, loss), 1e-4) << "d qkv " << i;

  attention.eval();
  nn::Attention plain(H);
  EXPECT_EQ(values(attention.forward(x)), values(plain.forward(x)));
  EXPECT_EQ(values(attention.backward(dy)), values(plain.backward(dy)));
  EXPECT_THROW(nn::Attention(H, 1.0, gen), Error);
}

TEST(Attention, SameBitsForAnyThreadCount) {
  const std::int64_t N = 35, T = 9, D = 16;
  const Tensor flat = matrix(N * T, 3 * D, 3), gflat = matrix(N * T, D, 4);
  const Tensor x({N, T, 3 * D}), dy({N, T, D});
  std::copy(flat.data<float>(), flat.data<float>() + x.numel(), x.data<float>());
  std::copy(gflat.data<float>(), gflat.data<float>() + dy.numel(), dy.data<float>());
  const int before = num_threads();
  std::vector<float> runs[2][2];
  for (const int threads : {1, 2}) {
    set_num_threads(threads);
    nn::Attention attention(4);
    runs[threads - 1][0] = values(attention.forward(x));
    runs[threads - 1][1] = values(attention.backward(dy));
  }
  set_num_threads(before);
  EXPECT_TRUE(same_bits(runs[0][0], runs[1][0]));
  EXPECT_TRUE(same_bits(runs[0][1], runs[1][1]));
}

}  // namespace
}  // namespace normkit::test
