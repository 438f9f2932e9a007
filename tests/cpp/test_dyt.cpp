// DyT (normkit/dyt.hpp): its tanh against double precision on every SIMD path
// and the same bits on every path; the reference's gradients against central
// differences; the fast path's bits for any thread count and its 16-bit
// storage; its errors. (The listed-case sweep holds the fast path against the
// reference, forward and backward, on every path and layout.)
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/ref/dyt_ref.hpp"
#include "normkit/dyt.hpp"
#include "normkit/threading.hpp"
#include "test_util.hpp"

namespace normkit::test {
namespace {

class DyT : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, DyT, every_simd_path(), simd_path_param_name);

Tensor filled(const Shape& shape, const std::vector<float>& values) {
  Tensor t(shape);
  std::copy(values.begin(), values.end(), t.data<float>());
  return t;
}

Tensor random(const Shape& shape, std::uint64_t seed, float mean, float stddev) {
  return filled(shape, normal_values<float>(static_cast<std::size_t>(shape_numel(shape)), seed, mean, stddev));
}

// Distance in units in the last place between two finite floats.
std::int64_t ulps(float a, float b) {
  std::int32_t i, j;
  std::memcpy(&i, &a, 4);
  std::memcpy(&j, &b, 4);
  const std::int64_t u = i < 0 ? std::int64_t{INT32_MIN} - i : i, v = j < 0 ? std::int64_t{INT32_MIN} - j : j;
  return u > v ? u - v : v - u;
}

// With alpha 1 and no affine, y is tanh(x): within 2 ulp of tanh in double
// rounded to float, over a sweep of every float pattern (one in 4093), with
// tanh's special values exact: +-0 kept, +-inf to +-1, NaN to NaN.
TEST_P(DyT, TanhIsWithinTwoUlpOfTheRoundedDouble) {
  std::vector<float> x;
  for (std::uint64_t bits = 0; bits < (std::uint64_t{1} << 32); bits += 4093) {
    const auto u = static_cast<std::uint32_t>(bits);
    float v;
    std::memcpy(&v, &u, 4);
    x.push_back(v);
  }
  const float specials[] = {0.0f, -0.0f, std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), 0.625f, -0.625f, 44.0f, 9.0f, 1e-30f};
  x.insert(x.end(), std::begin(specials), std::end(specials));
  const Tensor in = filled({static_cast<std::int64_t>(x.size())}, x);
  const Tensor alpha = filled({1}, {1.0f});
  const Tensor y = dyt_forward({in, alpha, {}, {}});
  std::int64_t worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float got = y.data<float>()[i];
    if (std::isnan(x[i])) {
      EXPECT_TRUE(std::isnan(got)) << "x=" << x[i];
      continue;
    }
    const auto want = static_cast<float>(std::tanh(static_cast<double>(x[i])));
    worst = std::max(worst, ulps(got, want));
    ASSERT_LE(ulps(got, want), 2) << "x=" << x[i] << " got " << got << " want " << want;
    if (x[i] == 0) EXPECT_EQ(std::signbit(got), std::signbit(x[i]));
  }
  EXPECT_LE(worst, 2);
}

// Every path gives the portable path's bits, forward and backward.
TEST(DyTPaths, EveryPathGivesThePortableBits) {
  const Tensor x = random({67, 45}, 1, 0.3f, 2.5f), dy = random({67, 45}, 2, 0.0f, 1.0f);
  const Tensor alpha = filled({1}, {0.7f}), w = random({45}, 3, 1.0f, 0.5f), b = random({45}, 4, 0.0f, 0.5f);
  std::vector<std::vector<float>> first;
  for (const SimdPath path : simd_paths()) {
    const ScopedSimdPath scoped(path);
    const Tensor y = dyt_forward({x, alpha, w, b});
    const DyTBackwardResult g = dyt_backward({dy, x, alpha, w});
    const std::vector<std::vector<float>> got{values(y), values(g.dx), values(g.dalpha), values(g.dweight),
                                              values(g.dbias)};
    if (first.empty()) first = got;
    for (std::size_t i = 0; i < got.size(); ++i)
      EXPECT_TRUE(same_bits(got[i], first[i])) << simd_path_name(path) << " result " << i;
  }
}

// The reference's gradients against central differences of
// L = sum(probe * y) in double.
TEST(DyTReference, GradientsMatchCentralDifferences) {
  const std::int64_t rows = 3, cols = 5;
  std::vector<double> x(rows * cols), probe(rows * cols), w(cols), b(cols);
  const std::vector<float> xs = normal_values<float>(x.size(), 11, 0.2f, 1.5f),
                           ps = normal_values<float>(x.size(), 12, 0.0f, 1.0f),
                           ws = normal_values<float>(w.size(), 13, 1.0f, 0.4f),
                           bs = normal_values<float>(b.size(), 14, 0.0f, 0.4f);
  std::copy(xs.begin(), xs.end(), x.begin());
  std::copy(ps.begin(), ps.end(), probe.begin());
  std::copy(ws.begin(), ws.end(), w.begin());
  std::copy(bs.begin(), bs.end(), b.begin());
  double alpha = 0.8;
  const auto loss = [&] { return probe_loss(probe, ref::dyt_forward(rows, cols, x, alpha, w, b)); };
  const ref::DyTBackwardResult g = ref::dyt_backward(rows, cols, probe, x, alpha, w);
  for (std::size_t i = 0; i < x.size(); ++i)
    EXPECT_NEAR(g.dx[i], central_difference(x, i, loss), 1e-6) << "dx " << i;
  EXPECT_NEAR(g.dalpha, central_difference(alpha, 1e-6, loss), 1e-6);
  for (std::size_t c = 0; c < w.size(); ++c) {
    EXPECT_NEAR(g.dweight[c], central_difference(w, c, loss), 1e-6) << "dweight " << c;
    EXPECT_NEAR(g.dbias[c], central_difference(b, c, loss), 1e-6) << "dbias " << c;
  }
}

// The same bits on 1 and 2 threads: dalpha over every element, dweight and
// dbias over 64-row blocks (rows past several blocks).
TEST_P(DyT, SameBitsForAnyThreadCount) {
  const int before = num_threads();
  const Tensor x = random({300, 257}, 21, 0.1f, 2.0f), dy = random({300, 257}, 22, 0.0f, 1.0f);
  const Tensor alpha = filled(Shape{}, {0.5f}), w = random({257}, 23, 1.0f, 0.5f), b = random({257}, 24, 0.0f, 0.5f);
  std::vector<std::vector<float>> by_threads[2];
  for (const int threads : {1, 2}) {
    set_num_threads(threads);
    const Tensor y = dyt_forward({x, alpha, w, b});
    const DyTBackwardResult g = dyt_backward({dy, x, alpha, w});
    by_threads[threads - 1] = {values(y), values(g.dx), values(g.dalpha), values(g.dweight), values(g.dbias)};
  }
  set_num_threads(before);
  for (std::size_t i = 0; i < by_threads[0].size(); ++i)
    EXPECT_TRUE(same_bits(by_threads[0][i], by_threads[1][i])) << "result " << i;
  EXPECT_EQ(by_threads[0][2].size(), 1u);  // dalpha has alpha's shape ()
}

// 16-bit x: y and dx are the float32 path's values on the widened x and dy,
// rounded once; the gradients of the parameters are float32.
TEST_P(DyT, SixteenBitStorageIsTheFloat32PathRoundedOnce) {
  for (const DType dtype : {DType::bfloat16, DType::float16}) {
    const Tensor x32 = random({70, 33}, 31, 0.2f, 1.5f), dy32 = random({70, 33}, 32, 0.0f, 1.0f);
    Tensor x(x32.shape(), dtype), dy(dy32.shape(), dtype);
    copy_into(x32, x);
    copy_into(dy32, dy);
    Tensor xw(x.shape()), dyw(dy.shape());  // the 16-bit values, widened
    copy_into(x, xw);
    copy_into(dy, dyw);
    const Tensor alpha = filled({1}, {0.6f}), w = random({33}, 33, 1.0f, 0.5f), b = random({33}, 34, 0.0f, 0.5f);
    const Tensor y = dyt_forward({x, alpha, w, b}), y32 = dyt_forward({xw, alpha, w, b});
    Tensor y_rounded(y32.shape(), dtype);
    copy_into(y32, y_rounded);
    EXPECT_EQ(y.dtype(), dtype);
    EXPECT_TRUE(same_bits(values(y), values(y_rounded))) << dtype_name(dtype);
    const DyTBackwardResult g = dyt_backward({dy, x, alpha, w}), g32 = dyt_backward({dyw, xw, alpha, w});
    Tensor dx_rounded(g32.dx.shape(), dtype);
    copy_into(g32.dx, dx_rounded);
    EXPECT_TRUE(same_bits(values(g.dx), values(dx_rounded))) << dtype_name(dtype);
    EXPECT_TRUE(same_bits(values(g.dalpha), values(g32.dalpha)));
    EXPECT_TRUE(same_bits(values(g.dweight), values(g32.dweight)));
    EXPECT_TRUE(same_bits(values(g.dbias), values(g32.dbias)));
  }
}

TEST(DyTErrors, NameTheArgument) {
  const Tensor x({4, 3}), alpha({1}), w({3});
  EXPECT_EQ(error_of([&] { dyt_forward({Tensor(Shape{}), alpha, {}, {}}); }),
            "x: expected at least one dimension (the features are the last), got a scalar");
  EXPECT_EQ(error_of([&] { dyt_forward({x, Tensor({2}), {}, {}}); }),
            "alpha: expected a float32 tensor of one element, shape (1,) or (), got float32 of shape (2,)");
  EXPECT_EQ(error_of([&] { dyt_forward({x, {}, {}, {}}); }),
            "alpha: expected a float32 tensor of one element, got none");
  EXPECT_EQ(error_of([&] { dyt_forward({x, alpha, Tensor({4}), {}}); }), "weight: expected shape (3,), got (4,)");
  EXPECT_EQ(error_of([&] { dyt_backward({Tensor({4, 2}), x, alpha, w}); }),
            "dy: expected shape (4, 3), got (4, 2)");
  const Tensor dx({4, 3}), dalpha({1}), dweight({3}), dbias({3});
  EXPECT_EQ(error_of([&] { dyt_backward({x, x, alpha, {}}, {}, {dx, dalpha, dweight, dbias}); }),
            "dweight: expected none when there is no weight");
  // Nothing written by a refused call.
  Tensor y({4, 3});
  std::fill(y.data<float>(), y.data<float>() + 12, 7.0f);
  EXPECT_FALSE(error_of([&] { dyt_forward({x, alpha, Tensor({4}), {}}, {}, y); }).empty());
  for (int i = 0; i < 12; ++i) EXPECT_EQ(y.data<float>()[i], 7.0f);
}

}  // namespace
}  // namespace normkit::test
