// LayerNorm and RMSNorm: fast against reference over shapes, layouts and
// affine modes; the references against finite differences; errors.
#include <bit>

#include "kernels/ref/layer_norm_ref.hpp"
#include "normkit/layer_norm.hpp"
#include "test_util.hpp"

namespace normkit::test {
namespace {

class LayerNorm : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, LayerNorm, every_simd_path(), simd_path_param_name);
class RMSNorm : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, RMSNorm, every_simd_path(), simd_path_param_name);

struct RowCase {
  Shape shape;
  Shape normalized_shape;
  TestLayout layout = TestLayout::contiguous;
  bool weight = true, bias = true;
  float mean = 0.5f, stddev = 2.0f;
  std::uint64_t seed = 1;
  std::string name() const {
    return shape_string(shape) + " over " + shape_string(normalized_shape) + " " + layout_name(layout) +
           (weight ? " weight" : "") + (bias ? " bias" : "");
  }
};

std::vector<RowCase> row_cases() {
  std::vector<RowCase> cases;
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{1, 1}, {1}},         {{3, 5}, {5}},          {{7, 127}, {127}},   {{2, 4097}, {4097}},
      {{4, 3, 8}, {8}},      {{2, 3, 4, 5}, {4, 5}}, {{2, 3, 4, 5}, {3, 4, 5}}, {{16, 768}, {768}},
      {{5, 1, 3}, {1, 3}},
  };
  std::uint64_t seed = 10;
  for (const auto& [shape, normalized] : shapes)
    for (TestLayout layout : {TestLayout::contiguous, TestLayout::permuted, TestLayout::strided})
      for (int affine = 0; affine < 3; ++affine)
        cases.push_back({shape, normalized, layout, affine != 2, affine == 0, 0.5f, 2.0f, ++seed});
  return cases;
}

Tensor param(const Shape& shape, std::uint64_t seed, float mean) {
  Tensor t(shape);
  const std::vector<float> v = normal_values(static_cast<std::size_t>(t.numel()), seed, mean, 0.5f);
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float e : v) m = std::max<double>(m, std::fabs(e));
  return m;
}

// dx is a sum of cancelling terms (for one column it is nearly zero): it is
// held to the size of those terms, max|dy| * max|weight| * max(rstd).
double dx_term_scale(const TestTensor& dy, const Tensor& w, const Tensor& rstd) {
  return max_abs(values(dy.view)) * (w.defined() ? max_abs(values(w)) : 1.0) * max_abs(values(rstd));
}

void expect_layer_norm_matches_reference(const RowCase& c) {
  SCOPED_TRACE(c.name());
  const TestTensor x = random_tensor(c.shape, c.layout, c.seed, c.mean, c.stddev);
  const TestTensor dy = random_tensor(c.shape, c.layout, c.seed + 1);
  const Tensor w = c.weight ? param(c.normalized_shape, c.seed + 2, 1.0f) : Tensor();
  const Tensor b = c.bias ? param(c.normalized_shape, c.seed + 3, 0.0f) : Tensor();
  LayerNormForwardResult f[2];
  LayerNormBackwardResult g[2];
  for (Impl impl : {Impl::fast, Impl::reference}) {
    const int i = impl == Impl::fast ? 0 : 1;
    f[i] = layer_norm_forward({x.view, c.normalized_shape, w, b}, {.impl = impl});
    g[i] = layer_norm_backward({dy.view, x.view, c.normalized_shape, f[0].mean, f[0].rstd, w},
                               {.impl = impl}, c.weight, c.bias);
  }
  EXPECT_TRUE(all_close(values(f[0].y), values(f[1].y)));
  EXPECT_TRUE(all_close(values(f[0].mean), values(f[1].mean)));
  EXPECT_TRUE(all_close(values(f[0].rstd), values(f[1].rstd)));
  EXPECT_TRUE(all_close(values(g[0].dx), values(g[1].dx), 1e-5, dx_term_scale(dy, w, f[0].rstd)));
  if (c.weight) EXPECT_TRUE(all_close(values(g[0].dweight), values(g[1].dweight)));
  if (c.bias) EXPECT_TRUE(all_close(values(g[0].dbias), values(g[1].dbias)));
}

TEST_P(LayerNorm, FastMatchesReference) {
  for (const RowCase& c : row_cases()) expect_layer_norm_matches_reference(c);
}

// The backward writes dx and accumulates the parameter gradients' column
// sums in one pass when both are asked for: each gives the bits of the
// passes that compute it alone (dx without the parameter gradients, and the
// parameter gradients without dx), for LayerNorm and RMSNorm, with row tails.
TEST_P(LayerNorm, OnePassBackwardGivesTheBitsOfSeparatePasses) {
  const Shape shape{130, 771}, cols{771};
  const Tensor x = random_tensor(shape, TestLayout::contiguous, 11, 0.5f, 2.0f).storage;
  const Tensor dy = random_tensor(shape, TestLayout::contiguous, 12).storage;
  const Tensor w = random_tensor(cols, TestLayout::contiguous, 13, 1.0f, 0.5f).storage;
  const Tensor b = random_tensor(cols, TestLayout::contiguous, 14).storage;
  const LayerNormForwardResult f = layer_norm_forward({x, cols, w, b});
  const LayerNormBackwardResult both = layer_norm_backward({dy, x, cols, f.mean, f.rstd, w}, {}, true, true);
  Tensor dx_alone(shape), dw_alone(cols), db_alone(cols);
  layer_norm_backward({dy, x, cols, f.mean, f.rstd, w}, {}, {dx_alone, {}, {}});
  layer_norm_backward({dy, x, cols, f.mean, f.rstd, w}, {}, {{}, dw_alone, db_alone});
  EXPECT_TRUE(same_bits(values(both.dx), values(dx_alone)));
  EXPECT_TRUE(same_bits(values(both.dweight), values(dw_alone)));
  EXPECT_TRUE(same_bits(values(both.dbias), values(db_alone)));

  const RMSNormForwardResult rf = rms_norm_forward({x, cols, w});
  const RMSNormBackwardResult rboth = rms_norm_backward({dy, x, cols, rf.rstd, w});
  Tensor rdx_alone(shape), rdw_alone(cols);
  rms_norm_backward({dy, x, cols, rf.rstd, w}, {}, {rdx_alone, {}});
  rms_norm_backward({dy, x, cols, rf.rstd, w}, {}, {{}, rdw_alone});
  EXPECT_TRUE(same_bits(values(rboth.dx), values(rdx_alone)));
  EXPECT_TRUE(same_bits(values(rboth.dweight), values(rdw_alone)));
}

// The weight and bias gradients into any float32 view: a strided one gets
// the bits of a contiguous one. One block of rows (3: its float column sums
// go to a contiguous gradient directly) and several (130: merged in double
// first), on one thread and two.
TEST_P(LayerNorm, ParameterGradientsHaveTheSameBitsInEveryView) {
  const auto bits = [](float v) { return std::bit_cast<std::uint32_t>(v); };
  const int before = num_threads();
  for (const std::int64_t rows : {3, 130}) {
    for (const int threads : {1, 2}) {
      SCOPED_TRACE(testing::Message() << rows << " rows, " << threads << " threads");
      set_num_threads(threads);
      const Shape shape{rows, 771}, cols{771};
      const Tensor x = random_tensor(shape, TestLayout::contiguous, 21, 0.5f, 2.0f).storage;
      const Tensor dy = random_tensor(shape, TestLayout::contiguous, 22).storage;
      const Tensor w = random_tensor(cols, TestLayout::contiguous, 23, 1.0f, 0.5f).storage;
      const LayerNormForwardResult f = layer_norm_forward({x, cols, w, Tensor()});
      const LayerNormBackwardInputs in{dy, x, cols, f.mean, f.rstd, w};
      Tensor dw(cols), db(cols);
      layer_norm_backward(in, {}, {{}, dw, db});
      Tensor spaced(Shape{771, 2});  // each gradient every other element of a buffer
      const TensorView dw_strided(spaced.data<float>(), cols, Strides{2}, DType::float32);
      const TensorView db_strided(spaced.data<float>() + 1, cols, Strides{2}, DType::float32);
      layer_norm_backward(in, {}, {{}, dw_strided, db_strided});
      for (std::int64_t d = 0; d < 771; ++d) {
        ASSERT_EQ(bits(spaced.data<float>()[2 * d]), bits(dw.data<float>()[d])) << d;
        ASSERT_EQ(bits(spaced.data<float>()[2 * d + 1]), bits(db.data<float>()[d])) << d;
      }
      const RMSNormForwardResult rf = rms_norm_forward({x, cols, w});
      Tensor rdw(cols);
      rms_norm_backward({dy, x, cols, rf.rstd, w}, {}, {{}, rdw});
      rms_norm_backward({dy, x, cols, rf.rstd, w}, {}, {{}, dw_strided});
      for (std::int64_t d = 0; d < 771; ++d)
        ASSERT_EQ(bits(spaced.data<float>()[2 * d]), bits(rdw.data<float>()[d])) << d;
    }
  }
  set_num_threads(before);
}

TEST_P(LayerNorm, AccurateAtLargeMean) {
  expect_layer_norm_matches_reference({{64, 1024}, {1024}, TestLayout::contiguous, true, true, 1e4f, 1.0f, 3});
}

void expect_rms_norm_matches_reference(const RowCase& c) {
  SCOPED_TRACE(c.name());
  const TestTensor x = random_tensor(c.shape, c.layout, c.seed, c.mean, c.stddev);
  const TestTensor dy = random_tensor(c.shape, c.layout, c.seed + 1);
  const Tensor w = c.weight ? param(c.normalized_shape, c.seed + 2, 1.0f) : Tensor();
  RMSNormForwardResult f[2];
  RMSNormBackwardResult g[2];
  for (Impl impl : {Impl::fast, Impl::reference}) {
    const int i = impl == Impl::fast ? 0 : 1;
    f[i] = rms_norm_forward({x.view, c.normalized_shape, w}, {.impl = impl});
    g[i] = rms_norm_backward({dy.view, x.view, c.normalized_shape, f[0].rstd, w}, {.impl = impl});
  }
  EXPECT_TRUE(all_close(values(f[0].y), values(f[1].y)));
  EXPECT_TRUE(all_close(values(f[0].rstd), values(f[1].rstd)));
  EXPECT_TRUE(all_close(values(g[0].dx), values(g[1].dx), 1e-5, dx_term_scale(dy, w, f[0].rstd)));
  if (c.weight) EXPECT_TRUE(all_close(values(g[0].dweight), values(g[1].dweight)));
}

TEST_P(RMSNorm, FastMatchesReference) {
  for (const RowCase& c : row_cases()) expect_rms_norm_matches_reference(c);
}

// The forward reads rows in groups (four at once, a shorter last group one
// by one) and every row must still get the bits it gets in a call of its
// own: LayerNorm's y, mean and rstd and RMSNorm's y and rstd, float32 and
// bfloat16, row counts that leave every kind of last group, rows short and
// long.
void expect_rows_get_their_own_bits(bool rms) {
  for (const DType dtype : {DType::float32, DType::bfloat16})
    for (const std::int64_t n : {5, 127, 256, 300, 512, 768})
      for (const std::int64_t rows : {1, 4, 7, 8, 13, 19, 32}) {
        SCOPED_TRACE(testing::Message() << dtype_name(dtype) << " " << rows << "x" << n);
        const Tensor x32 = param({rows, n}, 40 + static_cast<std::uint64_t>(n + rows), 3.0f);
        Tensor x({rows, n}, dtype);
        copy_into(x32, x);
        const Tensor w = param({n}, 7, 1.0f), b = param({n}, 8, 0.0f);
        const std::int64_t size = static_cast<std::int64_t>(dtype_size(dtype));
        const std::size_t stat_bytes = static_cast<std::size_t>(rows) * sizeof(float);
        Tensor y({rows, n}, dtype), mean({rows, 1}), rstd({rows, 1});
        Tensor y1({rows, n}, dtype), mean1({rows, 1}), rstd1({rows, 1});
        // Row r of a (rows, n) matrix of x's dtype, and of a (rows, 1) statistic.
        const auto row = [&](const Tensor& t, std::int64_t r) {
          return TensorView(static_cast<std::byte*>(t.view().raw()) + r * n * size, {1, n}, {n, 1}, dtype);
        };
        const auto stat = [](const Tensor& t, std::int64_t r) { return TensorView(t.data<float>() + r, {1, 1}); };
        if (rms) {
          rms_norm_forward({x, {n}, w}, {}, {y, rstd});
          for (std::int64_t r = 0; r < rows; ++r)
            rms_norm_forward({row(x, r), {n}, w}, {}, {row(y1, r), stat(rstd1, r)});
        } else {
          layer_norm_forward({x, {n}, w, b}, {}, {y, mean, rstd});
          for (std::int64_t r = 0; r < rows; ++r)
            layer_norm_forward({row(x, r), {n}, w, b}, {}, {row(y1, r), stat(mean1, r), stat(rstd1, r)});
          EXPECT_EQ(std::memcmp(mean.view().raw(), mean1.view().raw(), stat_bytes), 0);
        }
        EXPECT_EQ(std::memcmp(rstd.view().raw(), rstd1.view().raw(), stat_bytes), 0);
        EXPECT_EQ(std::memcmp(y.view().raw(), y1.view().raw(), static_cast<std::size_t>(rows * n * size)), 0);
      }
}

TEST_P(LayerNorm, EveryRowGetsTheBitsOfItsOwnCall) { expect_rows_get_their_own_bits(false); }
TEST_P(RMSNorm, EveryRowGetsTheBitsOfItsOwnCall) { expect_rows_get_their_own_bits(true); }

TEST_P(RMSNorm, DefaultEpsIsFloatEpsilon) {
  Tensor x = Tensor::full({2, 3}, 0.0f);
  RMSNormForwardResult r = rms_norm_forward({x, {3}, {}});
  EXPECT_FLOAT_EQ(r.rstd.data<float>()[0], static_cast<float>(1.0 / std::sqrt(1.1920928955078125e-07)));
  EXPECT_EQ(r.rstd.shape(), (Shape{2, 1}));
}

TEST_P(LayerNorm, ReferenceMatchesFiniteDifferences) {
  const ref::RowNormProblem p{3, 5};
  std::vector<double> x = normal_values<double>(15, 1, 1.0, 2.0), w = normal_values<double>(5, 2, 1.0, 0.3),
                      b = normal_values<double>(5, 3), probe = normal_values<double>(15, 4);
  auto loss = [&] { return probe_loss(probe, ref::layer_norm_forward(p, x, w, b, 1e-5).y); };
  const ref::LayerNormForwardResult f = ref::layer_norm_forward(p, x, w, b, 1e-5);
  const ref::LayerNormBackwardResult g = ref::layer_norm_backward(p, probe, x, f.mean, f.rstd, w);
  for (std::size_t i = 0; i < 15; ++i) EXPECT_NEAR(g.dx[i], central_difference(x, i, loss), 1e-6);
  for (std::size_t j = 0; j < 5; ++j) {
    EXPECT_NEAR(g.dweight[j], central_difference(w, j, loss), 1e-6);
    EXPECT_NEAR(g.dbias[j], central_difference(b, j, loss), 1e-6);
  }
}

TEST_P(RMSNorm, ReferenceMatchesFiniteDifferences) {
  const ref::RowNormProblem p{3, 5};
  std::vector<double> x = normal_values<double>(15, 5, 1.0, 2.0), w = normal_values<double>(5, 6, 1.0, 0.3),
                      probe = normal_values<double>(15, 7);
  auto loss = [&] { return probe_loss(probe, ref::rms_norm_forward(p, x, w, 1e-5).y); };
  const ref::RMSNormForwardResult f = ref::rms_norm_forward(p, x, w, 1e-5);
  const ref::RMSNormBackwardResult g = ref::rms_norm_backward(p, probe, x, f.rstd, w);
  for (std::size_t i = 0; i < 15; ++i) EXPECT_NEAR(g.dx[i], central_difference(x, i, loss), 1e-6);
  for (std::size_t j = 0; j < 5; ++j) EXPECT_NEAR(g.dweight[j], central_difference(w, j, loss), 1e-6);
}

TEST_P(LayerNorm, ErrorsNameTheArgumentAndWriteNothing) {
  Tensor x({2, 6, 5}), w({4}), y = Tensor::full({2, 6, 5}, 7.0f), mean({2, 6, 1}), rstd({2, 6, 1});
  try {
    layer_norm_forward({x, {4}, {}, {}}, {}, {y, mean, rstd});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("normalized_shape: given normalized_shape=(4,), expected input "
                                         "with shape (*, 4), but got input of shape (2, 6, 5)"),
              std::string::npos) << e.what();
  }
  EXPECT_THROW(layer_norm_forward({x, {5}, w, {}}, {}, {y, mean, rstd}), Error);     // weight shape
  EXPECT_THROW(layer_norm_forward({x, {5}, {}, {}}, {.eps = 0}, {y, mean, rstd}), Error);
  EXPECT_THROW(layer_norm_forward({x, {}, {}, {}}, {}, {y, mean, rstd}), Error);      // empty shape
  EXPECT_THROW(layer_norm_forward({x, {5}, {}, {}}, {}, {y, Tensor({2, 6}), rstd}), Error);
  EXPECT_EQ(values(y), std::vector<float>(60, 7.0f));
  EXPECT_THROW(rms_norm_forward({x, {6, 4}, {}}), Error);
  EXPECT_THROW(rms_norm_forward({x, {5}, {}}, {.eps = -1.0}), Error);
  EXPECT_THROW(layer_norm_backward({Tensor({2, 6, 4}), x, {5}, mean, rstd, {}}, {}, false, false), Error);
}

}  // namespace
}  // namespace normkit::test
